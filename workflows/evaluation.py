"""EvaluationWorkflow: one evaluation (SPEC §9.5); workflow id = evaluation id.

start (queued → running) → one ScoreJobWorkflow child per version, all at once (each is a score job
of its own: chunks, bounded fan-out, continue-as-new, its ``progress`` query) → the report activity
(engine/evaluation.py over the jobs' stored scores and the stored labels) → succeeded.

The children run the score-job workflow unchanged, so no existing workflow's commands change.
Cancelling the evaluation cancels its children (the default child cancellation); a child that fails
or is cancelled on its own (``POST /v1/score-jobs/{id}/cancel``) fails the evaluation with its code.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.evaluations import EVALUATION_FAULTS, EvaluationActivities
    from contracts.payloads import (
        EvaluationInput,
        EvaluationRef,
        EvaluationResult,
        FinishEvaluationInput,
        ScoreJobInput,
    )
    from contracts.states import OperationKind, RunStatus
    from workflows.common import BOOKKEEPING, failure_code, is_cancellation, step_summary
    from workflows.score_job import ScoreJobWorkflow
    from workflows.search_attributes import MODEL_HANDLE, OPERATION_KIND

CANCELLED_MESSAGE = "The evaluation, or one of its score jobs, was cancelled."
REPORT_WORK = dict(BOOKKEEPING, start_to_close_timeout=BOOKKEEPING["start_to_close_timeout"] * 10)


@workflow.defn
class EvaluationWorkflow:
    @workflow.run
    async def run(self, inp: EvaluationInput) -> EvaluationResult:
        details = f"{inp.handle} · {len(inp.job_ids)} version(s) · {inp.total} items"
        children: list[asyncio.Future] = []
        try:
            started = await workflow.execute_activity_method(
                EvaluationActivities.start_evaluation, EvaluationRef(inp.evaluation_id),
                summary=step_summary("start", inp.handle), **BOOKKEEPING)
            if not started.running:
                return EvaluationResult(inp.evaluation_id, RunStatus.CANCELLED)
            workflow.set_current_details(f"{details} · scoring")
            children = [asyncio.ensure_future(workflow.execute_child_workflow(
                ScoreJobWorkflow.run,
                ScoreJobInput(job_id, inp.handle, inp.total, inp.chunk_size, inp.chunks_in_flight),
                id=job_id,
                search_attributes=TypedSearchAttributes([
                    SearchAttributePair(MODEL_HANDLE, inp.handle),
                    SearchAttributePair(OPERATION_KIND, OperationKind.SCORE_JOB),
                ]),
                static_summary=f"evaluation score job · {inp.handle}",
            )) for job_id in inp.job_ids]
            jobs = await asyncio.gather(*children)
            if any(job.state != RunStatus.SUCCEEDED for job in jobs):
                # A job cancelled through the score-job API before a worker started it ends quietly.
                return await self._close(inp, RunStatus.CANCELLED, "cancelled", CANCELLED_MESSAGE, details)
            workflow.set_current_details(f"{details} · report")
            await workflow.execute_activity_method(
                EvaluationActivities.finish_evaluation,
                FinishEvaluationInput(inp.evaluation_id, RunStatus.SUCCEEDED),
                summary=step_summary("report", inp.handle), **REPORT_WORK)
        except (Exception, asyncio.CancelledError) as exc:
            # One job failed or was cancelled: the others stop too (a parent closing would terminate
            # them, leaving their jobs open in the store); each records its own end.
            for child in children:
                if not child.done():
                    child.cancel()
            if children:
                await asyncio.gather(*children, return_exceptions=True)
            cancelled = is_cancellation(exc)
            code, message = ("cancelled", CANCELLED_MESSAGE) if cancelled else _failure(exc)
            if not cancelled:
                workflow.logger.warning("evaluation %s failed: %r", inp.evaluation_id, exc)
            await self._close(inp, RunStatus.CANCELLED if cancelled else RunStatus.FAILED, code, message, details)
            if cancelled:
                raise
            raise ApplicationError(message, type=code, non_retryable=True) from None
        workflow.set_current_details(f"{details} · succeeded")
        return EvaluationResult(inp.evaluation_id, RunStatus.SUCCEEDED)

    async def _close(self, inp: EvaluationInput, state: RunStatus, code: str, message: str,
                     details: str) -> EvaluationResult:
        await workflow.execute_activity_method(
            EvaluationActivities.finish_evaluation, FinishEvaluationInput(inp.evaluation_id, state, code, message),
            summary=step_summary(f"recording {state}", inp.handle), **BOOKKEEPING)
        workflow.set_current_details(f"{details} · {state}")
        return EvaluationResult(inp.evaluation_id, state)


def _failure(exc: BaseException) -> tuple[str, str]:
    """A failed score job's own code (``version_gone``, …), the report's, or the generic one."""
    cause = exc.cause if isinstance(exc, ChildWorkflowError) else getattr(exc, "cause", None)
    if isinstance(cause, ApplicationError) and cause.type:
        if isinstance(exc, ChildWorkflowError) or cause.type in EVALUATION_FAULTS:
            return cause.type, cause.message
    return failure_code(exc)
