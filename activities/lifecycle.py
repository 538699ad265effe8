"""Bookkeeping activities: a run starts, fails, or the retrain loop checks what is buffered.

Each is one short DB transaction and safe to retry: every write is conditional on the run still
being in the state the write expects.
"""

from __future__ import annotations

from temporalio import activity

from activities.deps import ActivityDeps
from activities.training import user_fault
from activities.webhooks import publish, run_events
from contracts.payloads import (
    BeginRetrainInput,
    BeginRetrainResult,
    BufferedQuery,
    BufferedState,
    FailureInput,
    FinalizeResult,
    RunRef,
)
from store import feedback, runs


class LifecycleActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="mark_running")
    def mark_running(self, ref: RunRef) -> FinalizeResult:
        with self.deps.transaction() as session:
            running = runs.mark_running(session, ref.run_id)
        if not running:  # start was undone, or the run was closed from outside: do no work
            raise user_fault("operation_closed", "The run is no longer open in the store.")
        return FinalizeResult(ref.run_id, True)

    @activity.defn(name="finalize_failure")
    def finalize_failure(self, inp: FailureInput) -> FinalizeResult:
        with self.deps.transaction() as session:
            changed = runs.fail_run(session, inp.run_id, inp.code, inp.message, inp.status)
            events = run_events(session, inp.run_id)
            op = runs.run_by_id(session, inp.run_id)
        publish(self.deps, events)  # also on a retry that finds the run closed: deliveries are deduplicated
        # The status tells a late cancel that the run had published already (see workflows.train).
        return FinalizeResult(inp.run_id, changed, op.status if op is not None else "")

    @activity.defn(name="buffered_feedback")
    def buffered_feedback(self, query: BufferedQuery) -> BufferedState:
        with self.deps.transaction() as session:
            found = feedback.buffered_feedback(session, query.model_id)
        first_at = found.first_at.timestamp() if found.first_at is not None else None
        return BufferedState(found.eligible, found.count, first_at, found.busy)

    @activity.defn(name="begin_retrain")
    def begin_retrain(self, inp: BeginRetrainInput) -> BeginRetrainResult:
        with self.deps.transaction() as session:
            began, reason = runs.begin_retrain(session, inp.run_id, inp.model_id)
        return BeginRetrainResult(inp.run_id, began, reason)
