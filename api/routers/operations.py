"""Starting long operations: train / re-tune, discover traits, synthesize samples (SPEC §3 rows 9,
15, 17; §1.4–1.5).

Every start follows the same path: who may (404/403) → archived (409) → fingerprint idempotency
(409 ``run_exists`` + ``X-Run-Id``) → state (409) → pre-check (422) → in ONE transaction a
conditional UPDATE moves the model to ``busy`` (the row is the lock) and records the run ``queued``
→ only then the workflow starts; if Temporal does not take it, the claim is undone and the answer
is 503. A request that loses the race looks up the open run: same fingerprint → ``run_exists``,
else ``model_busy``.

Decisions (SPEC is silent):
- The train fingerprint's kind is ``train`` for every call of the endpoint (the reoptimize flag is
  part of it), so repeating the exact call that trained a model answers ``run_exists`` whether the
  model is busy or already ready.
- Discovery needs at least two samples and synthesis at least one trait (diversify: one sample);
  otherwise 422 ``insufficient_samples`` before anything starts.
- Effort defaults to ``high`` for all three.
"""

from __future__ import annotations

from fastapi import APIRouter, Body, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import KeyDep, SessionDep, TemporalDep
from api.errors import ApiError, ErrorEnvelope
from api.lookup import load_model_for_write
from api.operations import start_run
from api.schemas.operations import (
    DiscoverRequest,
    SynthesizeRequest,
    TrainRequest,
    TrainResponse,
)
from store import operations as op_store
from store.tables import Model, Sample
from store.training_set import load_labels, pole_counts
from workflows.ids import new_run_id
from workflows.types import DISCOVER, RETUNE, SYNTHESIZE, TRAIN, OperationInput

router = APIRouter(tags=["operations"])

DEFAULT_EFFORT = "high"
_ERRORS = {status: {"model": ErrorEnvelope, "description": text} for status, text in (
    (401, "No valid key."), (403, "The key does not own the model or lacks the authoring scope."),
    (404, "No such model readable by this key."),
    (409, "Archived, busy, not a draft, or the same run already exists (see `X-Run-Id`)."),
    (422, "Invalid body, or the samples are not enough to run."),
    (503, "Temporal did not accept the run; nothing changed."),
)}


def run_exists(run_id: str) -> ApiError:
    return ApiError(409, "run_exists", "A run with exactly these inputs already exists.", {"run_id": run_id},
                    headers={"X-Run-Id": run_id})


def model_busy() -> ApiError:
    return ApiError(409, "model_busy", "Another operation is running on this model; retry once it has finished.")


def model_archived() -> ApiError:
    return ApiError(409, "model_archived", "This model is archived and cannot run operations.")


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


async def _start(session: AsyncSession, temporal, model: Model, *, kind: str, from_states: tuple[str, ...],
                 fingerprint: str, effort: str, synth_type: str | None = None) -> str:
    """Claims the model and starts the workflow; returns the new run id or raises 409/503."""
    model_id, model_handle = model.id, model.handle
    previous_state, previous_op = model.state, model.last_operation_id
    run_id = new_run_id()
    await session.commit()  # end the read snapshot: the claim must be the transaction's first write
    params = {"effort": effort, "synth_type": synth_type}
    op = await session.run_sync(lambda s: op_store.claim_model(s, model_id, from_states, run_id, kind,
                                                               fingerprint, params))
    if op is None:
        await session.rollback()
        await _raise_lost_race(session, model_id, fingerprint)
    await session.commit()
    try:
        await start_run(temporal, OperationInput(run_id, model_id, model_handle, kind, effort, synth_type))
    except ApiError:
        await session.run_sync(lambda s: op_store.undo_claim(s, run_id, previous_state, previous_op))
        await session.commit()
        raise
    return run_id


async def _raise_lost_race(session: AsyncSession, model_id: int, fingerprint: str) -> None:
    same = await session.run_sync(lambda s: op_store.reusable_run(s, model_id, fingerprint))
    if same is not None:
        raise run_exists(same.run_id)
    state = await session.scalar(select(Model.state).where(Model.id == model_id))
    if state == "archived":
        raise model_archived()
    if state in ("draft", "ready", "failed"):
        raise ApiError(409, "not_draft", "The model changed state meanwhile; check it and retry.", {"state": state})
    raise model_busy()


async def _precheck_common(session: AsyncSession, model: Model, fingerprint: str) -> None:
    """Archived, then idempotency, then busy — the same order for every operation."""
    if model.state == "archived":
        raise model_archived()
    same = await session.run_sync(lambda s: op_store.reusable_run(s, model.id, fingerprint))
    if same is not None:
        raise run_exists(same.run_id)
    if model.state == "busy":
        raise model_busy()


@router.post("/models/{handle}/train", response_model=TrainResponse, status_code=202, responses={
    200: {"model": TrainResponse, "description": "The model is ready and no re-tune was asked for."},
    202: {"model": TrainResponse, "description": "The run was started."}, **_ERRORS},
    summary="Train a draft, or re-tune a ready model")
async def train(handle: str, principal: KeyDep, session: SessionDep, temporal: TemporalDep, response: Response,
                body: TrainRequest | None = Body(None)) -> TrainResponse:
    body = body or TrainRequest()
    model = await load_model_for_write(session, principal, handle)
    effort = body.effort or DEFAULT_EFFORT
    fingerprint = await session.run_sync(
        lambda s: op_store.fingerprint(s, model.id, TRAIN, effort, body.reoptimize_params))
    await _precheck_common(session, model, fingerprint)
    if model.state == "ready" and not body.reoptimize_params:
        response.status_code = 200
        return TrainResponse(state="ready", run_id=None)
    kind, from_states = (RETUNE, ("ready",)) if model.state == "ready" else (TRAIN, ("draft", "failed"))
    await _check_trainable(session, model.id)
    run_id = await _start(session, temporal, model, kind=kind, from_states=from_states,
                          fingerprint=fingerprint, effort=effort)
    return TrainResponse(state="busy", run_id=run_id)


def _require_draft(model: Model) -> None:
    if model.state != "draft":
        raise ApiError(409, "not_draft", f"This works only on a draft model (it is {model.state}).",
                       {"state": model.state})


@router.post("/models/{handle}/traits/discover", response_model=TrainResponse, status_code=202,
             responses=_ERRORS, summary="Discover intrinsic traits from the labelled samples")
async def discover_traits(handle: str, principal: KeyDep, session: SessionDep, temporal: TemporalDep,
                          body: DiscoverRequest | None = Body(None)) -> TrainResponse:
    body = body or DiscoverRequest()
    model = await load_model_for_write(session, principal, handle)
    effort = body.effort or DEFAULT_EFFORT
    fingerprint = await session.run_sync(lambda s: op_store.fingerprint(s, model.id, DISCOVER, effort))
    await _precheck_common(session, model, fingerprint)
    _require_draft(model)
    samples = await session.scalar(select(func.count(Sample.id)).where(Sample.model_id == model.id))
    if (samples or 0) < 2:
        raise insufficient({"samples": samples or 0}, "Discovery needs at least two samples.")
    run_id = await _start(session, temporal, model, kind=DISCOVER, from_states=("draft",),
                          fingerprint=fingerprint, effort=effort)
    return TrainResponse(state="busy", run_id=run_id)


@router.post("/models/{handle}/samples/synthesize", response_model=TrainResponse, status_code=202,
             responses=_ERRORS, summary="Generate labelled samples for a draft")
async def synthesize_samples(handle: str, principal: KeyDep, session: SessionDep, temporal: TemporalDep,
                             body: SynthesizeRequest | None = Body(None)) -> TrainResponse:
    body = body or SynthesizeRequest()
    model = await load_model_for_write(session, principal, handle)
    effort = body.effort or DEFAULT_EFFORT
    fingerprint = await session.run_sync(
        lambda s: op_store.fingerprint(s, model.id, SYNTHESIZE, effort, synth_type=body.synth_type))
    await _precheck_common(session, model, fingerprint)
    _require_draft(model)
    counts = await _trait_pole_counts(session, model.id)
    if not counts:
        raise insufficient({"traits": {}}, "Synthesis needs at least one trait.")
    if body.synth_type == "diversify" and not any(p + n for p, n in counts.values()):
        raise insufficient({"samples": 0}, "Diversify varies existing samples; the model has none.")
    run_id = await _start(session, temporal, model, kind=SYNTHESIZE, from_states=("draft",),
                          fingerprint=fingerprint, effort=effort, synth_type=body.synth_type)
    return TrainResponse(state="busy", run_id=run_id)
