"""DiscoverWorkflow and SynthesizeWorkflow: draft-only operations (SPEC §1.4, §5.4, §5.5).

Both take the model from ``busy`` back to ``draft`` when they end, successfully or not.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.authoring import AuthoringActivities
    from activities.lifecycle import LifecycleActivities
    from contracts.payloads import AuthoringInput, OperationInput, OperationResult, RunRef
    from contracts.progress import Progress
    from workflows.common import BOOKKEEPING, LONG_WORK, ProgressReporting, step_summary
    from workflows.train import close_failed_run


class _DraftOperation(ProgressReporting):
    """Shared shape: mark running → one long activity (which also closes the run) → done."""

    activity = None  # set by subclasses
    phase = ""

    async def _run(self, inp: OperationInput) -> OperationResult:
        self._state.handle = inp.handle
        self._state.set(Progress("queued", message="waiting for a worker"))
        ref = RunRef(inp.run_id, inp.model_id, inp.kind)
        try:
            await workflow.execute_activity_method(LifecycleActivities.mark_running, ref,
                                                   summary=step_summary("start", inp.handle), **BOOKKEEPING)
            self._state.set(Progress(self.phase, 0, 1, 0.0, "running"))
            result = await workflow.execute_activity_method(
                self.activity,
                AuthoringInput(inp.run_id, inp.model_id, inp.handle, inp.effort, inp.synth_type),
                summary=step_summary(self.phase, inp.handle), **LONG_WORK,
            )
        except (Exception, asyncio.CancelledError) as exc:  # every way out must finalize the model
            return await close_failed_run(inp, exc, self._state)
        self._state.set(Progress("done", 1, 1, 1.0, f"{result.added} added"))
        return OperationResult(inp.run_id, "succeeded", added=result.added)


@workflow.defn
class DiscoverWorkflow(_DraftOperation):
    activity = AuthoringActivities.discover_traits
    phase = "discover"

    @workflow.run
    async def run(self, inp: OperationInput) -> OperationResult:
        return await self._run(inp)


@workflow.defn
class SynthesizeWorkflow(_DraftOperation):
    activity = AuthoringActivities.synthesize_samples
    phase = "synthesize"

    @workflow.run
    async def run(self, inp: OperationInput) -> OperationResult:
        return await self._run(inp)
