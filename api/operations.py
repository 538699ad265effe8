"""Operations as the API sees them (SPEC §1.5, §1.10): the live ``last_operation`` view with
reconciliation, starting a run (the model row is the lock), and waking the background retrain.

Decisions (SPEC is silent):
- While a run is open, ``progress`` comes from the workflow's ``progress`` query (phase level),
  refined by the fine-grained counts its running activity heartbeats, read from the same
  ``describe`` that tells whether the run is open; when Temporal or every worker cannot answer
  within the gateway's RPC timeout, the last progress the worker recorded in the store is shown
  instead, so the GET never hangs.
- Reconciliation maps the closed workflow's status (never an error's text): terminated →
  ``failed``/``terminated``; cancelled → ``cancelled``/``cancelled``; timed out →
  ``failed``/``timed_out``; failed or completed without having finalized → ``failed``/
  ``internal_error``. A run Temporal has never heard of, ``LOST_RUN_GRACE`` after it was recorded,
  is ``failed``/``run_lost``.
- ``signal_retrain`` never fails the caller: the feedback samples are already stored and the retrain
  loop counts buffered samples from the store, so the next signal (or restart) catches up.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from api.temporal import TemporalGateway, unavailable
from settings import Settings
from store import operations as op_store
from store.tables import Model, Operation
from workflows.common import ProgressReporting
from workflows.ids import retrain_workflow_id
from workflows.search_attributes import MODEL_HANDLE, OPERATION_KIND
from workflows.types import DISCOVER, SYNTHESIZE, OperationInput, Progress, RetrainInput, SamplesAdded

log = logging.getLogger("assay.api")

LOST_RUN_GRACE = timedelta(seconds=30)
WORKFLOW_FOR_KIND = {"train": "TrainWorkflow", "retune": "TrainWorkflow", "retrain_buffered": "TrainWorkflow",
                     DISCOVER: "DiscoverWorkflow", SYNTHESIZE: "SynthesizeWorkflow"}

# (status, error code, message) for a run Temporal reports closed while the store thinks it open.
_CLOSED = {
    WorkflowExecutionStatus.TERMINATED: ("failed", "terminated", "The run was terminated outside the API."),
    WorkflowExecutionStatus.CANCELED: ("cancelled", "cancelled", "The run was cancelled."),
    WorkflowExecutionStatus.TIMED_OUT: ("failed", "timed_out", "The run exceeded its time limit."),
    WorkflowExecutionStatus.FAILED: ("failed", "internal_error", "The run failed before it could record why."),
    WorkflowExecutionStatus.COMPLETED: ("failed", "internal_error", "The run ended without recording a result."),
}


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def operation_view(op: Operation, live_progress: dict | None = None) -> dict:
    view = {
        "kind": op.kind,
        "status": op.status,
        "started_at": _iso(op.started_at),
        "run_id": op.run_id,
    }
    progress = live_progress if live_progress is not None else op.progress
    if progress is not None:
        view["progress"] = progress
    if op.error is not None:
        view["error"] = op.error
    if op.finished_at is not None:
        view["finished_at"] = _iso(op.finished_at)
    return view


def _bound(temporal: TemporalGateway) -> float:
    """An outer bound on one RPC, in case the client-side deadline is not honoured."""
    return temporal.rpc_timeout.total_seconds() + 0.5


async def last_operation(session: AsyncSession, temporal: TemporalGateway | None, model: Model) -> dict | None:
    if model.last_operation_id is None:
        return None
    op = await session.get(Operation, model.last_operation_id)
    if op is None:
        return None
    if op.status not in op_store.OPEN_STATUSES or temporal is None:
        return operation_view(op)
    live = await _live_progress(session, temporal, model, op)
    return operation_view(op, live)


async def _live_progress(session: AsyncSession, temporal: TemporalGateway, model: Model,
                         op: Operation) -> dict | None:
    """Progress straight from the workflow; reconciles the run if Temporal says it is closed."""
    if temporal.recently_unreachable:
        return None  # the recorded progress, without waiting out another RPC bound
    try:
        client = await temporal.client()
        handle = client.get_workflow_handle(op.run_id)
        description = await asyncio.wait_for(handle.describe(rpc_timeout=temporal.rpc_timeout), _bound(temporal))
    except RPCError as exc:
        if exc.status in _TEMPORAL_GONE:
            temporal.note_unreachable()
        if exc.status == RPCStatusCode.NOT_FOUND and _older_than(op.started_at, LOST_RUN_GRACE):
            await reconcile(session, model, op, "failed", "run_lost", "Temporal has no record of this run.")
        return None
    except (ApiError, asyncio.TimeoutError, OSError):
        temporal.note_unreachable()
        return None
    temporal.note_reachable()
    if description.status == WorkflowExecutionStatus.RUNNING:
        try:
            progress = await asyncio.wait_for(
                handle.query(ProgressReporting.progress, rpc_timeout=temporal.rpc_timeout), _bound(temporal))
        except Exception:  # no worker answered in time (or Temporal is gone): recorded progress
            return None
        if not isinstance(progress, Progress):
            return None
        return progress.refined_by(await _heartbeat_progress(client, description)).as_dict()
    closed = _CLOSED.get(description.status)
    if closed is not None:
        await reconcile(session, model, op, *closed)
    return None


_TEMPORAL_GONE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


async def _heartbeat_progress(client: Client, description: WorkflowExecutionDescription) -> Progress | None:
    """The progress the run's running activity last heartbeated, if any (see activities.progress)."""
    for pending in description.raw_description.pending_activities:
        payloads = pending.heartbeat_details.payloads
        if not payloads:
            continue
        try:
            (details,) = await client.data_converter.decode(payloads[:1], [dict])
            return Progress.from_dict(details)
        except Exception:  # noqa: BLE001 — details of another shape: the phase-level progress stands
            log.debug("unreadable heartbeat details on %s", pending.activity_id)
    return None


def _older_than(moment: datetime, age: timedelta) -> bool:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc) - moment > age


async def reconcile(session: AsyncSession, model: Model, op: Operation, status: str, code: str,
                    message: str) -> None:
    """Closes a run the store still thinks open; the model leaves busy by the finalization rules.

    The run may have finalized itself a moment ago; the conditional close then changes nothing.
    """
    run_id = op.run_id
    await session.run_sync(lambda s: op_store.close_failed(s, run_id, code, message, status))
    await session.commit()
    await session.refresh(op)
    await session.refresh(model)


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
                WORKFLOW_FOR_KIND[inp.kind], inp, id=inp.run_id, task_queue=temporal.task_queue,
                search_attributes=search_attributes(inp.handle, inp.kind), rpc_timeout=temporal.rpc_timeout,
                static_summary=run_summary(inp.kind, inp.handle),
            ),
            _bound(temporal),
        )
    except ApiError:
        raise
    except Exception as exc:  # RPC errors, timeouts, connection loss: all mean Temporal is not taking runs
        raise unavailable("Temporal") from exc


async def signal_retrain(temporal: TemporalGateway, settings: Settings, model: Model, new_samples: int) -> None:
    """Tells the model's background retrain loop that feedback samples were stored (signal-with-start)."""
    if new_samples <= 0 or model.zero_data_retention or model.state == "archived":
        return  # ZDR disables background retraining (SPEC §1.9)
    if temporal.recently_unreachable:
        log.warning("retrain loop of %s not woken: Temporal was unreachable a moment ago", model.handle)
        return
    try:
        client = await temporal.client()
        await asyncio.wait_for(
            client.start_workflow(
                "RetrainWorkflow",
                RetrainInput(model.id, model.handle, settings.retrain_min_samples, float(settings.retrain_delay)),
                id=retrain_workflow_id(model.handle),
                task_queue=temporal.task_queue,
                start_signal="samples_added",
                start_signal_args=[SamplesAdded(new_samples)],
                search_attributes=search_attributes(model.handle, "retrain_loop"),
                static_summary=run_summary("retrain loop", model.handle),
                rpc_timeout=temporal.rpc_timeout,
            ),
            _bound(temporal),
        )
    except Exception as exc:  # noqa: BLE001 — see the module docstring
        if isinstance(exc, (ApiError, asyncio.TimeoutError, OSError)) or (
                isinstance(exc, RPCError) and exc.status in _TEMPORAL_GONE):
            temporal.note_unreachable()
        log.warning("could not wake the retrain loop of %s: %s", model.handle, type(exc).__name__)
