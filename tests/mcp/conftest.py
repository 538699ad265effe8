"""The app under a real uvicorn server on a free loopback port, and the SDK's own MCP client."""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from api.app import create_app


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
async def live_base_url(settings, temporal_env) -> AsyncIterator[str]:
    """A served app, reached over TCP like any MCP client would."""
    app = create_app(settings, temporal_client=temporal_env.client)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning"))
    # The session loop already runs; uvicorn must not take over the process's signal handling.
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


@pytest.fixture(scope="session")
def mcp_url(live_base_url) -> str:
    return f"{live_base_url}/mcp"


@pytest.fixture
async def rest(live_base_url) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_base_url, timeout=60) as client:
        yield client


@pytest.fixture
def connect(mcp_url):
    """`async with connect(key) as client:` — an initialized MCP client presenting that key."""

    @asynccontextmanager
    async def _connect(key: dict | None) -> AsyncIterator[Client]:
        headers = dict(key["headers"]) if key else {}
        async with create_mcp_http_client(headers=headers) as http_client:
            async with Client(streamable_http_client(mcp_url, http_client=http_client)) as client:
                yield client

    return _connect
