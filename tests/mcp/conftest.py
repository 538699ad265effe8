"""The app under a real uvicorn server on a free loopback port, and the SDK's own MCP client."""

from __future__ import annotations

from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

import httpx
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client



@pytest.fixture(scope="session")
def live_base_url(served_url) -> str:
    """The served app, reached over TCP like any MCP client would."""
    return served_url


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
