"""A small pool of extractor processes per API event loop, killable when a request's budget ends.

A thread running trafilatura cannot be stopped: a hostile page (a huge table) kept extracting and
holding memory long after its request had timed out. Here each extraction runs in a long-lived
child process (``api/extract_worker.py``), started on first use. A job that is cancelled — its
request's time budget ended, or the client went away — kills its process; the next job starts a
fresh one. At most ``EXTRACT_WORKERS`` extractions run at once per API process, so concurrent
huge pages wait for a slot (within their own budget) instead of piling up memory. A process that
was handed an oversized page is replaced after answering, so its heap goes back to the kernel.

Processes are asyncio subprocesses, which belong to the loop that started them, so there is one
pool per running loop (an API process serves from one); the app's lifespan closes it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import weakref
from subprocess import PIPE

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from api.extract_worker import AS_BYTES, AS_TEXT, FRAME, frame

EXTRACT_WORKERS = 2


class ExtractionFailed(Exception):
    """The extractor raised on the page, or its process died while working on it."""


class _Worker:
    def __init__(self, process: Process) -> None:
        self.process = process
        self._replies = BufferedByteReceiveStream(process.stdout)

    @classmethod
    async def start(cls) -> _Worker:
        # A session of its own: a terminal's Ctrl-C goes to the API, which then closes the pool.
        process = await anyio.open_process([sys.executable, "-m", "api.extract_worker"],
                                           stdin=PIPE, stdout=PIPE, stderr=None,
                                           start_new_session=True)
        return cls(process)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def run(self, job: bytes) -> dict:
        try:
            await self.process.stdin.send(frame(job))
            (size,) = FRAME.unpack(await self._replies.receive_exactly(FRAME.size))
            reply = json.loads(await self._replies.receive_exactly(size))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream,
                anyio.IncompleteRead) as exc:
            raise ExtractionFailed("The extractor process ended during the job.") from exc
        if "error" in reply:
            raise ExtractionFailed(f"The extractor failed on the page ({reply['error']}).")
        return reply

    async def kill(self) -> None:
        with anyio.CancelScope(shield=True):
            if self.alive:
                self.process.kill()
            await self.process.aclose()


class ExtractorPool:
    def __init__(self, size: int = EXTRACT_WORKERS) -> None:
        self._slots = anyio.Semaphore(size)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()

    @property
    def pids(self) -> list[int]:
        """Process ids of the live extractor processes (for tests and diagnostics)."""
        return [w.process.pid for w in [*self._idle, *self._busy] if w.alive]

    async def extract(self, html: str | bytes) -> tuple[str, bool]:
        """(readable text, whether the page was cut to the element cap). Bounded by the caller's
        cancel scope: when it ends, the process doing the work is killed."""
        job = AS_TEXT + html.encode("utf-8") if isinstance(html, str) else AS_BYTES + html
        async with self._slots:
            worker = await self._take()
            self._busy.add(worker)
            try:
                reply = await worker.run(job)
            except BaseException:
                await worker.kill()
                raise
            finally:
                self._busy.discard(worker)
            if reply["cut"]:
                await worker.kill()
            else:
                self._idle.append(worker)
            return reply["text"], reply["cut"]

    async def _take(self) -> _Worker:
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
            await worker.kill()
        with anyio.CancelScope(shield=True):  # a started process is always tracked, never orphaned
            return await _Worker.start()

    async def aclose(self) -> None:
        workers = [*self._idle, *self._busy]
        self._idle.clear()
        for worker in workers:
            await worker.kill()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ExtractorPool] = weakref.WeakKeyDictionary()


def extractor_pool() -> ExtractorPool:
    """The running loop's pool, created on first use."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = ExtractorPool()
    return pool


async def close_extractor_pool() -> None:
    """Kills the running loop's extractor processes; a later extraction starts a new pool."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.aclose()
