"""A cancelled long activity stops its CPU work: the cancellation Temporal delivers to the
heartbeating coroutine reaches the thread at its next progress report (activities.progress)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from temporalio.testing import ActivityEnvironment

from activities import ActivityDeps
from activities.progress import ProgressSink, WorkCancelled, run_reporting


async def test_a_cancelled_activity_stops_its_cpu_work_at_the_next_report(settings):
    deps = ActivityDeps.from_settings(settings)
    sink = ProgressSink("search")
    reports: list[int] = []
    reporting, stopped = threading.Event(), threading.Event()

    def work() -> str:  # stands for a search loop: one progress report per configuration group
        try:
            for n in range(100_000):
                sink.set("search", n, 100_000, f"config {n}")
                reports.append(n)
                reporting.set()
                time.sleep(0.01)
        except WorkCancelled:
            stopped.set()
            raise
        return "finished"

    heartbeats: list = []
    env = ActivityEnvironment()
    env.on_heartbeat = heartbeats.append
    try:
        running = asyncio.ensure_future(env.run(run_reporting, deps, "run_unit_cancel", sink, work))
        assert await asyncio.to_thread(reporting.wait, 30)
        for _ in range(200):  # the first heartbeat: the point where a real cancel is delivered
            if heartbeats:
                break
            await asyncio.sleep(0.05)
        env.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert await asyncio.to_thread(stopped.wait, 2), "the CPU work went on after the cancellation"
        assert heartbeats, "the activity heartbeats while it works (that is how a cancel reaches it)"
        count = len(reports)
        await asyncio.sleep(0.3)
        assert len(reports) == count and count < 100_000
    finally:
        deps.close()


def test_a_sink_refuses_reports_once_cancelled():
    sink = ProgressSink("embed")
    sink.set("embed", 1, 2, "one of two")
    sink.cancel()
    with pytest.raises(WorkCancelled):
        sink.set("embed", 2, 2, "two of two")
    assert sink.snapshot()[1].done == 1
