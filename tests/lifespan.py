"""Runs an app's lifespan in a task of its own.

pytest-asyncio may set up and tear down a session fixture in different tasks; lifespans that open
anyio task groups (the MCP session manager does) must be entered and left in the same task.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager


@asynccontextmanager
async def serving(app):
    started = asyncio.Event()
    stop = asyncio.Event()

    async def run() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stop.wait()

    task = asyncio.create_task(run())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # startup failed: raise its error here
    try:
        yield app
    finally:
        stop.set()
        await task
