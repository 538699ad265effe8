"""What a worker process is built with comes from the settings."""

from activities import ActivityDeps
from worker import build_worker


async def test_the_workflow_cache_and_activity_slots_follow_the_settings(settings, temporal_env, task_queue):
    tuned = settings.model_copy(update={"worker_cached_workflows": 7, "worker_concurrency": 3})
    deps = ActivityDeps.from_settings(tuned)
    try:
        # Its own queue: the session's worker already polls ``task_queue`` with this client.
        config = build_worker(temporal_env.client, tuned, deps, task_queue=f"{task_queue}-config").config()
        assert config["max_cached_workflows"] == 7
        assert config["max_concurrent_activities"] == 3
    finally:
        deps.close()
