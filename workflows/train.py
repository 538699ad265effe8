"""TrainWorkflow: first training, re-tune and background retrain of one model (SPEC §1.4–1.6).

mark running → embed (reads samples by reference, fills the embedding cache) → fit (search and
calibration, stages the snapshot in the DB) → publish (one transaction: version, activation, prune,
ZDR purge, model ready). Any failure or cancellation is finalized in the store before the run
closes, so the model never stays ``busy``.

Each phase is its own activity with a summary naming the phase and the model, so the Web UI shows
the run as named steps; the workflow's own progress is phase-level (it changes when a step ends),
and the fine-grained counts ride on the running activity's heartbeats (see ``activities.progress``).
Runs started before the embed step existed (no ``PHASE_STEPS_PATCH`` marker) embed inside fit.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.lifecycle import LifecycleActivities
    from activities.training import TrainingActivities
    from contracts.payloads import FailureInput, FitInput, OperationInput, OperationResult, RunRef
    from contracts.progress import RUNNING_CEILING, Progress
    from contracts.states import RunStatus
    from workflows.common import (
        BOOKKEEPING,
        LONG_WORK,
        ProgressReporting,
        ProgressState,
        failure_code,
        is_cancellation,
        step_summary,
    )

PHASE_STEPS_PATCH = "train-embed-step-before-fit"
# A cancel that arrives while the run's last step commits (publish, or a draft operation's write) can
# lose the race in the store: the run is already `succeeded`. With this marker the workflow then
# completes as succeeded too, instead of closing as Canceled in Temporal over a published run.
# Shared by every operation workflow through finalize_failure.
LATE_CANCEL_PATCH = "operation-late-cancel-completes-a-finished-run"


async def finalize_failure(inp: OperationInput, exc: BaseException) -> ApplicationError | OperationResult | None:
    """Records the failure (or cancellation) in the store; returns the error to close the run with,
    None to close it as cancelled, or the result of a run that finished before a late cancel."""
    cancelled = is_cancellation(exc)
    code, message = ("cancelled", "The run was cancelled.") if cancelled else failure_code(exc)
    recorded = await workflow.execute_activity_method(
        LifecycleActivities.finalize_failure,
        FailureInput(inp.run_id, inp.model_id, inp.kind, code, message,
                     status=RunStatus.CANCELLED if cancelled else RunStatus.FAILED),
        summary=step_summary("recording the cancellation" if cancelled else "recording the failure", inp.handle),
        **BOOKKEEPING,
    )
    if cancelled:
        if recorded.status == RunStatus.SUCCEEDED and workflow.patched(LATE_CANCEL_PATCH):
            return OperationResult(inp.run_id, RunStatus.SUCCEEDED)  # it published first: keep that
        return None  # re-raise the cancellation itself so Temporal records the run as cancelled
    return ApplicationError(message, type=code, non_retryable=True)


async def close_failed_run(inp: OperationInput, exc: BaseException, state: ProgressState) -> OperationResult:
    """The way out of a run whose step raised: finalize in the store, then raise the cancellation or
    the failure, or (a late cancel after the run finished) return the finished run's result."""
    outcome = await finalize_failure(inp, exc)
    if isinstance(outcome, OperationResult):
        state.set(Progress("done", 1, 1, 1.0, "finished before the cancel arrived"))
        return outcome
    if outcome is None:
        raise exc
    raise outcome from None


@workflow.defn
class TrainWorkflow(ProgressReporting):
    @workflow.run
    async def run(self, inp: OperationInput) -> OperationResult:
        self._state.handle = inp.handle
        self._state.set(Progress("queued", message="waiting for a worker"))
        ref = RunRef(inp.run_id, inp.model_id, inp.kind)
        fit_input = FitInput(inp.run_id, inp.model_id, inp.handle, inp.kind, inp.effort)
        try:
            phase_steps = workflow.patched(PHASE_STEPS_PATCH)
            await workflow.execute_activity_method(LifecycleActivities.mark_running, ref,
                                                   summary=step_summary("start", inp.handle), **BOOKKEEPING)
            self._state.set(Progress("embed", message="running · embedding samples"))
            if phase_steps:
                embedded = await workflow.execute_activity_method(
                    TrainingActivities.embed_samples, fit_input, summary=step_summary("embedding", inp.handle),
                    **LONG_WORK,
                )
                self._state.set(embedded.progress())
                fit_input = replace(fit_input, embedded=embedded.embedded)
            await workflow.execute_activity_method(
                TrainingActivities.fit_model, fit_input,
                summary=step_summary("search and calibration", inp.handle), **LONG_WORK,
            )
            self._state.set(Progress("publish", 0, 1, RUNNING_CEILING, "running · storing the new version"))
            published = await workflow.execute_activity_method(
                TrainingActivities.publish_version, ref, summary=step_summary("publishing", inp.handle),
                **BOOKKEEPING,
            )
        except (Exception, asyncio.CancelledError) as exc:  # every way out must finalize the model
            return await close_failed_run(inp, exc, self._state)
        self._state.set(Progress("done", 1, 1, 1.0, f"v{published.version_no} stored"))
        return OperationResult(inp.run_id, "succeeded", published.version_no, published.activated)
