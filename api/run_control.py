"""Starting runs (SPEC §1.4–1.5, §1.10): the start sequence every operation endpoint calls,
waking the background retrain loop, and asking Temporal to cancel a run (SPEC §9.3). Every
Temporal start, signal and cancel of the API is here.

The start sequence: in ONE transaction a conditional UPDATE moves the model to ``busy`` (the row is
the lock) and records the run ``queued`` → only then the workflow starts; if Temporal does not
take it, the claim is undone and the answer is 503. A request that loses the race looks up the open
run: same fingerprint → ``run_exists``, else by the state the model is in.

Decision (SPEC is silent): ``signal_retrain`` never fails the caller: the feedback samples are
already stored and the retrain loop counts buffered samples from the store, so the next signal (or
restart) catches up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError, model_archived
from api.temporal import TEMPORAL_GONE, TemporalGateway, unavailable
from contracts.payloads import SAMPLES_ADDED_SIGNAL, OperationInput, RetrainInput, SamplesAdded
from contracts.states import ModelState, OperationKind
from settings import Settings
from store import runs
from store.tables import Model
from workflows.ids import new_run_id, retrain_workflow_id
from workflows.registry import RUN_FOR_KIND
from workflows.retrain import RetrainWorkflow
from workflows.search_attributes import MODEL_HANDLE, OPERATION_KIND

log = logging.getLogger("assay.api")


def run_exists(run_id: str) -> ApiError:
    return ApiError(409, "run_exists", "A run with exactly these inputs already exists.", {"run_id": run_id},
                    headers={"X-Run-Id": run_id})


def model_busy() -> ApiError:
    return ApiError(409, "model_busy", "Another operation is running on this model; retry once it has finished.")


async def refuse_if_unstartable(session: AsyncSession, model: Model, fingerprint: str) -> None:
    """Archived, then idempotency, then busy — the same order for every operation."""
    if model.state == ModelState.ARCHIVED:
        raise model_archived()
    same = await session.run_sync(lambda s: runs.reusable_run(s, model.id, fingerprint))
    if same is not None:
        raise run_exists(same.run_id)
    if model.state == ModelState.BUSY:
        raise model_busy()


async def start_operation(session: AsyncSession, temporal: TemporalGateway, model: Model, *,
                          kind: OperationKind, from_states: Iterable[ModelState], fingerprint: str, effort: str,
                          synth_type: str | None = None) -> str:
    """Claims the model and starts the run's workflow; returns the new run id or raises 409/503."""
    model_id, model_handle = model.id, model.handle
    previous_state, previous_op = model.state, model.last_operation_id
    run_id = new_run_id()
    await session.commit()  # end the read snapshot: the claim must be the transaction's first write
    params = {"effort": effort, "synth_type": synth_type}
    # Claimed from the state this request read, so the run knows where a cancel takes the model back.
    from_states = tuple(from_states)
    claim_from = (previous_state,) if previous_state in from_states else from_states
    try:
        await session.run_sync(lambda s: runs.claim(s, model_id, claim_from, run_id, kind, fingerprint, params))
    except runs.ClaimRefused as refused:
        await session.rollback()
        await _raise_lost_race(session, model_id, fingerprint, refused.state)
    await session.commit()
    try:
        await start_run(temporal, OperationInput(run_id, model_id, model_handle, kind, effort, synth_type))
    except ApiError:
        await session.run_sync(lambda s: runs.undo_claim(s, run_id, previous_state, previous_op))
        await session.commit()
        raise
    return run_id


async def _raise_lost_race(session: AsyncSession, model_id: int, fingerprint: str, state: str) -> None:
    same = await session.run_sync(lambda s: runs.reusable_run(s, model_id, fingerprint))
    if same is not None:
        raise run_exists(same.run_id)
    if state == ModelState.ARCHIVED:
        raise model_archived()
    if state in (ModelState.DRAFT, ModelState.READY, ModelState.FAILED):
        raise ApiError(409, "not_draft", "The model changed state meanwhile; check it and retry.", {"state": state})
    raise model_busy()


def search_attributes(handle: str, kind: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(MODEL_HANDLE, handle), SearchAttributePair(OPERATION_KIND, kind)])


def run_summary(kind: str, handle: str) -> str:
    """The line the Web UI shows for a run in its list and header."""
    return f"{kind} · {handle}"


async def start_run(temporal: TemporalGateway, inp: OperationInput) -> None:
    """Starts the run's workflow (id = run id); raises 503 ``unavailable`` if Temporal does not take it."""
    try:
        client = await temporal.client()
        await asyncio.wait_for(
            client.start_workflow(
                RUN_FOR_KIND[inp.kind], inp, id=inp.run_id, task_queue=temporal.task_queue,
                search_attributes=search_attributes(inp.handle, inp.kind), rpc_timeout=temporal.rpc_timeout,
                static_summary=run_summary(inp.kind, inp.handle),
            ),
            temporal.call_bound,
        )
    except ApiError:
        raise
    except Exception as exc:  # RPC errors, timeouts, connection loss: all mean Temporal is not taking runs
        raise unavailable("Temporal") from exc


async def request_cancel(temporal: TemporalGateway, run_id: str) -> bool:
    """Asks Temporal to cancel the run's workflow (its cleanup restores the model; never a terminate).

    True when the request was taken (again, if it was asked before: Temporal keeps one request);
    False when Temporal says the run is closed or unknown; 503 when it cannot be reached.
    """
    try:
        client = await temporal.client()
        await asyncio.wait_for(client.get_workflow_handle(run_id).cancel(rpc_timeout=temporal.rpc_timeout),
                               temporal.call_bound)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        if exc.status in TEMPORAL_GONE:
            temporal.note_unreachable()
        raise unavailable("Temporal") from exc
    except ApiError:
        raise
    except (asyncio.TimeoutError, OSError) as exc:
        temporal.note_unreachable()
        raise unavailable("Temporal") from exc
    return True


async def signal_retrain(temporal: TemporalGateway, settings: Settings, model: Model, new_samples: int) -> None:
    """Tells the model's background retrain loop that feedback samples were stored (signal-with-start)."""
    if new_samples <= 0 or model.zero_data_retention or model.state == ModelState.ARCHIVED:
        return  # ZDR disables background retraining (SPEC §1.9)
    if temporal.recently_unreachable:
        log.warning("retrain loop of %s not woken: Temporal was unreachable a moment ago", model.handle)
        return
    try:
        client = await temporal.client()
        await asyncio.wait_for(
            client.start_workflow(
                RetrainWorkflow.run,
                RetrainInput(model.id, model.handle, settings.retrain_min_samples, float(settings.retrain_delay)),
                id=retrain_workflow_id(model.handle),
                task_queue=temporal.task_queue,
                start_signal=SAMPLES_ADDED_SIGNAL,
                start_signal_args=[SamplesAdded(new_samples)],
                search_attributes=search_attributes(model.handle, "retrain_loop"),
                static_summary=run_summary("retrain loop", model.handle),
                rpc_timeout=temporal.rpc_timeout,
            ),
            temporal.call_bound,
        )
    except Exception as exc:  # noqa: BLE001 — see the module docstring
        if isinstance(exc, (ApiError, asyncio.TimeoutError, OSError)) or (
                isinstance(exc, RPCError) and exc.status in TEMPORAL_GONE):
            temporal.note_unreachable()
        log.warning("could not wake the retrain loop of %s: %s", model.handle, type(exc).__name__)
