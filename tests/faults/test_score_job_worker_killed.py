"""A worker process SIGKILLed in the middle of a score job: its chunks move to another worker after
the heartbeat timeout, every item is written exactly once, and the version pinned when the job was
accepted scores every item although the model got a new active version meanwhile."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType

from store.tables import ScoreJob, ScoreJobChunk, ScoreJobItem
from tests.api.test_models import read_all_pages
from tests.api.trained import CLEAR, UNCLEAR, create_model, train_now
from tests.workflows.support import app_client, stop, worker_process

ITEMS = 2000


async def test_worker_killed_mid_job_every_item_once_on_the_pinned_version(settings, temporal_env, make_key,
                                                                          namespace, sessionmaker_):
    queue = f"fault-job-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(update={"task_queue": queue})
    first = worker_process(own, queue)
    second = None
    try:
        async with app_client(own, temporal_env.client) as (_, http):
            key = await make_key(namespace)
            handle = f"{namespace}.kill"
            await create_model(http, key["headers"], handle)
            await train_now(sessionmaker_, handle)
            items = [{"id": f"k{i}", "content": f"{(CLEAR + UNCLEAR)[i % 16]} Ticket {i}."} for i in range(ITEMS)]
            started = await http.post(f"/v1/models/{handle}/score-jobs", json={"items": items}, headers=key["headers"])
            assert started.status_code == 202, started.text
            job_id = started.json()["job_id"]
            deadline = time.monotonic() + 180
            while (await http.get(f"/v1/score-jobs/{job_id}", headers=key["headers"])).json()["counts"]["scored"] == 0:
                assert time.monotonic() < deadline, "no chunk finished"
                await asyncio.sleep(0.1)
            first.send_signal(signal.SIGKILL)  # it holds the chunks in flight
            first.wait(10)
            assert await train_now(sessionmaker_, handle) == 2  # a new active version while the job runs
            second = worker_process(own, queue)

            deadline = time.monotonic() + 300
            while (job := (await http.get(f"/v1/score-jobs/{job_id}", headers=key["headers"])).json())["state"] in (
                    "queued", "running"):
                assert time.monotonic() < deadline, job
                await asyncio.sleep(0.5)
            assert job["state"] == "succeeded", job
            assert job["counts"] == {"scored": ITEMS, "failed": 0} and job["version_id"] == "v1"
            results = await read_all_pages(http, f"/v1/score-jobs/{job_id}/results", key, limit=1000)
            assert [r["id"] for r in results] == [f"k{i}" for i in range(ITEMS)]
            assert {r["result"]["metadata"]["version_id"] for r in results} == {"v1"}

        async with sessionmaker_() as session:
            job_pk = await session.scalar(select(ScoreJob.id).where(ScoreJob.job_id == job_id))
            written = await session.scalar(select(func.count()).select_from(ScoreJobItem).where(
                ScoreJobItem.job_pk == job_pk, ScoreJobItem.result.is_not(None)))
            chunks = await session.scalar(select(func.count()).select_from(ScoreJobChunk).where(
                ScoreJobChunk.job_pk == job_pk))
        assert written == ITEMS and chunks == -(-ITEMS // own.job_chunk_size)
        history = await temporal_env.client.get_workflow_handle(job_id).fetch_history()
        retried = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
                   and e.activity_task_started_event_attributes.attempt > 1]
        assert retried, "no chunk was retried after the kill"
    finally:
        stop(first, signal.SIGKILL)
        if second is not None:
            assert stop(second) == 0
