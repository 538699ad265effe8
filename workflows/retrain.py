"""RetrainWorkflow: the long-lived, per-model loop that folds buffered feedback in (SPEC §1.10).

Id ``retrain/<handle>``; the feedback path signals-with-start it after storing samples. The loop
asks the store how many feedback samples are buffered (newer than every version's watermark), waits
until ``min_samples`` of them exist or ``delay_seconds`` have passed since the first, then runs a
``retrain_buffered`` child TrainWorkflow (id = its run id, so ``last_operation`` and the Web UI treat
it like any run) with the active version's stored configuration, and continues-as-new.

Decisions (SPEC is silent):
- Signals are only hints; the count always comes from the store, so a lost signal or a restart
  never loses samples, and a sample folded in by an explicit train is not counted twice.
- The loop ends (rather than waiting forever) when the model is not eligible — archived, under ZDR,
  without an active version — or after a day without feedback; the next feedback starts it again.
- While the model is busy with another run, the loop re-checks every ``busy_recheck_seconds``;
  after a failed retrain it waits for new feedback or one more delay, so a broken model does not
  retrain in a loop.
- The loop continues as new in every branch (waiting, busy, failed, after a retrain) once Temporal
  suggests it or its history passes ``history_limit`` events (80; a pass of the loop adds about a
  dozen, so a run stays under ~100), after its signal handlers have finished;
  waits end early for it. Runs started before this rule (no ``BOUNDED_HISTORY_PATCH`` marker) keep
  continuing as new only after a successful retrain.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.lifecycle import LifecycleActivities
    from contracts.payloads import (
        SAMPLES_ADDED_SIGNAL,
        BeginRetrainInput,
        BufferedQuery,
        OperationInput,
        OperationResult,
        RetrainInput,
        SamplesAdded,
    )
    from contracts.progress import Progress
    from contracts.states import OperationKind
    from workflows.common import BOOKKEEPING, ProgressState, step_summary
    from workflows.ids import run_id_from
    from workflows.search_attributes import MODEL_HANDLE, OPERATION_KIND
    from workflows.train import TrainWorkflow

BOUNDED_HISTORY_PATCH = "retrain-continue-as-new-in-every-branch"


@workflow.defn
class RetrainWorkflow:
    def __init__(self) -> None:
        self._hinted = 0  # samples announced by signals since the last count from the store
        self._state = ProgressState()
        self._history_limit: int | None = None  # None: a run from before BOUNDED_HISTORY_PATCH

    @workflow.signal(name=SAMPLES_ADDED_SIGNAL)  # the API signals-with-start by this name
    def samples_added(self, note: SamplesAdded) -> None:
        self._hinted += max(1, note.count)

    @workflow.query
    def progress(self) -> Progress:
        return self._state.progress

    def _history_full(self) -> bool:
        if self._history_limit is None:
            return False
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self._history_limit

    async def _wait_for_hints(self, enough: int, timeout: float | None) -> bool:
        """True when signals announced `enough` samples (or the history is full); False when the
        timeout passed first."""
        try:
            await workflow.wait_condition(lambda: self._hinted >= enough or self._history_full(), timeout=timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def _continue_as_new(self, inp: RetrainInput) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(inp)

    @workflow.run
    async def run(self, inp: RetrainInput) -> OperationResult:
        self._state.handle = inp.handle
        if workflow.patched(BOUNDED_HISTORY_PATCH):
            self._history_limit = inp.history_limit
        while True:
            if self._history_full():
                await self._continue_as_new(inp)
            self._hinted = 0
            buffered = await workflow.execute_activity_method(
                LifecycleActivities.buffered_feedback, BufferedQuery(inp.model_id),
                summary=step_summary("counting buffered feedback", inp.handle), **BOOKKEEPING,
            )
            if not buffered.eligible:
                return OperationResult(run_id="", status="idle")
            if buffered.count == 0:
                self._state.set(Progress("waiting", 0, inp.min_samples, 0.0, "no buffered feedback"))
                if not await self._wait_for_hints(1, inp.idle_limit_seconds):
                    return OperationResult(run_id="", status="idle")
                continue
            due_in = buffered.first_at + inp.delay_seconds - workflow.now().timestamp()
            if buffered.count < inp.min_samples and due_in > 0:
                self._state.set(Progress("waiting", buffered.count, inp.min_samples,
                                         buffered.count / inp.min_samples, "buffering feedback"))
                await self._wait_for_hints(inp.min_samples - buffered.count, due_in)
                continue
            if buffered.busy:
                self._state.set(Progress("waiting", buffered.count, inp.min_samples, 0.0,
                                         "the model is busy with another run"))
                await workflow.sleep(inp.busy_recheck_seconds)
                continue
            outcome = await self._retrain(inp)
            if outcome == "succeeded":
                await self._continue_as_new(replace(inp, retrains_done=inp.retrains_done + 1))
            if outcome == "busy":  # another run took the model first; its fit may fold the samples in
                await workflow.sleep(inp.busy_recheck_seconds)
                continue
            self._state.set(Progress("waiting", 0, inp.min_samples, 0.0,
                                     "the last retrain did not finish; waiting for new feedback"))
            await self._wait_for_hints(1, inp.delay_seconds)

    async def _retrain(self, inp: RetrainInput) -> str:
        """'succeeded', 'failed', 'busy' or 'ineligible'."""
        now = workflow.now()
        run_id = run_id_from(int(now.timestamp() * 1000), workflow.random().randbytes(10))
        began = await workflow.execute_activity_method(
            LifecycleActivities.begin_retrain, BeginRetrainInput(run_id, inp.model_id),
            summary=step_summary("claiming the model", inp.handle), **BOOKKEEPING,
        )
        if not began.began:
            return began.reason or "ineligible"
        self._state.set(Progress("retrain", 0, 1, 0.0, f"run {run_id}"))
        try:
            await workflow.execute_child_workflow(
                TrainWorkflow.run,
                OperationInput(run_id, inp.model_id, inp.handle, OperationKind.RETRAIN, effort="low"),
                id=run_id,
                search_attributes=TypedSearchAttributes([
                    SearchAttributePair(MODEL_HANDLE, inp.handle),
                    SearchAttributePair(OPERATION_KIND, OperationKind.RETRAIN),
                ]),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        except ChildWorkflowError:
            return "failed"  # the child finalized the model itself (or will be reconciled)
        return "succeeded"
