"""A model's ``last_operation`` as the API shows it (SPEC §1.5): live progress from Temporal while
the run is open, and reconciliation of a run Temporal closed behind the store's back.

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
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from api.events import publish_run_events
from api.temporal import TEMPORAL_GONE, TemporalGateway
from contracts.progress import Progress
from contracts.states import OPEN_STATUSES, RunStatus
from store import runs
from store.tables import Model, Operation
from workflows.common import ProgressReporting

log = logging.getLogger("assay.api")

LOST_RUN_GRACE = timedelta(seconds=30)
# Resolved on import: a query renamed in the workflow fails loudly here, not in the broad fallback
# below that shows the recorded progress when no worker answers.
PROGRESS_QUERY = ProgressReporting.progress

# (status, error code, message) for a run Temporal reports closed while the store thinks it open.
_CLOSED = {
    WorkflowExecutionStatus.TERMINATED: (RunStatus.FAILED, "terminated", "The run was terminated outside the API."),
    WorkflowExecutionStatus.CANCELED: (RunStatus.CANCELLED, "cancelled", "The run was cancelled."),
    WorkflowExecutionStatus.TIMED_OUT: (RunStatus.FAILED, "timed_out", "The run exceeded its time limit."),
    WorkflowExecutionStatus.FAILED: (RunStatus.FAILED, "internal_error",
                                     "The run failed before it could record why."),
    WorkflowExecutionStatus.COMPLETED: (RunStatus.FAILED, "internal_error",
                                        "The run ended without recording a result."),
}


async def last_operation(session: AsyncSession, temporal: TemporalGateway | None,
                         model: Model) -> tuple[Operation, dict | None] | None:
    """The model's last run and, while it is open, its live progress (None: show the recorded one)."""
    if model.last_operation_id is None:
        return None
    op = await session.get(Operation, model.last_operation_id)
    if op is None:
        return None
    if op.status not in OPEN_STATUSES or temporal is None:
        return op, None
    return op, await _live_progress(session, temporal, model, op)


async def run_progress(session: AsyncSession, temporal: TemporalGateway | None, model: Model,
                       op: Operation) -> dict | None:
    """One run's progress: live while it is open (reconciling it if Temporal closed it), else recorded."""
    if op.status in OPEN_STATUSES and temporal is not None:
        live = await _live_progress(session, temporal, model, op)
        if live is not None:
            return live
    return op.progress


async def _live_progress(session: AsyncSession, temporal: TemporalGateway, model: Model,
                         op: Operation) -> dict | None:
    """Progress straight from the workflow; reconciles the run if Temporal says it is closed."""
    if temporal.recently_unreachable:
        return None  # the recorded progress, without waiting out another RPC bound
    try:
        client = await temporal.client()
        handle = client.get_workflow_handle(op.run_id)
        description = await asyncio.wait_for(handle.describe(rpc_timeout=temporal.rpc_timeout), temporal.call_bound)
    except RPCError as exc:
        if exc.status in TEMPORAL_GONE:
            temporal.note_unreachable()
        if exc.status == RPCStatusCode.NOT_FOUND and _older_than(op.started_at, LOST_RUN_GRACE):
            await reconcile(session, temporal, model, op, RunStatus.FAILED, "run_lost",
                            "Temporal has no record of this run.")
        return None
    except (ApiError, asyncio.TimeoutError, OSError):
        temporal.note_unreachable()
        return None
    temporal.note_reachable()
    if description.status == WorkflowExecutionStatus.RUNNING:
        try:
            progress = await asyncio.wait_for(
                handle.query(PROGRESS_QUERY, rpc_timeout=temporal.rpc_timeout), temporal.call_bound)
        except Exception:  # no worker answered in time (or Temporal is gone): recorded progress
            return None
        if not isinstance(progress, Progress):
            return None
        return progress.refined_by(await _heartbeat_progress(client, description)).as_dict()
    closed = _CLOSED.get(description.status)
    if closed is not None:
        await reconcile(session, temporal, model, op, *closed)
    return None


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


async def reconcile(session: AsyncSession, temporal: TemporalGateway, model: Model, op: Operation,
                    status: RunStatus, code: str, message: str) -> None:
    """Closes a run the store still thinks open; the model leaves busy by the finalization rules.

    The run may have finalized itself a moment ago; the conditional close then changes nothing.
    """
    run_id = op.run_id
    await session.run_sync(lambda s: runs.fail_run(s, run_id, code, message, status))
    await session.commit()
    await publish_run_events(temporal, session, run_id)  # same event ids as the worker's: announced once
    await session.refresh(op)
    await session.refresh(model)
