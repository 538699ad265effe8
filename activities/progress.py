"""Running CPU-bound work off the event loop while heartbeating and reporting progress.

The work runs in the CPU pool; this coroutine wakes every second to heartbeat (so a dead worker is
noticed within the heartbeat timeout) and, when progress moved, signals the run's workflow (for the
live ``progress`` query) and records it in the store (the fallback when no worker can answer).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable

from temporalio import activity

from activities.deps import ActivityDeps
from store.operations import record_progress
from workflows.types import Progress, ProgressReport

log = logging.getLogger("assay.worker")
TICK_SECONDS = 1.0
SIGNAL_TIMEOUT = 5.0


class ProgressSink:
    """Written by engine callbacks on the CPU thread, read by the reporting loop."""

    def __init__(self, phase: str, message: str = "") -> None:
        self._lock = threading.Lock()
        self._progress = Progress(phase, 0, 0, 0.0, message)
        self.version = 0

    def set(self, phase: str, done: int, total: int, message: str) -> None:
        fraction = round(min(1.0, done / total), 4) if total else 0.0
        with self._lock:
            self._progress = Progress(phase, int(done), int(total), fraction, message)
            self.version += 1

    def training_callback(self, done: int, total: int, message: str) -> None:
        # train_model reports embedding first, then the configuration search.
        phase = "embed" if message.startswith("embedding") else "search"
        self.set(phase, done, total, message)

    def snapshot(self) -> tuple[int, Progress]:
        with self._lock:
            return self.version, self._progress


async def run_reporting(deps: ActivityDeps, run_id: str, sink: ProgressSink, work: Callable[..., Any],
                        *args: Any) -> Any:
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(deps.cpu_executor, work, *args)
    workflow_handle = activity.client().get_workflow_handle(activity.info().workflow_id)
    reported = -1
    while True:
        finished, _ = await asyncio.wait({future}, timeout=TICK_SECONDS)
        version, progress = sink.snapshot()
        activity.heartbeat(progress.as_dict())
        if finished:
            return future.result()
        if version == reported:
            continue
        reported = version
        try:  # progress is best effort: a slow signal or DB write must not fail the fit
            await asyncio.wait_for(workflow_handle.signal("report_progress", ProgressReport(progress)),
                                   SIGNAL_TIMEOUT)
            await asyncio.to_thread(_record, deps, run_id, progress.as_dict())
        except (asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001
            log.debug("progress report skipped for %s: %s", run_id, type(exc).__name__)


def _record(deps: ActivityDeps, run_id: str, progress: dict) -> None:
    with deps.transaction() as session:
        record_progress(session, run_id, progress)
