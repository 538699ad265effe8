"""How the embedded Temporal dev server's memory follows the workflow runs it has seen.

The soak showed the dev server's RSS climbing ~2 MB/min under Assay's traffic while every Assay
process stayed flat. This bench isolates it: a fresh `temporal server start-dev` (the same binary and
SQLite persistence `assay up` uses) and one worker completing trivial workflows as fast as 8 loops can
start them. The Go runtime prints every garbage collection (GODEBUG=gctrace=1); the live heap it
reports after marking is the memory the server actually retains, so garbage and GC pacing are out of
the picture. The result pairs that live heap with the number of runs completed at the time.

What it answers: whether the retention grows per run without bound (a leak) or fills up and stops
(a bounded cache). Trivial runs are much smaller than a training run, so the MB figures are a floor;
the shape is what counts.

    python -m bench.temporal_memory --seconds 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from bench.soak_stack import rss_bytes
from cli.ports import free_port
from cli.probes import temporal_healthy
from cli.up import TEMPORAL_SQLITE_PRAGMAS
from settings import temporal_cli_path

RESULTS = Path(__file__).resolve().parent / "results"
GC_LINE = re.compile(r"^gc \d+ @([\d.]+)s .*?(\d+)->(\d+)->(\d+) MB")
TASK_QUEUE = "temporal-memory-bench"
LOOPS = 8
STARTUP_LIMIT = 60.0  # seconds for the fresh server to answer its health check


@workflow.defn(sandboxed=False)
class TrivialRun:
    @workflow.run
    async def run(self, value: int) -> int:
        return value + 1


def _gc_points(log_text: str) -> list[tuple[float, int]]:
    """(seconds since start, live heap MB after marking) for every GC the server printed."""
    points = []
    for line in log_text.splitlines():
        match = GC_LINE.match(line)
        if match:
            points.append((float(match[1]), int(match[4])))
    return points


async def _drive(address: str, seconds: float, server_started: float) -> list[tuple[float, int]]:
    """Completes runs for `seconds`; returns (seconds since server start, runs completed) every second."""
    client = await Client.connect(address)
    done = 0
    timeline: list[tuple[float, int]] = []
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[TrivialRun]):
        end = time.monotonic() + seconds

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < end:
                await client.execute_workflow(TrivialRun.run, 1, id=f"run-{uuid.uuid4().hex}", task_queue=TASK_QUEUE)
                done += 1

        async def record() -> None:
            while time.monotonic() < end:
                timeline.append((time.monotonic() - server_started, done))
                await asyncio.sleep(1)

        await asyncio.gather(record(), *[loop() for _ in range(LOOPS)])
    return timeline


def _runs_at(timeline: list[tuple[float, int]], seconds: float) -> int:
    earlier = [runs for at, runs in timeline if at <= seconds]
    return earlier[-1] if earlier else 0


def measure(seconds: float) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="assay-temporal-memory-") as scratch:
        log_path = Path(scratch) / "temporal.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [temporal_cli_path(), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
                 "--port", str(port), "--db-filename", str(Path(scratch) / "temporal.db"),
                 *TEMPORAL_SQLITE_PRAGMAS, "--log-level", "warn"],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "GODEBUG": "gctrace=1"})
        started = time.monotonic()
        try:
            while not temporal_healthy(f"127.0.0.1:{port}", "default"):
                if time.monotonic() - started > STARTUP_LIMIT or server.poll() is not None:
                    raise RuntimeError(f"the Temporal dev server did not come up; see {log_path}")
                time.sleep(0.2)
            ready_at = time.monotonic() - started
            timeline = asyncio.run(_drive(f"127.0.0.1:{port}", seconds, started))
            rss_mb = round((rss_bytes(server.pid) or 0) / 2**20, 1)
        finally:
            server.terminate()
            server.wait(timeout=30)
        gcs = _gc_points(log_path.read_text(errors="replace"))
    # GCs during the server's own start-up say nothing about runs.
    points = [{"seconds": round(at, 1), "runs": _runs_at(timeline, at), "live_mb": live}
              for at, live in gcs if at >= ready_at]
    return {"seconds": seconds, "loops": LOOPS, "runs": timeline[-1][1] if timeline else 0,
            "rss_mb_at_end": rss_mb, "points": points}


def markdown(result: dict) -> str:
    points = result["points"]
    lines = [
        "# Temporal dev server: live heap against workflow runs", "",
        f"`python -m bench.temporal_memory --seconds {result['seconds']:.0f}`: {result['runs']} trivial runs "
        f"completed by {result['loops']} loops on one worker; live heap after each GC (GODEBUG=gctrace=1). "
        f"RSS at the end: {result['rss_mb_at_end']} MB.", "",
        "| seconds | runs completed | live heap MB |", "|---:|---:|---:|",
    ]
    step = max(1, len(points) // 20)
    for point in points[::step] + ([points[-1]] if points and (len(points) - 1) % step else []):
        lines.append(f"| {point['seconds']} | {point['runs']} | {point['live_mb']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--out", default=str(RESULTS / "temporal_memory"), help="results path without extension")
    args = parser.parse_args()
    result = measure(args.seconds)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
