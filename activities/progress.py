"""Running CPU-bound work off the event loop while heartbeating its progress.

The work runs in the CPU pool; this coroutine wakes every TICK_SECONDS to heartbeat the latest
progress. The heartbeat is both the liveness check (a dead worker is noticed within the heartbeat
timeout) and the carrier of fine-grained progress: the API reads it from the run's pending activity
(``describe``), so progress costs the workflow's history nothing. Workers send heartbeats to the
server at least every HEARTBEAT_FLUSH (the SDK would otherwise hold them for 80 % of the heartbeat
timeout). Progress is also recorded in the store every RECORD_SECONDS, the fallback when Temporal
cannot answer.

Cancellation: Temporal delivers a cancel request to the activity in the answer to a heartbeat, as
a cancellation of this coroutine. The CPU thread cannot be interrupted from outside, so the sink is
marked cancelled and the engine's next progress report (after each text embedded, after each group
of configurations searched) raises ``WorkCancelled`` in that thread: the fit stops within one
group instead of running to the end of its grid, and nothing is staged or written afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import timedelta
from typing import Any, Callable

from temporalio import activity

from activities.deps import ActivityDeps
from contracts.progress import Progress, running_fraction
from store.runs import record_progress

log = logging.getLogger("assay.worker")
TICK_SECONDS = 0.25
HEARTBEAT_FLUSH = timedelta(seconds=1)
RECORD_SECONDS = 2.0


class WorkCancelled(Exception):
    """Raised in the CPU thread at its next progress report once the activity was cancelled."""


class ProgressSink:
    """Written by engine callbacks on the CPU thread, read by the reporting loop."""

    def __init__(self, phase: str, message: str = "", *, done_before: int = 0) -> None:
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._progress = Progress(phase, 0, 0, 0.0, message)
        self.version = 0
        self.done_before = done_before  # units an earlier step of the run finished (embedded texts)

    def cancel(self) -> None:
        self._cancelled.set()

    def check_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise WorkCancelled()

    def set(self, phase: str, done: int, total: int, message: str) -> None:
        self.check_cancelled()  # every progress report is a point where cancelled work stops
        with self._lock:
            self._progress = Progress(phase, int(done), int(total), running_fraction(done, total), message)
            self.version += 1

    def training_callback(self, done: int, total: int, message: str) -> None:
        # train_model reports embedding first, then the configuration search.
        phase = "embed" if message.startswith("embedding") else "search"
        self.set(phase, done + self.done_before, total + self.done_before, message)

    def embedding_callback(self, done: int, total: int, search_units: int) -> None:
        # The run's fraction spans embedding and the search that follows, as in a single fit.
        self.set("embed", done, total + search_units, f"embedding samples {done}/{total}")

    def snapshot(self) -> tuple[int, Progress]:
        with self._lock:
            return self.version, self._progress


async def run_reporting(deps: ActivityDeps, run_id: str, sink: ProgressSink, work: Callable[..., Any],
                        *args: Any) -> Any:
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(deps.cpu_executor, work, *args)
    try:
        return await _report_until_done(deps, run_id, sink, future)
    except asyncio.CancelledError:  # at whichever await of the loop the cancellation arrived
        sink.cancel()  # the CPU thread stops at its next progress report
        future.add_done_callback(lambda done: done.cancelled() or done.exception())  # nobody awaits it now
        raise


async def _report_until_done(deps: ActivityDeps, run_id: str, sink: ProgressSink, future: asyncio.Future) -> Any:
    recorded, recorded_at = -1, 0.0
    while True:
        finished, _ = await asyncio.wait({future}, timeout=TICK_SECONDS)
        version, progress = sink.snapshot()
        activity.heartbeat(progress.as_dict())
        if finished:
            return future.result()
        if version == recorded or time.monotonic() - recorded_at < RECORD_SECONDS:
            continue
        recorded, recorded_at = version, time.monotonic()
        try:  # the stored copy is best effort: a slow DB write must not fail the work
            await asyncio.to_thread(_record, deps, run_id, progress.as_dict())
        except Exception as exc:  # noqa: BLE001
            log.debug("progress record skipped for %s: %s", run_id, type(exc).__name__)


def _record(deps: ActivityDeps, run_id: str, progress: dict) -> None:
    with deps.transaction() as session:
        record_progress(session, run_id, progress)
