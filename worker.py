"""An Assay worker: runs the operation workflows and their activities. ``python -m worker``.

Several worker processes can share one task queue (``assay up`` starts N of them; in the scaled
deployment ``docker compose up --scale worker=4``). SIGTERM or SIGINT triggers a graceful shutdown:
no new tasks are taken, running activities get ``GRACEFUL_SHUTDOWN`` to finish, then the process
exits 0. An activity that does not finish in time is retried on another worker.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from activities import ActivityDeps, all_activities
from activities.progress import HEARTBEAT_FLUSH
from engine.heap import release_large_allocations
from settings import Settings, get_settings
from workflows.registry import ALL_WORKFLOWS
from workflows.webhooks import start_deliveries

log = logging.getLogger("assay.worker")
GRACEFUL_SHUTDOWN = timedelta(seconds=20)


def build_worker(client: Client, settings: Settings, deps: ActivityDeps, *, task_queue: str | None = None,
                 activity_executor: ThreadPoolExecutor | None = None) -> Worker:
    """A worker with every workflow and activity; sync activities run on ``activity_executor``."""
    concurrency = max(1, settings.worker_concurrency)
    queue = task_queue or settings.task_queue
    # Activities publish webhook events through this client, on this (the worker's) event loop.
    deps.start_deliveries = functools.partial(
        start_deliveries, client, queue, settings.webhook_retry_delay_list, settings.webhook_give_up_after,
        timedelta(seconds=settings.temporal_rpc_timeout))
    deps.worker_loop = asyncio.get_running_loop()
    return Worker(
        client,
        task_queue=queue,
        workflows=ALL_WORKFLOWS,
        activities=all_activities(deps),
        activity_executor=activity_executor or ThreadPoolExecutor(concurrency + 4, "assay-activity"),
        max_concurrent_activities=concurrency,
        max_cached_workflows=settings.worker_cached_workflows,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        max_heartbeat_throttle_interval=HEARTBEAT_FLUSH,  # heartbeats carry the live progress
    )


async def connect(settings: Settings) -> Client:
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)


async def run(settings: Settings) -> int:
    release_large_allocations()  # fits of growing models must not ratchet the worker's memory up
    client = await connect(settings)
    deps = ActivityDeps.from_settings(settings)
    worker = build_worker(client, settings, deps)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker polling task queue %s at %s", settings.task_queue, settings.temporal_address)
    running = asyncio.create_task(worker.run())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not running.done():
        log.info("shutting down: finishing running tasks")
        await worker.shutdown()
    try:
        await running
    finally:
        deps.close()
    return 0


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    sys.exit(asyncio.run(run(get_settings())))


if __name__ == "__main__":
    main()
