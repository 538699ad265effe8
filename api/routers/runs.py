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
"""

from __future__ import annotations

from fastapi import APIRouter, Body, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import KeyDep, SessionDep, TemporalDep
from api.errors import ApiError, ErrorEnvelope
from api.lookup import load_model_for_write
from api.run_control import refuse_if_unstartable, start_operation
from api.schemas.operations import (
    DiscoverRequest,
    SynthesizeRequest,
    TrainRequest,
    TrainResponse,
)
from contracts.states import DRAFT_ONLY, RETUNE_FROM, TRAIN_FROM, ModelState, OperationKind
from store import catalog
from store.fingerprints import fingerprint as run_fingerprint
from store.tables import Model
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
