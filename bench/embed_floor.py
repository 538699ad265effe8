"""The open-loop floor: the latency of bare embeddings arriving as the open-loop bench sends requests.

No HTTP, no server, no scoring: short texts arrive as a Poisson process (bench/open_loop.py's
``arrival_offsets``) and are embedded in process, in arrival order, by ``servers`` embedders. Latency
counts from each arrival's scheduled time, as in the open-loop bench. Two layouts:
- ``pinned``: one process per server, each taking an equal share of the arrivals in its own queue —
  what API processes are when keep-alive pins each client connection to one of them;
- ``shared``: one queue that every server takes from (threads of one process; ONNX releases the GIL).
Whatever the server adds comes on top of this floor, so it tells how far a latency target is from
what the machine can do at all (issue #15).

The CPU floor (``cpu_floor``) is the same idea for the closed-loop ceiling: one process per core,
each embedding the short text back to back, all at once. Cores ÷ their embeddings per second is the
CPU one embedding costs when every core embeds, which is what a saturated server's CPU per request
can at best come down to. It is more than the embed p50 measured alone when the cores share
something (execution units of a host core, caches, memory bandwidth).

Run alone: .venv/bin/python -m bench.embed_floor --rate 110 [--seconds 12] [--servers 2] [--cpu]
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


def _warm_embedder():
    """(the loaded embedder, the short text), after a few warm-up embeddings."""
    from bench.http_scoring import SHORT  # here: bench.http_scoring imports this module
    from engine.embedders import get_embedder

    embedder = get_embedder("minilm")
    for _ in range(30):
        embedder.embed(SHORT)
    return embedder, SHORT


def _serve(offsets: list[float], servers: int) -> list[float]:
    """Embed one short text per arrival with ``servers`` threads on one FIFO queue; latencies in ms."""
    embedder, short = _warm_embedder()
    arrivals: queue.SimpleQueue[float | None] = queue.SimpleQueue()
    latencies: list[float] = []
    start = time.perf_counter() + 0.2

    def server() -> None:
        while (offset := arrivals.get()) is not None:
            embedder.embed(short)
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


def _back_to_back(seconds: float) -> dict:
    """Load and warm up, say so on stdout, then on a line from stdin embed the short text back to back
    for ``seconds``."""
    embedder, short = _warm_embedder()
    print("ready", flush=True)
    sys.stdin.readline()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        embedder.embed(short)
        count += 1
    return {"embeds": count, "seconds": time.perf_counter() - started}


def cpu_floor(seconds: float, servers: int) -> dict:
    """``servers`` processes embedding back to back at once: their embeddings per second in total and,
    for as many processes as cores, the CPU per embedding (cores ÷ that rate)."""
    command = [sys.executable, "-m", "bench.embed_floor", "--back-to-back", str(seconds)]
    children = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
                for _ in range(servers)]
    for child in children:  # every child has loaded the model before any starts
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError(f"an embedding process failed to start (exit {child.wait()})")
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    runs = [json.loads(child.communicate()[0]) for child in children]
    rate = sum(run["embeds"] / run["seconds"] for run in runs)
    return {"servers": servers, "embeds_per_s": round(rate, 1),
            "cpu_ms_per_embed": round(1000 * servers / rate, 2),
            "per_process_ms": [round(1000 * run["seconds"] / run["embeds"], 2) for run in runs]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, help="arrivals per second in total (required but for children)")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cpu", action="store_true", help="also the CPU floor (every server embedding at once)")
    parser.add_argument("--one-queue", action="store_true", help=argparse.SUPPRESS)  # a pinned layout's child
    parser.add_argument("--back-to-back", type=float, help=argparse.SUPPRESS)  # a CPU floor's child: seconds
    args = parser.parse_args()
    if args.back_to_back:
        print(json.dumps(_back_to_back(args.back_to_back)))
        return 0
    if args.one_queue:
        print(json.dumps(_serve(arrival_offsets(args.rate, args.seconds, args.seed), 1)))
        return 0
    if args.rate is None:
        parser.error("--rate is required")
    for layout in ("pinned", "shared"):
        print(json.dumps(floor(args.rate, args.seconds, args.servers, layout, args.seed)), flush=True)
    if args.cpu:
        print(json.dumps(cpu_floor(args.seconds, args.servers)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
