"""Versions: list, fetch, tag, untag and activate (SPEC §1.6).

Decisions (SPEC is silent):
- Activation is allowed while the model is ``busy``: it only re-points the served version and
  does not touch the definition a running operation reads. A running explicit train still
  activates its own result when it finishes (and clears the pin), as SPEC §1.6 says.
- Tagging, untagging and activation on an archived model answer ``409 model_archived``; reading
  its versions still works for the owner.
- ``GET …/versions/{v}``: ``vN`` is a version number, anything else a tag; unknown → 404.
- A version's ``tags`` are sorted by name.
- ``version`` in an activation must be written ``vN`` (else ``422 validation_error``); an unknown
  version or tag is ``404``.
"""

from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from activities.webhooks import version_activated_event
from api.deps import KeyDep, SessionDep, TemporalDep
from api.events import publish_event
from api.errors import ApiError, model_archived, not_found, validation_error
from api.lookup import load_model, load_model_for_write, parse_handle
from api.pagination import decode_cursor, page
from api.schemas.versions import (VersionActivateRequest, VersionActivateResponse, VersionDetail, VersionPage,
                                  VersionTagResponse, VersionUntagResponse)
from api.views import iso
from domain.handles import TAG_RE, version_number
from store import versions as version_store
from store.tables import Model, Version, utcnow
from contracts.states import ModelState

router = APIRouter(tags=["versions"])


def summary_of(version: Version, tags: list[str]) -> dict:
    return {
        "version_id": version.id,
        "version_no": version.version_no,
        "triggered_by": version.triggered_by,
        "run_id": version.run_id,
        "param_hash": version.param_hash,
        "sample_count": version.sample_count,
        "metrics": version.metrics or {},
        "tags": tags,
        "created_at": iso(version.created_at),
    }


def _check_tag_name(name: str) -> None:
    if not TAG_RE.fullmatch(name) or version_number(name) is not None or name == "active":
        raise validation_error(
            f"A tag is {TAG_RE.pattern}, and may not look like a version number (vN) or be 'active'.",
            {"tag": name[:100]})


def _require_not_archived(model: Model) -> None:
    if model.state == ModelState.ARCHIVED:
        raise model_archived()


async def _find(session, model: Model, ref: str) -> Version | None:
    number = version_number(ref)
    if number is not None:
        return await version_store.get_by_number(session, model.id, number)
    # A name outside the tag grammar names no tag; it never reaches SQL (PostgreSQL refuses NUL).
    return await version_store.get_by_tag(session, model.id, ref) if TAG_RE.fullmatch(ref) else None


@router.get("/models/{handle}/versions", response_model=VersionPage, summary="List versions, newest first")
async def list_versions(handle: str, principal: KeyDep, session: SessionDep,
                        limit: int = Query(50, ge=1, le=250), cursor: str | None = None):
    """Only keys that own the model's namespace may list its versions."""
    model = await load_model(session, principal, parse_handle(handle))
    principal.require_owner(model.namespace)
    below = decode_cursor(cursor, int)
    rows = await version_store.list_versions(session, model.id, limit + 1, below)
    tags = await version_store.tags_by_version(session, [row.id for row in rows[:limit]])
    result = page(rows, limit, lambda row: row.version_no)
    result["items"] = [summary_of(row, tags.get(row.id, [])) for row in result["items"]]
    return JSONResponse(result)


@router.get("/models/{handle}/versions/{v}", response_model=VersionDetail, summary="Fetch one version")
async def get_version(handle: str, v: str, principal: KeyDep, session: SessionDep):
    """`v` is `vN` or a tag. The snapshot is included for authoring keys only."""
    model = await load_model(session, principal, parse_handle(handle))
    principal.require_owner(model.namespace)
    version = await _find(session, model, v)
    if version is None:
        raise not_found("version")
    detail = summary_of(version, await version_store.tags_of(session, version.id))
    if principal.is_authoring:
        detail["snapshot"] = json.loads(version.snapshot)
    return JSONResponse(detail)


@router.put("/models/{handle}/versions/active", response_model=VersionActivateResponse,
            summary="Choose the version that serves")
async def activate_version(handle: str, body: VersionActivateRequest, principal: KeyDep, session: SessionDep,
                           temporal: TemporalDep):
    """Activate by `version` or by `tag` (exactly one). This pins the model: background retrains keep
    storing versions but do not switch to them until the next explicit train."""
    if (body.version is None) == (body.tag is None):
        raise validation_error("Send exactly one of `version` or `tag`.",
                               {"version": body.version, "tag": body.tag})
    model = await load_model_for_write(session, principal, parse_handle(handle))
    _require_not_archived(model)
    if body.version is not None and version_number(body.version) is None:
        raise validation_error("`version` is written vN, for example v3.", {"version": body.version})
    version = await _find(session, model, body.version or body.tag)
    if version is None:
        raise not_found("version")
    version_store.activate(model, version)
    await session.commit()
    event = version_activated_event(model, version, f"evt_{uuid.uuid4().hex}", utcnow())
    await publish_event(temporal, session, event)
    return VersionActivateResponse(handle=model.handle, version_no=version.version_no)


@router.post("/models/{handle}/versions/{name}", status_code=201, response_model=VersionTagResponse,
             summary="Name the active version with a tag")
async def tag_version(handle: str, name: str, principal: KeyDep, session: SessionDep):
    """Names the active version; an existing tag of that name moves to it."""
    _check_tag_name(name)
    model = await load_model_for_write(session, principal, parse_handle(handle))
    _require_not_archived(model)
    if model.active_version_id is None:
        raise ApiError(409, "no_active_version", f"Model '{model.handle}' has no active version to tag.")
    version = await version_store.get_by_id(session, model.active_version_id)
    await version_store.set_tag(session, model.id, name, version.id)
    await session.commit()
    return VersionTagResponse(handle=model.handle, tag=name, version_no=version.version_no)


@router.delete("/models/{handle}/versions/{name}", response_model=VersionUntagResponse, summary="Remove a tag")
async def untag_version(handle: str, name: str, principal: KeyDep, session: SessionDep):
    model = await load_model_for_write(session, principal, parse_handle(handle))
    _require_not_archived(model)
    if not TAG_RE.fullmatch(name) or not await version_store.delete_tag(session, model.id, name):
        raise not_found("tag")
    await session.commit()
    return VersionUntagResponse(handle=model.handle, tag=name, deleted=True)
