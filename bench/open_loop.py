"""Open-loop HTTP load: requests arrive at a fixed average rate whether or not earlier ones answered.

Arrivals follow a Poisson process (exponential gaps, seeded). A fixed pool of client connections
(keep-alive, one request in flight each) takes them in arrival order; an arrival that finds every
connection busy waits in the client's queue, like a user whose request is stuck behind others.
Latency is measured from the arrival's *scheduled* time, so waiting in that queue counts
(no coordinated omission); `service_ms` is measured from the moment the request was sent.

Only HTTP (not HTTPS) targets are supported: the generator talks to a local stack.

A closed loop (wrk) answers "how many requests per second at most"; this answers "how long does a
request take when users send N per second", which is what a latency target means.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11


@dataclass
class OpenLoopResult:
    offered_req_per_s: float
    connections: int
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


class _Connection:
    """One keep-alive HTTP/1.1 connection: asyncio streams, with h11 doing the framing.

    httpx costs about 3 ms of CPU per request, which on a 2-core machine is taken from the server
    under test; this costs a small fraction of that (see ``generator_cpu_ms_per_request``).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.protocol: h11.Connection | None = None

    async def post(self, path: str, headers: list[tuple[str, str]], body: bytes) -> int:
        if self.protocol is None or self.protocol.our_state is not h11.IDLE:
            await self.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.protocol = h11.Connection(h11.CLIENT)
        request = h11.Request(method="POST", target=path,
                              headers=[("Host", f"{self.host}:{self.port}"), ("Content-Length", str(len(body))),
                                       *headers])
        self.writer.write(self.protocol.send(request) + self.protocol.send(h11.Data(data=body))
                          + self.protocol.send(h11.EndOfMessage()))
        status = 0
        while True:
            event = self.protocol.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError("the server closed the connection")
                self.protocol.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                break
        if self.protocol.our_state is h11.DONE and self.protocol.their_state is h11.DONE:
            self.protocol.start_next_cycle()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = self.protocol = None


async def open_loop(url: str, headers: dict, body: dict, *, rate: float, seconds: float,
                    connections: int = 20, seed: int = 1, timeout: float = 30.0) -> dict:
    """POST ``body`` to ``url`` at ``rate`` requests/s on average for ``seconds``; returns the summary."""
    loop = asyncio.get_running_loop()
    result = OpenLoopResult(rate, connections)
    pending: asyncio.Queue[float | None] = asyncio.Queue()
    target = urlsplit(url)
    path = target.path + (f"?{target.query}" if target.query else "")
    payload = json.dumps(body).encode()
    header_list = [("Content-Type", "application/json"), *headers.items()]

    async def connection(conn: _Connection) -> None:
        while (scheduled := await pending.get()) is not None:
            sent = loop.time()
            try:
                status = await asyncio.wait_for(conn.post(path, header_list, payload), timeout)
            except (OSError, ConnectionError, asyncio.TimeoutError, h11.ProtocolError) as exc:
                status = type(exc).__name__
                await conn.close()
            finished = loop.time()
            if status == 200:
                result.latencies_ms.append((finished - scheduled) * 1000)
                result.service_ms.append((finished - sent) * 1000)
            else:
                result.errors += 1
                result.error_statuses[str(status)] = result.error_statuses.get(str(status), 0) + 1

    pool = [_Connection(target.hostname, target.port or 80) for _ in range(connections)]
    try:
        cpu_before = _cpu_seconds()
        workers = [asyncio.create_task(connection(conn)) for conn in pool]
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
        for conn in pool:
            await conn.close()
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
