"""TrainWorkflow: first training, re-tune and background retrain of one model (SPEC §1.4–1.6).

fit (reads samples by reference, stages the snapshot in the DB) → publish (one transaction: version,
activation, prune, ZDR purge, model ready). Any failure or cancellation is finalized in the store
before the run closes, so the model never stays ``busy``.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.lifecycle import LifecycleActivities
    from activities.training import TrainingActivities
    from workflows.common import (
        BOOKKEEPING,
        LONG_WORK,
        ProgressReporting,
        failure_code,
        is_cancellation,
    )
    from workflows.types import (
        FailureInput,
        FitInput,
        OperationInput,
        OperationResult,
        Progress,
        RunRef,
    )


async def finalize_failure(inp: OperationInput, exc: BaseException) -> ApplicationError | None:
    """Records the failure (or cancellation) in the store; returns the error to close the run with."""
    cancelled = is_cancellation(exc)
    code, message = ("cancelled", "The run was cancelled.") if cancelled else failure_code(exc)
    await workflow.execute_activity_method(
        LifecycleActivities.finalize_failure,
        FailureInput(inp.run_id, inp.model_id, inp.kind, code, message,
                     status="cancelled" if cancelled else "failed"),
        **BOOKKEEPING,
    )
    if cancelled:
        return None  # re-raise the cancellation itself so Temporal records the run as cancelled
    return ApplicationError(message, type=code, non_retryable=True)


@workflow.defn
class TrainWorkflow(ProgressReporting):
    @workflow.run
    async def run(self, inp: OperationInput) -> OperationResult:
        self._state.handle = inp.handle
        self._state.set(Progress("queued", message="waiting for a worker"))
        ref = RunRef(inp.run_id, inp.model_id, inp.kind)
        try:
            await workflow.execute_activity_method(LifecycleActivities.mark_running, ref, **BOOKKEEPING)
            await workflow.execute_activity_method(
                TrainingActivities.fit_model,
                FitInput(inp.run_id, inp.model_id, inp.handle, inp.kind, inp.effort),
                **LONG_WORK,
            )
            self._state.set(Progress("publish", 0, 1, 0.99, "storing the new version"))
            published = await workflow.execute_activity_method(
                TrainingActivities.publish_version, ref, **BOOKKEEPING
            )
        except (Exception, asyncio.CancelledError) as exc:  # every way out must finalize the model
            error = await finalize_failure(inp, exc)
            if error is None:
                raise
            raise error from None
        self._state.set(Progress("done", 1, 1, 1.0, f"v{published.version_no} stored"))
        return OperationResult(inp.run_id, "succeeded", published.version_no, published.activated)
