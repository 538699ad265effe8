"""Starting long operations: train / re-tune, discover traits, synthesize samples (SPEC §3 rows 9,
15, 17; §1.4–1.5).

Every start follows the same path: who may (404/403) → archived (409) → fingerprint idempotency
(409 ``run_exists`` + ``X-Run-Id``) → state (409) → pre-check (422) → the start sequence of
``api.run_control.start_operation`` (claim → start the workflow → undo the claim and 503 if
Temporal does not take it). This module validates, calls, and responds.

Decisions (SPEC is silent):
- The train fingerprint's kind is ``train`` for every call of the endpoint (the reoptimize flag is
  part of it), so repeating the exact call that trained a model answers ``run_exists`` whether the
  model is busy or already ready.
- Discovery needs at least two samples and synthesis at least one trait (diversify: one sample);
  otherwise 422 ``insufficient_samples`` before anything starts.
- Effort defaults to ``high`` for all three.

Runs (SPEC §9.3; decisions):
- A run is visible only to keys that own its model's namespace (either scope); any other key gets
  ``404`` on ``/v1/runs/{run_id}``, as if it did not exist, even for a model in a public namespace.
  ``GET …/runs`` follows the version listing: unreadable model ``404``, readable but not owned ``403``.
- Cancel needs the authoring scope (``403`` for a scoring key that owns the namespace). A run that is
  already ``cancelled`` answers ``202`` with the run again (the outcome asked for holds); a run that
  ``succeeded`` or ``failed`` answers ``409 run_finished``. Cancelling is Temporal's cancellation,
  never a terminate: the workflow's own cleanup closes the run and restores the model.
- Runs are listed newest first (by when the store recorded them), keyset-paged on the row id.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Body, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.deps import KeyDep, SessionDep, TemporalDep
from api.errors import ApiError, ErrorEnvelope, error_responses, not_found, run_finished
from api.lookup import load_model, load_model_for_write, parse_handle
from api.pagination import decode_cursor, page
from api.run_control import refuse_if_unstartable, request_cancel, start_operation
from api.run_events import run_events
from api.run_status import run_progress
from api.schemas.runs import RunDetail, RunPage
from api.temporal import TemporalGateway, unavailable
from api.views import run_summary
from api.schemas.operations import (
    DiscoverRequest,
    SynthesizeRequest,
    TrainRequest,
    TrainResponse,
)
from contracts.states import OPEN_STATUSES, DRAFT_ONLY, RETUNE_FROM, TRAIN_FROM, ModelState, OperationKind, RunStatus
from store import catalog, runs
from store.fingerprints import fingerprint as run_fingerprint
from store.tables import Model, Operation
from store.training_set import load_labels, pole_counts

router = APIRouter(tags=["operations"])

DEFAULT_EFFORT = "high"
_ERRORS = {status: {"model": ErrorEnvelope, "description": text} for status, text in (
    (401, "No valid key."), (403, "The key does not own the model or lacks the authoring scope."),
    (404, "No such model readable by this key."),
    (409, "Archived, busy, not a draft, or the same run already exists (see `X-Run-Id`)."),
    (422, "Invalid body, or the samples are not enough to run."),
    (503, "Temporal did not accept the run; nothing changed."),
)}


def insufficient(details: dict, message: str) -> ApiError:
    return ApiError(422, "insufficient_samples", message, details)


async def _trait_pole_counts(session: AsyncSession, model_id: int) -> dict[str, tuple[int, int]]:
    """{trait key: (positives, negatives)} for every trait, counted as the fit will see them."""
    _, labels = await session.run_sync(lambda s: load_labels(s, model_id))
    return pole_counts(labels)


async def _check_trainable(session: AsyncSession, model_id: int) -> None:
    counts = await _trait_pole_counts(session, model_id)
    if not counts:
        raise insufficient({"traits": {}}, "The model has no traits to train.")
    lacking = {}
    for key, (positives, negatives) in counts.items():
        missing = [side for side, n in (("positive", positives), ("negative", negatives)) if n == 0]
        if missing:
            lacking[key] = {"positive_samples": positives, "negative_samples": negatives, "missing": missing}
    if lacking:
        raise insufficient({"traits": lacking},
                           "Every trait needs at least one positive (quality > 0.5) and one negative "
                           "(quality < 0.5) sample.")


async def _startable(session: AsyncSession, principal, handle: str, kind: OperationKind, effort: str,
                     **inputs) -> tuple[Model, str]:
    """The model, if this key may start `kind` on it now, and the run's input fingerprint."""
    model = await load_model_for_write(session, principal, handle)
    fingerprint = await session.run_sync(lambda s: run_fingerprint(s, model.id, kind, effort, **inputs))
    await refuse_if_unstartable(session, model, fingerprint)
    return model, fingerprint


@router.post("/models/{handle}/train", response_model=TrainResponse, status_code=202, responses={
    200: {"model": TrainResponse, "description": "The model is ready and no re-tune was asked for."},
    202: {"model": TrainResponse, "description": "The run was started."}, **_ERRORS},
    summary="Train a draft, or re-tune a ready model")
async def train(handle: str, principal: KeyDep, session: SessionDep, temporal: TemporalDep, response: Response,
                body: TrainRequest | None = Body(None)) -> TrainResponse:
    body = body or TrainRequest()
    effort = body.effort or DEFAULT_EFFORT
    model, fingerprint = await _startable(session, principal, handle, OperationKind.TRAIN, effort,
                                          reoptimize=body.reoptimize_params)
    if model.state == ModelState.READY and not body.reoptimize_params:
        response.status_code = 200
        return TrainResponse(state=ModelState.READY, run_id=None)
    kind, from_states = ((OperationKind.RETUNE, RETUNE_FROM) if model.state == ModelState.READY
                         else (OperationKind.TRAIN, TRAIN_FROM))
    await _check_trainable(session, model.id)
    run_id = await start_operation(session, temporal, model, kind=kind, from_states=from_states,
                                   fingerprint=fingerprint, effort=effort)
    return TrainResponse(state=ModelState.BUSY, run_id=run_id)


def _require_draft(model: Model) -> None:
    if model.state != ModelState.DRAFT:
        raise ApiError(409, "not_draft", f"This works only on a draft model (it is {model.state}).",
                       {"state": model.state})


@router.post("/models/{handle}/traits/discover", response_model=TrainResponse, status_code=202,
             responses=_ERRORS, summary="Discover intrinsic traits from the labelled samples")
async def discover_traits(handle: str, principal: KeyDep, session: SessionDep, temporal: TemporalDep,
                          body: DiscoverRequest | None = Body(None)) -> TrainResponse:
    body = body or DiscoverRequest()
    effort = body.effort or DEFAULT_EFFORT
    model, fingerprint = await _startable(session, principal, handle, OperationKind.DISCOVER, effort)
    _require_draft(model)
    samples = sum(counts.total for counts in (await catalog.sample_counts(session, model.id)).values())
    if samples < 2:
        raise insufficient({"samples": samples}, "Discovery needs at least two samples.")
    run_id = await start_operation(session, temporal, model, kind=OperationKind.DISCOVER, from_states=DRAFT_ONLY,
                                   fingerprint=fingerprint, effort=effort)
    return TrainResponse(state=ModelState.BUSY, run_id=run_id)


@router.post("/models/{handle}/samples/synthesize", response_model=TrainResponse, status_code=202,
             responses=_ERRORS, summary="Generate labelled samples for a draft")
async def synthesize_samples(handle: str, principal: KeyDep, session: SessionDep, temporal: TemporalDep,
                             body: SynthesizeRequest | None = Body(None)) -> TrainResponse:
    body = body or SynthesizeRequest()
    effort = body.effort or DEFAULT_EFFORT
    model, fingerprint = await _startable(session, principal, handle, OperationKind.SYNTHESIZE, effort,
                                          synth_type=body.synth_type)
    _require_draft(model)
    counts = await _trait_pole_counts(session, model.id)
    if not counts:
        raise insufficient({"traits": {}}, "Synthesis needs at least one trait.")
    if body.synth_type == "diversify" and not any(p + n for p, n in counts.values()):
        raise insufficient({"samples": 0}, "Diversify varies existing samples; the model has none.")
    run_id = await start_operation(session, temporal, model, kind=OperationKind.SYNTHESIZE,
                                   from_states=DRAFT_ONLY, fingerprint=fingerprint, effort=effort,
                                   synth_type=body.synth_type)
    return TrainResponse(state=ModelState.BUSY, run_id=run_id)


# ---------------------------------------------------------------- runs (SPEC §9.3)

RUN_ID_RE = re.compile(r"run_[0-9A-HJKMNP-TV-Z]{26}")  # run_<ULID>; anything else names no run


async def _owned_run(session: AsyncSession, principal: Principal, run_id: str) -> tuple[Operation, Model, int | None]:
    """The run, its model and its version number, if the key owns the model's namespace; 404 otherwise."""
    found = await session.run_sync(lambda s: runs.run_with_model(s, run_id)) if RUN_ID_RE.fullmatch(run_id) else None
    if found is None or not principal.owns(found[1].namespace):
        raise not_found("run")
    return found


async def _run_detail(session: AsyncSession, temporal: TemporalGateway, op: Operation, model: Model,
                      version_no: int | None) -> dict:
    progress = await run_progress(session, temporal, model, op)  # may reconcile a run Temporal closed
    events, source = await run_events(temporal, op)
    asked = any(event["type"] == "cancel_requested" for event in events)
    return {**run_summary(op, model.handle, version_no), "progress": progress,
            "cancel_requested": asked and op.status in (*OPEN_STATUSES, RunStatus.CANCELLED),
            "events": events, "events_source": source}


@router.get("/models/{handle}/runs", response_model=RunPage, tags=["runs"], responses=error_responses(403, 404),
            summary="List a model's runs, newest first")
async def list_runs(handle: str, principal: KeyDep, session: SessionDep,
                    limit: int = Query(50, ge=1, le=250), cursor: str | None = None):
    """Every run of the model (train, re-tune, background retrain, discovery, synthesis); owner-only."""
    model = await load_model(session, principal, parse_handle(handle))
    principal.require_owner(model.namespace)
    below = decode_cursor(cursor, int)
    model_id, model_handle = model.id, model.handle
    rows = await session.run_sync(lambda s: runs.runs_of_model(s, model_id, limit + 1, below))
    result = page(rows, limit, lambda row: row[0].id)
    result["items"] = [run_summary(op, model_handle, version_no) for op, version_no in result["items"]]
    return result


@router.get("/runs/{run_id}", response_model=RunDetail, tags=["runs"], responses=error_responses(404),
            summary="One run with its live progress and its event timeline")
async def get_run(run_id: str, principal: KeyDep, session: SessionDep, temporal: TemporalDep):
    op, model, version_no = await _owned_run(session, principal, run_id)
    return await _run_detail(session, temporal, op, model, version_no)


@router.post("/runs/{run_id}/cancel", response_model=RunDetail, status_code=202, tags=["runs"],
             responses=error_responses(403, 404, 409, 503), summary="Cancel a queued or running run")
async def cancel_run(run_id: str, principal: KeyDep, session: SessionDep, temporal: TemporalDep):
    """Asks Temporal to cancel the run; the model goes back to where it was before the run."""
    op, model, version_no = await _owned_run(session, principal, run_id)
    principal.require_author(model.namespace)
    if op.status in OPEN_STATUSES and not await request_cancel(temporal, op.run_id):
        # Temporal has closed the run: the store has its outcome, or learns it now by reconciliation.
        await session.commit()  # a fresh snapshot: the run may have been closed a moment ago
        await session.refresh(op)
        await session.refresh(model)
        await run_progress(session, temporal, model, op)
        if op.status in OPEN_STATUSES:
            raise unavailable("Temporal")
    if op.status not in (*OPEN_STATUSES, RunStatus.CANCELLED):
        raise run_finished(op.status)
    return await _run_detail(session, temporal, op, model, version_no)
