"""Starting a ScoreJobWorkflow straight through Temporal with chosen limits (chunk size, history
limit), on a job stored the way the API stores one; for the continue-as-new test and the recorder."""

from __future__ import annotations

from sqlalchemy import select

from api.score_jobs import new_job_id
from contracts.payloads import ScoreJobInput
from store import score_jobs as job_store
from store.tables import Model, Version
from workflows.score_job import ScoreJobWorkflow


async def start_job_directly(sessionmaker, client, task_queue: str, handle: str, contents: list[str],
                             namespace: str, **limits):
    """(job id, workflow handle) of a new job over `contents` on the model's active version."""
    job_id = new_job_id()
    async with sessionmaker() as session:
        model = await session.scalar(select(Model).where(Model.handle == handle))
        version = await session.get(Version, model.active_version_id)
        await session.run_sync(lambda s: job_store.create_job(
            s, job_id=job_id, model_id=model.id, handle=handle, version_id=version.id,
            version_no=version.version_no, traits=None, max_depth=model.max_depth,
            zero_data_retention=model.zero_data_retention, namespaces=[namespace],
            items=[job_store.NewItem(str(i), text) for i, text in enumerate(contents)]))
        await session.commit()
    run = await client.start_workflow(ScoreJobWorkflow.run, ScoreJobInput(job_id, handle, len(contents), **limits),
                                      id=job_id, task_queue=task_queue)
    return job_id, run
