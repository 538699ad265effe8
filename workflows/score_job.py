"""ScoreJobWorkflow: one durable score job (SPEC §9.2); workflow id = job id.

start (queued → running) → chunk activities, at most ``chunks_in_flight`` at a time, over every
worker polling the task queue → finish (summary, succeeded). Items and results never travel
through Temporal: a chunk is (job id, chunk number, first seq, count).

Bounded history: a chunk costs at most 6 events (activity scheduled, started, completed, and a
workflow task of 3 when its completion wakes the workflow alone). Once the history passes
``history_limit`` (1,500) events, or Temporal suggests it, the run stops scheduling, lets the
chunks in flight finish (≤ chunks_in_flight × 6 more events) and continues as new with the next
chunk number and the counts so far. So a run stays under 2,000 events: a 1,000,000-item job at
250 items per chunk is 4,000 chunks ≈ 24,000 events ≈ 17 runs of ≤ ~1,550 events each.

Cancellation (Temporal's cancel, sent by ``POST …/cancel`` or by archiving the model) cancels the
chunks in flight and records ``cancelled``; a failure after the chunk's retries records ``failed``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.score_jobs import JOB_FAULTS, ScoreJobActivities
    from contracts.payloads import (
        FinishScoreJobInput,
        ScoreChunkInput,
        ScoreJobInput,
        ScoreJobProgress,
        ScoreJobRef,
        ScoreJobResult,
    )
    from contracts.states import RunStatus
    from workflows.common import BOOKKEEPING, HEARTBEAT_TIMEOUT, failure_code, is_cancellation, step_summary

CHUNK_WORK = dict(
    start_to_close_timeout=timedelta(minutes=30),
    heartbeat_timeout=HEARTBEAT_TIMEOUT,  # a lost worker's chunk moves to another within this
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=10,
        non_retryable_error_types=list(JOB_FAULTS),
    ),
)


@workflow.defn
class ScoreJobWorkflow:
    def __init__(self) -> None:
        self._progress = ScoreJobProgress()
        self._handle = ""

    @workflow.query
    def progress(self) -> ScoreJobProgress:
        return self._progress

    def _set(self, inp: ScoreJobInput, state: str, scored: int, failed: int) -> None:
        self._progress = ScoreJobProgress(scored + failed, inp.total, state)
        workflow.set_current_details(f"{inp.handle} · {state} · {scored + failed}/{inp.total} items"
                                     + (f" ({failed} failed)" if failed else ""))

    def _history_full(self, inp: ScoreJobInput) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > inp.history_limit

    @workflow.run
    async def run(self, inp: ScoreJobInput) -> ScoreJobResult:
        scored, failed = inp.scored, inp.failed
        self._set(inp, RunStatus.QUEUED if not inp.started else RunStatus.RUNNING, scored, failed)
        chunks = -(-inp.total // inp.chunk_size)
        next_chunk = inp.next_chunk
        pending: set[asyncio.Task] = set()
        try:
            if not inp.started:
                started = await workflow.execute_activity_method(
                    ScoreJobActivities.start_job, ScoreJobRef(inp.job_id),
                    summary=step_summary("start", inp.handle), **BOOKKEEPING)
                if not started.running:
                    return ScoreJobResult(inp.job_id, started.state)
            self._set(inp, RunStatus.RUNNING, scored, failed)
            while next_chunk < chunks or pending:
                while next_chunk < chunks and len(pending) < inp.chunks_in_flight and not self._history_full(inp):
                    first = next_chunk * inp.chunk_size
                    chunk = ScoreChunkInput(inp.job_id, next_chunk, first, min(inp.chunk_size, inp.total - first))
                    pending.add(asyncio.ensure_future(workflow.execute_activity_method(
                        ScoreJobActivities.score_chunk, chunk,
                        summary=step_summary(f"chunk {next_chunk + 1}/{chunks}", inp.handle), **CHUNK_WORK)))
                    next_chunk += 1
                if not pending:
                    break  # history full: continue as new below
                done, still_running = await workflow.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                pending = set(still_running)
                for task in done:
                    result = task.result()
                    scored, failed = scored + result.scored, failed + result.failed
                self._set(inp, RunStatus.RUNNING, scored, failed)
            if next_chunk < chunks:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(replace(inp, next_chunk=next_chunk, scored=scored, failed=failed,
                                                 started=True))
            await workflow.execute_activity_method(
                ScoreJobActivities.finish_job, FinishScoreJobInput(inp.job_id, RunStatus.SUCCEEDED),
                summary=step_summary("summary", inp.handle), **BOOKKEEPING)
        except (Exception, asyncio.CancelledError) as exc:
            for task in pending:
                task.cancel()  # a chunk in flight stops at its next heartbeat and writes nothing
            if pending:  # with TRY_CANCEL each resolves at once; collect them so none is left unread
                await asyncio.gather(*pending, return_exceptions=True)
            cancelled = is_cancellation(exc)
            if not cancelled:
                workflow.logger.warning("score job %s failed: %r", inp.job_id, exc)
            state = RunStatus.CANCELLED if cancelled else RunStatus.FAILED
            code, message = ("cancelled", "The job was cancelled.") if cancelled else _job_failure(exc)
            await workflow.execute_activity_method(
                ScoreJobActivities.finish_job, FinishScoreJobInput(inp.job_id, state, code, message),
                summary=step_summary(f"recording {state}", inp.handle), **BOOKKEEPING)
            self._set(inp, state, scored, failed)
            if cancelled:
                raise
            raise ApplicationError(message, type=code, non_retryable=True) from None
        self._set(inp, RunStatus.SUCCEEDED, scored, failed)
        return ScoreJobResult(inp.job_id, RunStatus.SUCCEEDED, scored, failed)


def _job_failure(exc: BaseException) -> tuple[str, str]:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, ApplicationError) and cause.type in JOB_FAULTS:
        return cause.type, cause.message
    return failure_code(exc)
