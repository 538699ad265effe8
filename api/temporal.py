"""The API's handle on Temporal: one lazily connected client, every call bounded in time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import Client

from api.errors import ApiError


class TemporalGateway:
    def __init__(self, address: str, namespace: str, task_queue: str, rpc_timeout: float,
                 client: Client | None = None) -> None:
        self.address = address
        self.namespace = namespace
        self.task_queue = task_queue
        self.rpc_timeout = timedelta(seconds=rpc_timeout)
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(
                        Client.connect(self.address, namespace=self.namespace),
                        timeout=self.rpc_timeout.total_seconds() * 2,
                    )
                except Exception as exc:  # connection refused, DNS, timeout: all mean "unreachable"
                    raise unavailable("Temporal") from exc
        return self._client

    async def healthy(self) -> bool:
        try:
            client = await self.client()
            return await client.service_client.check_health(timeout=self.rpc_timeout)
        except Exception:
            return False


def unavailable(what: str) -> ApiError:
    return ApiError(503, "unavailable", f"{what} is not reachable right now; try again shortly.")
