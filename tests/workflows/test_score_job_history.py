"""A score job's history stays bounded: past its event limit a run continues as new, and the job
still scores every item exactly once (real worker, database and embedder; a small limit)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from temporalio.api.enums.v1 import EventType

from store.tables import ScoreJob, ScoreJobChunk, ScoreJobItem
from tests.api.trained import CLEAR, WARM, create_model, train_now
from tests.workflows.score_jobs_support import start_job_directly

HISTORY_LIMIT = 40
IN_FLIGHT = 2


async def test_a_job_past_its_history_limit_continues_as_new_and_scores_every_item_once(
        http, make_key, sessionmaker_, worker, temporal_env, task_queue):
    namespace = f"h{uuid.uuid4().hex[:12]}"
    owner = await make_key(namespace)
    handle = f"{namespace}.replies"
    await create_model(http, owner["headers"], handle)
    await train_now(sessionmaker_, handle)
    contents = [(CLEAR + WARM)[i % 14] for i in range(90)]
    job_id, run = await start_job_directly(sessionmaker_, temporal_env.client, task_queue, handle, contents, namespace,
                                           chunk_size=3, chunks_in_flight=IN_FLIGHT, history_limit=HISTORY_LIMIT)
    result = await run.result()
    assert (result.state, result.scored, result.failed) == ("succeeded", 90, 0)

    # Walk the chain of runs from the first: every run but the last continued as new, each bounded.
    lengths, run_id = [], run.first_execution_run_id
    while run_id:
        history = await temporal_env.client.get_workflow_handle(job_id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        last = history.events[-1]
        run_id = (last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                  if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW else None)
    assert len(lengths) >= 3, lengths  # 30 chunks at ~6 events each cannot fit one run of 40
    assert max(lengths) <= HISTORY_LIMIT + IN_FLIGHT * 6 + 12, lengths

    async with sessionmaker_() as session:
        job = await session.scalar(select(ScoreJob).where(ScoreJob.job_id == job_id))
        items = list(await session.scalars(select(ScoreJobItem).where(ScoreJobItem.job_pk == job.id)
                                           .order_by(ScoreJobItem.seq)))
        chunks = list(await session.scalars(select(ScoreJobChunk.chunk_no).where(ScoreJobChunk.job_pk == job.id)))
    assert job.state == "succeeded" and (job.scored, job.failed) == (90, 0)
    assert [i.seq for i in items] == list(range(90)) and all(i.result for i in items)
    assert sorted(chunks) == list(range(30))
    assert set(job.summary) == {"clarity", "warmth"}
