"""The open-loop floor: the latency of bare embeddings arriving as the open-loop bench sends requests.

No HTTP, no server, no scoring: short texts arrive as a Poisson process (bench/open_loop.py's
``arrival_offsets``) and are embedded in process, in arrival order, by ``servers`` embedders. Latency
counts from each arrival's scheduled time, as in the open-loop bench. Two layouts:
- ``pinned``: one process per server, each taking an equal share of the arrivals in its own queue —
  what API processes are when keep-alive pins each client connection to one of them;
- ``shared``: one queue that every server takes from (threads of one process; ONNX releases the GIL).
Whatever the server adds comes on top of this floor, so it tells how far a latency target is from
what the machine can do at all (issue #15).

Run alone: .venv/bin/python -m bench.embed_floor --rate 110 [--seconds 12] [--servers 2]
"""

from __future__ import annotations

import argparse
import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.open_loop import arrival_offsets

REPO_ROOT = Path(__file__).resolve().parents[1]


def _serve(offsets: list[float], servers: int) -> list[float]:
    """Embed one short text per arrival with ``servers`` threads on one FIFO queue; latencies in ms."""
    from bench.http_scoring import SHORT  # here: bench.http_scoring imports this module
    from engine.embedders import get_embedder

    embedder = get_embedder("minilm")
    for _ in range(30):
        embedder.embed(SHORT)
    arrivals: queue.SimpleQueue[float | None] = queue.SimpleQueue()
    latencies: list[float] = []
    start = time.perf_counter() + 0.2

    def server() -> None:
        while (offset := arrivals.get()) is not None:
            embedder.embed(SHORT)
            latencies.append((time.perf_counter() - start - offset) * 1000)

    threads = [threading.Thread(target=server) for _ in range(servers)]
    for thread in threads:
        thread.start()
    for offset in offsets:
        wait = offset - (time.perf_counter() - start)
        if wait > 0:
            time.sleep(wait)
        arrivals.put(offset)
    for _ in threads:
        arrivals.put(None)
    for thread in threads:
        thread.join()
    return latencies


def _percentiles(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    at = lambda q: round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 2)  # noqa: E731
    return {"requests": len(ordered), "p50_ms": at(50), "p90_ms": at(90), "p99_ms": at(99)}


def floor(rate: float, seconds: float, servers: int, layout: str, seed: int = 1) -> dict:
    """The floor at ``rate`` arrivals per second in total, ``layout`` pinned or shared."""
    if layout == "shared":
        return {"layout": layout, "rate": rate, **_percentiles(_serve(arrival_offsets(rate, seconds, seed), servers))}
    # Pinned: each process draws its own Poisson share (a Poisson process split at random stays Poisson).
    command = [sys.executable, "-m", "bench.embed_floor", "--one-queue", "--rate", str(rate / servers),
               "--seconds", str(seconds)]
    children = [subprocess.Popen([*command, "--seed", str(seed + index)], stdout=subprocess.PIPE, text=True,
                                 cwd=REPO_ROOT)
                for index in range(servers)]
    latencies = [value for child in children for value in json.loads(child.communicate()[0])]
    return {"layout": layout, "rate": rate, **_percentiles(latencies)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, required=True, help="arrivals per second in total")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--one-queue", action="store_true", help=argparse.SUPPRESS)  # a pinned layout's child
    args = parser.parse_args()
    if args.one_queue:
        print(json.dumps(_serve(arrival_offsets(args.rate, args.seconds, args.seed), 1)))
        return 0
    for layout in ("pinned", "shared"):
        print(json.dumps(floor(args.rate, args.seconds, args.servers, layout, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
