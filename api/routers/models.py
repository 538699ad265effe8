"""Model routes: list, create, read (JSON or markdown card), patch metadata, archive.

Decisions where the spec is silent:
- Without `namespace`, the list is the catalog (the first public namespace), for every key; with no
  public namespace configured it is empty. A `namespace` the key cannot read gives an empty page,
  not a 404 — the answer is the same whether or not the namespace exists. A `namespace` that breaks
  the namespace grammar is a 422 `validation_error`. `kind` filters exactly (unknown kinds match nothing).
- Writes to an archived model (PATCH, trait and sample edits) → 409 `model_archived`; reads still work
  and show state `archived`. DELETE of an archived model is the idempotent 200.
- Metadata PATCH is allowed in draft, ready and failed; a null sent for a non-nullable field
  (description, scoring_method, max_depth, zero_data_retention, retrain_gate) leaves it unchanged, a
  null for a nullable one (additional_terms, upstream_sources, readme_markdown,
  version_retention_policy) clears it. A partial `version_retention_policy` is completed with the defaults and stored whole.
- Check order on writes: handle grammar (422), readable (404), owner with authoring scope (403),
  state (409), then the content of the request (404/422).
"""

from __future__ import annotations

from collections.abc import Collection

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import KeyDep, SessionDep, TemporalDep
from api.errors import ApiError, model_archived, validation_error
from api.lookup import load_model, load_model_for_write, parse_handle
from api.negotiation import prefers_over_json
from api.pagination import decode_cursor, page
from api.score_jobs import cancel_open_jobs
from api.schemas.models import (
    CreateModelRequest,
    DeleteResponse,
    ModelDetail,
    ModelPage,
    ModelStateName,
    UpdateModelRequest,
)
from api.views import model_detail, model_details
from contracts.states import DRAFT_ONLY, ModelState
from domain.handles import NAMESPACE_RE
from store import catalog
from store.tables import Model

router = APIRouter(tags=["models"])

SUPPORTED_KINDS = ("scoring",)
NON_NULLABLE_PATCH_FIELDS = ("description", "scoring_method", "max_depth", "zero_data_retention", "retrain_gate")


def conflict_for_state(state: str, *, draft_only: bool) -> ApiError:
    if state == ModelState.ARCHIVED:
        return model_archived()
    if state == ModelState.BUSY:
        return ApiError(409, "model_busy", "An operation is running on this model; retry once it has finished.")
    if state == "missing":
        return ApiError(404, "not_found", "No such model.")
    if draft_only:
        return ApiError(409, "not_draft", f"Traits and samples can only change while the model is a draft "
                                          f"(it is {state}).", {"state": state})
    return ApiError(409, "model_busy", f"The model cannot be changed in state {state}.", {"state": state})


async def begin_edit(session: AsyncSession, model: Model, *, draft_only: bool) -> None:
    """Starts the write transaction by claiming the model row in an editable state, or raises 409.

    The read snapshot is closed first: on SQLite a transaction that read before another connection
    wrote cannot be upgraded to a write, and on PostgreSQL the claim must see the committed state.
    """
    await session.commit()
    allowed: Collection[str] = DRAFT_ONLY if draft_only else catalog.EDITABLE_STATES
    refused = await catalog.claim_for_edit(session, model.id, allowed)
    if refused is not None:
        await session.rollback()
        raise conflict_for_state(refused, draft_only=draft_only)


@router.get("/models", response_model=ModelPage, summary="Page through readable models, sorted by handle")
async def list_models(
    principal: KeyDep,
    session: SessionDep,
    temporal: TemporalDep,
    request: Request,
    limit: int = Query(50, ge=1, le=250, description="Page size, 1 to 250."),
    cursor: str | None = Query(None, description="`next_cursor` from the previous page."),
    namespace: str | None = Query(None, description="Namespace to list; the public catalog when left out."),
    state: ModelStateName | None = Query(None, description="Only models in this state; archived ones appear only here."),
    # No NUL: PostgreSQL cannot compare text holding it (a 500), so it is a 422 here as on SQLite.
    kind: str | None = Query(None, pattern=r"^[^\x00]*$", description="Only models of this kind."),
) -> dict:
    if namespace is not None and not NAMESPACE_RE.fullmatch(namespace):
        raise validation_error("That is not a valid namespace name.", {"namespace": namespace[:100]})
    after = decode_cursor(cursor, str)
    target = namespace if namespace is not None else request.app.state.settings.catalog_namespace
    namespaces = [target] if target is not None and principal.can_read(target) else []
    rows = await catalog.list_models(session, namespaces, state=state, kind=kind, after_handle=after, limit=limit)
    result = page(rows, limit, lambda model: model.handle)
    result["items"] = await model_details(session, temporal, result["items"])
    return result


@router.post("/models", status_code=201, response_model=ModelDetail, summary="Create a draft model")
async def create_model(body: CreateModelRequest, principal: KeyDep, session: SessionDep,
                       temporal: TemporalDep) -> dict:
    handle = parse_handle(body.handle)
    if body.kind not in SUPPORTED_KINDS:
        raise ApiError(422, "unsupported_kind", "Only models of kind 'scoring' can be created.",
                       {"kind": body.kind[:100], "supported": list(SUPPORTED_KINDS)})
    principal.require_author(handle.namespace)
    taken = ApiError(409, "handle_taken", "That handle belongs to another model (archived ones keep theirs).",
                     {"handle": handle.full})
    if await catalog.handle_in_use(session, handle.full):
        raise taken
    await session.commit()  # the insert below starts its own transaction; a racing create gets 409 from it
    fields = body.model_dump(exclude={"handle"})
    try:
        model = await catalog.insert_model(session, handle=handle.full, namespace=handle.namespace,
                                           name=handle.name, **fields)
    except catalog.HandleTaken:
        raise taken from None
    await session.commit()
    return await model_detail(session, temporal, model)


@router.get(
    "/models/{handle}",
    response_model=ModelDetail,
    summary="Read one model, or its card as markdown",
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
)
async def get_model(handle: str, principal: KeyDep, session: SessionDep, temporal: TemporalDep,
                    request: Request):
    model = await load_model(session, principal, handle)
    if prefers_over_json(request.headers.get("accept", ""), "text/markdown"):
        from api.model_card import render_model_card  # written alongside; imported only when asked

        card = await render_model_card(session, model)
        return Response(card, media_type="text/markdown; charset=utf-8")
    return await model_detail(session, temporal, model)


@router.patch("/models/{handle}", response_model=ModelDetail, summary="Change a model's metadata")
async def update_model(handle: str, body: UpdateModelRequest, principal: KeyDep, session: SessionDep,
                       temporal: TemporalDep) -> dict:
    model = await load_model_for_write(session, principal, handle)
    # Nested objects are dumped whole, so a partial retention policy is stored with its defaults filled in.
    everything = body.model_dump()
    changes = {name: everything[name] for name in body.model_fields_set}
    for name in NON_NULLABLE_PATCH_FIELDS:
        if changes.get(name, ...) is None:
            del changes[name]
    await begin_edit(session, model, draft_only=False)
    for name, value in changes.items():
        setattr(model, name, value)
    if changes.get("zero_data_retention") is True:
        # Same transaction as the flag: there is no moment where ZDR is on and samples remain.
        await catalog.purge_samples(session, model.id)
    await session.flush()
    await session.commit()
    return await model_detail(session, temporal, model)


@router.delete("/models/{handle}", response_model=DeleteResponse, summary="Archive a model")
async def archive_model(handle: str, principal: KeyDep, session: SessionDep, temporal: TemporalDep) -> dict:
    model = await load_model_for_write(session, principal, handle)
    await session.commit()
    refused = await catalog.archive_model(session, model.id)
    if refused is not None:
        await session.rollback()
        raise conflict_for_state(refused, draft_only=False)
    await session.commit()
    await cancel_open_jobs(session, temporal, model.id)  # an archived model scores nothing more
    return {"handle": model.handle, "deleted": True}
