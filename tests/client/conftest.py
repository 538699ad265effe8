"""A real uvicorn server in its own thread, so the blocking client can be tested over TCP while the
test body blocks (an in-process ASGI transport is async-only)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import uvicorn

from api.app import create_app
from cli.ports import free_port


@pytest.fixture(scope="session")
def threaded_base_url(settings) -> Iterator[str]:
    # Its own app: the session's Temporal client belongs to the session loop, not this thread's loop.
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning"))
    thread = threading.Thread(target=server.run, name="client-test-uvicorn", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server stopped before it started")
        thread.join(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
