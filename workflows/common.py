"""Pieces every operation workflow shares: activity options, progress state, error mapping.

Decisions (SPEC is silent):
- Failure codes shown in ``last_operation.error.code`` come from the activity's typed
  ``ApplicationError.type`` when it is one of USER_FAULTS; a heartbeat timeout after all retries is
  ``worker_lost``; any other timeout ``timed_out``; everything else ``internal_error`` with a
  generic message (no stack traces or exception text reach the user).
- A run that failed is finalized in the store first and then fails in Temporal too, so the Web UI
  and the API agree.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    TimeoutError,
    TimeoutType,
)

with workflow.unsafe.imports_passed_through():
    from contracts.payloads import ProgressReport
    from contracts.progress import Progress

# Typed user faults an activity may raise (non-retryable); their message is safe to show.
USER_FAULTS = frozenset({
    "insufficient_samples",
    "model_gone",
    "operation_closed",
    "discovery_failed",
    "synthesis_failed",
    "invalid_configuration",
})

# Short bookkeeping activities (DB transactions): retried a few times, quickly.
BOOKKEEPING = dict(
    start_to_close_timeout=timedelta(seconds=60),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=20,
        non_retryable_error_types=sorted(USER_FAULTS),
    ),
)

# Long CPU-bound work: the heartbeat timeout is what notices a dead worker and moves the attempt.
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
LONG_WORK = dict(
    start_to_close_timeout=timedelta(hours=2),
    heartbeat_timeout=HEARTBEAT_TIMEOUT,
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=5,
        non_retryable_error_types=sorted(USER_FAULTS),
    ),
)


def is_cancellation(exc: BaseException) -> bool:
    if isinstance(exc, (asyncio.CancelledError, CancelledError)):
        return True
    return isinstance(exc, (ActivityError, ChildWorkflowError)) and isinstance(exc.cause, CancelledError)


def failure_code(exc: BaseException) -> tuple[str, str]:
    """(code, message) for last_operation.error, chosen by exception type, never by its text."""
    cause = exc.cause if isinstance(exc, (ActivityError, ChildWorkflowError)) and exc.cause else exc
    if isinstance(cause, ApplicationError) and cause.type in USER_FAULTS:
        return cause.type, cause.message
    if isinstance(cause, TimeoutError):
        if cause.type == TimeoutType.HEARTBEAT:
            return "worker_lost", "The worker running this step stopped responding, and retries ran out."
        return "timed_out", "A step of this run took longer than its time limit."
    return "internal_error", "The run failed because of an internal error."


def step_summary(step: str, handle: str) -> str:
    """The summary the Web UI shows beside an activity: which step of which model."""
    return f"{step} · {handle}"


class ProgressReporting:
    """Base for every run that shows progress: the phase-level `progress` query.

    The workflow sets its progress when a phase starts; the running activity's heartbeats carry
    the fine-grained counts, which the API reads from the run's description. `report_progress` was
    how activities used to send progress; it stays registered because older histories contain it.
    The SDK collects signal and query handlers from base classes too, so each workflow class only
    declares its own `run`.
    """

    def __init__(self) -> None:
        self._state = ProgressState()

    @workflow.query
    def progress(self) -> Progress:
        return self._state.progress

    @workflow.signal
    def report_progress(self, report: ProgressReport) -> None:
        self._state.apply(report)


class ProgressState:
    """The phase-level progress of a run, read by the query and shown as the run's current details."""

    def __init__(self) -> None:
        self.progress = Progress()
        self.handle = ""

    def set(self, progress: Progress) -> None:
        self.progress = progress
        detail = f"{self.handle} · {progress.phase}"
        if progress.total:
            detail += f" {progress.done}/{progress.total}"
        if progress.message:
            detail += f" · {progress.message}"
        workflow.set_current_details(detail)

    def apply(self, report: ProgressReport) -> None:
        # Signals can arrive out of order after a retry; never let the bar jump backwards in a phase.
        new = report.progress
        old = self.progress
        if new.phase == old.phase and new.fraction < old.fraction:
            return
        self.set(new)
