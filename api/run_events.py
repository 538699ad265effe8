"""A run's timeline (SPEC §9.3 ``events``): what happened to it, read from Temporal's own record.

Decisions (SPEC is silent):
- **Events come from the workflow's history**, read with ``fetch_history`` under the gateway's RPC
  bound, plus the ``describe`` of an open run for a retry that is still pending. The history is
  already the durable, ordered record of every step, attempt and failure reason, so no second
  record is written by the activities (no table, no write on the fit's path, nothing to keep in
  step with Temporal). A step's *retries* are in it by construction: Temporal records the attempt
  that finally ran and the failure of the one before (``ActivityTaskStarted.attempt`` and
  ``last_failure``), and while a retry waits, the pending activity carries the same.
- **When the history is gone** (the namespace's retention passed, or Temporal cannot answer in
  time), the timeline is built from the store's row: queued at ``started_at`` and the end at
  ``finished_at``; ``events_source`` says which of the two the answer came from.
- Event types: ``queued``, ``started`` (a worker took the run), ``phase`` (a step began; ``phase``
  names it), ``retry`` (``attempt`` ≥ 2, with the reason the previous attempt ended),
  ``step_failed`` (a step's last attempt failed), ``cancel_requested``, and one end event:
  ``succeeded``, ``failed``, ``cancelled``, ``terminated`` or ``timed_out``.
- Reasons are chosen by failure type, never by text: a heartbeat timeout is ``worker_lost`` ("the
  worker running it stopped heartbeating"), any other timeout ``timed_out``, a typed user fault its
  own code and message, anything else ``internal_error`` naming only the exception type.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowExecutionDescription
from temporalio.service import RPCError

from activities.authoring import AuthoringActivities
from activities.lifecycle import LifecycleActivities
from activities.training import TrainingActivities
from api.errors import ApiError
from api.temporal import TEMPORAL_GONE, TemporalGateway
from api.views import iso
from contracts.states import RunStatus
from store.tables import Operation
from workflows.common import USER_FAULTS


def _activity_name(method) -> str:
    return getattr(method, "__temporal_activity_definition").name


# The steps a run shows as phases: (phase, message) by activity type.
_PHASES = {
    _activity_name(TrainingActivities.embed_samples): ("embed", "embedding the samples"),
    _activity_name(TrainingActivities.fit_model): ("search", "searching configurations and calibrating"),
    _activity_name(TrainingActivities.publish_version): ("publish", "storing the new version"),
    _activity_name(AuthoringActivities.discover_traits): ("discover", "discovering traits"),
    _activity_name(AuthoringActivities.synthesize_samples): ("synthesize", "writing samples"),
}
_START = _activity_name(LifecycleActivities.mark_running)
_FINALIZE = _activity_name(LifecycleActivities.finalize_failure)

_ENDS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: ("succeeded", "The run finished."),
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: ("failed", "The run failed."),
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: ("cancelled", "The run was cancelled."),
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: ("terminated", "The run was terminated outside the API."),
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: ("timed_out", "The run exceeded its time limit."),
}


def failure_reason(failure: Failure) -> tuple[str, str]:
    """(code, sentence) for why an attempt ended, by the failure's type."""
    if failure.HasField("timeout_failure_info"):
        if failure.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_HEARTBEAT:
            return "worker_lost", "the worker running it stopped heartbeating (heartbeat timeout)"
        name = TimeoutType.Name(failure.timeout_failure_info.timeout_type).removeprefix("TIMEOUT_TYPE_").lower()
        return "timed_out", f"it exceeded its {name.replace('_', '-')} timeout"
    if failure.HasField("application_failure_info"):
        kind = failure.application_failure_info.type
        if kind in USER_FAULTS:
            return kind, failure.message
        return "internal_error", f"it raised an internal error ({kind or 'unknown'})"
    if failure.HasField("canceled_failure_info"):
        return "cancelled", "it was cancelled"
    if failure.HasField("cause"):
        return failure_reason(failure.cause)
    return "internal_error", "it failed"


def _event(at: datetime | None, type_: str, message: str, **extra) -> dict:
    event = {"at": iso(at.astimezone(timezone.utc)) if at is not None else None, "type": type_, "message": message}
    event.update({key: value for key, value in extra.items() if value is not None})
    return event


def _retry(at: datetime | None, step: str, attempt: int, failure: Failure) -> dict:
    code, why = failure_reason(failure)
    phase = _PHASES.get(step, (step, step))[0]
    return _event(at, "retry", f"{phase}: attempt {attempt} after the previous attempt ended because {why}",
                  attempt=attempt, phase=phase, reason=code)


def events_from_history(history_events, pending=()) -> list[dict]:
    """The timeline of one workflow run's history events, then any retry still pending."""
    scheduled: dict[int, str] = {}
    events: list[dict] = []
    for raw in history_events:
        at = raw.event_time.ToDatetime(tzinfo=timezone.utc)
        kind = raw.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            events.append(_event(at, "queued", "The run was accepted and waits for a worker."))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            step = raw.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[raw.event_id] = step
            if step in _PHASES:
                phase, message = _PHASES[step]
                events.append(_event(at, "phase", message, phase=phase))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = raw.activity_task_started_event_attributes
            step = scheduled.get(attrs.scheduled_event_id, "")
            if attrs.attempt > 1 and step != _FINALIZE:
                events.append(_retry(at, step, attrs.attempt, attrs.last_failure))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            step = scheduled.get(raw.activity_task_completed_event_attributes.scheduled_event_id)
            if step == _START:
                events.append(_event(at, "started", "A worker took the run."))
        elif kind in (EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED, EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT):
            attrs = (raw.activity_task_failed_event_attributes if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
                     else raw.activity_task_timed_out_event_attributes)
            step = scheduled.get(attrs.scheduled_event_id, "")
            code, why = failure_reason(attrs.failure)
            phase = _PHASES.get(step, (step, step))[0]
            events.append(_event(at, "step_failed", f"{phase}: the last attempt ended because {why}",
                                 phase=phase, reason=code))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            events.append(_event(at, "cancel_requested", "Cancellation was requested."))
        elif kind in _ENDS:
            events.append(_event(at, *_ENDS[kind]))
    for activity in pending:
        if activity.attempt > 1 and activity.activity_type.name != _FINALIZE:
            at = activity.last_attempt_complete_time if activity.HasField("last_attempt_complete_time") \
                else activity.scheduled_time
            events.append(_retry(at.ToDatetime(tzinfo=timezone.utc), activity.activity_type.name, activity.attempt,
                                 activity.last_failure))
    return events


def events_from_store(op: Operation) -> list[dict]:
    """The timeline the store alone can tell: accepted, and how it ended."""
    events = [_event(op.started_at, "queued", "The run was accepted.")]
    if op.finished_at is not None and op.status != RunStatus.RUNNING:
        message = (op.error or {}).get("message") or f"The run {op.status}."
        events.append(_event(op.finished_at, str(op.status), message))
    return events


async def run_events(temporal: TemporalGateway | None, op: Operation) -> tuple[list[dict], str]:
    """(events, source): from Temporal's history when it answers in time, else from the store."""
    if temporal is None or temporal.recently_unreachable:
        return events_from_store(op), "store"
    try:
        client = await temporal.client()
        handle = client.get_workflow_handle(op.run_id)
        history = await asyncio.wait_for(handle.fetch_history(rpc_timeout=temporal.rpc_timeout),
                                         temporal.call_bound * 2)
        pending = ()
        if history.events and history.events[-1].event_type not in _ENDS:
            description: WorkflowExecutionDescription = await asyncio.wait_for(
                handle.describe(rpc_timeout=temporal.rpc_timeout), temporal.call_bound)
            pending = description.raw_description.pending_activities
    except RPCError as exc:  # NOT_FOUND: the history is gone (retention), or never existed
        if exc.status in TEMPORAL_GONE:
            temporal.note_unreachable()
        return events_from_store(op), "store"
    except (ApiError, asyncio.TimeoutError, OSError):
        temporal.note_unreachable()
        return events_from_store(op), "store"
    return events_from_history(history.events, pending), "temporal"
