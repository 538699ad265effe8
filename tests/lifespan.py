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


@asynccontextmanager
async def served_over_tcp(app):
    """``app`` behind a real uvicorn server on a free loopback port; yields its base URL."""
    import uvicorn

    from cli.ports import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning"))
    # The test loop already runs; uvicorn must not take over the process's signal handling.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
