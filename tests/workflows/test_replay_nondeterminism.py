"""The replay suite catches a non-deterministic change: a copy of TrainWorkflow, registered under the
same workflow name, whose activities run in another order, must not replay the recorded train."""

from __future__ import annotations

from temporalio import workflow
from temporalio.worker import Replayer

# The sandbox re-imports this module to run the workflow defined here: everything else passes through.
with workflow.unsafe.imports_passed_through():
    import pytest

    from activities.lifecycle import LifecycleActivities
    from activities.training import TrainingActivities
    from tests.workflows.test_replay import HISTORIES, load_history
    from workflows.common import BOOKKEEPING, LONG_WORK
    from workflows.train import TrainWorkflow
    from contracts.payloads import FitInput, OperationInput, OperationResult, RunRef


@workflow.defn(name="TrainWorkflow")
class ReorderedTrainWorkflow(TrainWorkflow):
    """The change a careless deploy would ship: fit before the run is marked running."""

    @workflow.run
    async def run(self, inp: OperationInput) -> OperationResult:
        ref = RunRef(inp.run_id, inp.model_id, inp.kind)
        await workflow.execute_activity_method(
            TrainingActivities.fit_model, FitInput(inp.run_id, inp.model_id, inp.handle, inp.kind, inp.effort),
            **LONG_WORK)
        await workflow.execute_activity_method(LifecycleActivities.mark_running, ref, **BOOKKEEPING)
        published = await workflow.execute_activity_method(TrainingActivities.publish_version, ref, **BOOKKEEPING)
        return OperationResult(inp.run_id, "succeeded", published.version_no, published.activated)


async def test_a_reordered_train_workflow_fails_replay_with_nondeterminism():
    train_histories = sorted(HISTORIES.glob("*/TrainWorkflow-train.json"))
    assert train_histories, "no recorded TrainWorkflow-train history"
    for path in train_histories:
        result = await Replayer(workflows=[ReorderedTrainWorkflow]).replay_workflow(
            load_history(path), raise_on_replay_failure=False)
        assert isinstance(result.replay_failure, workflow.NondeterminismError), \
            f"{path.parent.name}: {result.replay_failure!r}"
        with pytest.raises(workflow.NondeterminismError):  # and raised when asked to raise
            await Replayer(workflows=[ReorderedTrainWorkflow]).replay_workflow(load_history(path))
