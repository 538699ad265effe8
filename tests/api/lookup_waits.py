"""Waiting for a change (a revoked key, an archived model) to reach an API process's lookup caches."""

from __future__ import annotations

import asyncio

import httpx


async def refused_within(client: httpx.AsyncClient, limit: float, method: str, url: str, **kwargs) -> httpx.Response:
    """Sends the request until it is answered with an error status, at most ``limit`` seconds after
    this call (the change under test is already committed); returns that answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        response = await client.request(method, url, **kwargs)
        if response.status_code >= 400:
            return response
        assert response.status_code == 200, response.text
        assert loop.time() < deadline, f"{method} {url} was still served {limit} s after the change"
        await asyncio.sleep(0.05)
