"""Open-loop HTTP load: requests arrive at a fixed average rate whether or not earlier ones answered.

Arrivals follow a Poisson process (exponential gaps, seeded). A fixed pool of client connections
(keep-alive, one request in flight each) takes them in arrival order; an arrival that finds every
connection busy waits in the client's queue, like a user whose request is stuck behind others.
Latency is measured from the arrival's *scheduled* time, so waiting in that queue counts
(no coordinated omission); `service_ms` is measured from the moment the request was sent.

A closed loop (wrk) answers "how many requests per second at most"; this answers "how long does a
request take when users send N per second", which is what a latency target means.
"""

from __future__ import annotations

import asyncio
import random
import resource
import statistics
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class OpenLoopResult:
    offered_req_per_s: float
    connections: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    service_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_statuses: dict[str, int] = field(default_factory=dict)
    generator_cpu_s: float = 0.0
    span_s: float = 0.0

    def summary(self) -> dict:
        ordered = sorted(self.latencies_ms)
        service = sorted(self.service_ms)
        done = len(ordered) + self.errors
        return {
            "connections": self.connections,
            "offered_req_per_s": self.offered_req_per_s,
            "req_per_s": round(len(ordered) / self.span_s, 1) if self.span_s else None,
            "requests": done,
            "errors": self.errors,
            "error_statuses": self.error_statuses,
            "p50_ms": _percentile(ordered, 50),
            "p90_ms": _percentile(ordered, 90),
            "p99_ms": _percentile(ordered, 99),
            "max_ms": round(ordered[-1], 2) if ordered else None,
            "service_p50_ms": _percentile(service, 50),
            "generator_cpu_ms_per_request": round(1000 * self.generator_cpu_s / done, 3) if done else None,
        }


def _percentile(ordered: list[float], q: int) -> float | None:
    if not ordered:
        return None
    if len(ordered) == 1:
        return round(ordered[0], 2)
    return round(statistics.quantiles(ordered, n=100, method="inclusive")[q - 1], 2)


def arrival_offsets(rate: float, seconds: float, seed: int) -> list[float]:
    """Seconds after the start at which requests arrive: a Poisson process of ``rate`` per second."""
    rng = random.Random(seed)
    offsets, at = [], rng.expovariate(rate)
    while at < seconds:
        offsets.append(at)
        at += rng.expovariate(rate)
    return offsets


async def open_loop(url: str, headers: dict, body: dict, *, rate: float, seconds: float,
                    connections: int = 20, seed: int = 1, timeout: float = 30.0) -> dict:
    """POST ``body`` to ``url`` at ``rate`` requests/s on average for ``seconds``; returns the summary."""
    loop = asyncio.get_running_loop()
    result = OpenLoopResult(rate, connections, seconds)
    pending: asyncio.Queue[float | None] = asyncio.Queue()

    async def connection(client: httpx.AsyncClient) -> None:
        while (scheduled := await pending.get()) is not None:
            sent = loop.time()
            try:
                response = await client.post(url, json=body, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            finished = loop.time()
            if status == 200:
                result.latencies_ms.append((finished - scheduled) * 1000)
                result.service_ms.append((finished - sent) * 1000)
            else:
                result.errors += 1
                result.error_statuses[str(status)] = result.error_statuses.get(str(status), 0) + 1

    # One client per connection: each holds exactly one keep-alive connection, as a user would.
    clients = [httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=1)) for _ in range(connections)]
    try:
        cpu_before = _cpu_seconds()
        workers = [asyncio.create_task(connection(client)) for client in clients]
        start = loop.time()
        for offset in arrival_offsets(rate, seconds, seed):
            delay = start + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.put_nowait(start + offset)
        for _ in workers:
            pending.put_nowait(None)
        await asyncio.gather(*workers)
        result.span_s = loop.time() - start
        result.generator_cpu_s = _cpu_seconds() - cpu_before
    finally:
        for client in clients:
            await client.aclose()
    return result.summary()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(url: str, headers: dict, body: dict, *, rate: float, seconds: float, connections: int = 20,
        seed: int = 1) -> dict:
    """Synchronous entry point (own event loop), for use from a thread of another program."""
    started = time.monotonic()
    summary = asyncio.run(open_loop(url, headers, body, rate=rate, seconds=seconds, connections=connections,
                                    seed=seed))
    summary["wall_s"] = round(time.monotonic() - started, 1)
    return summary
