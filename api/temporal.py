"""The API's handle on Temporal: one lazily connected client, every call bounded in time.

Decision (SPEC is silent): after a Temporal call fails for lack of Temporal (no connection, or the
RPC bound ran out), reads that have a stored fallback (live progress) skip Temporal for
`UNREACHABLE_HOLD` seconds. Without this, a page of models with open runs paid the full RPC bound
once per model during an outage (8 open runs: ~20 s for one GET). Health and run starts always ask.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import Client
from temporalio.service import RPCStatusCode

from api.errors import ApiError
from contracts.payloads import PRODUCTION_GIVE_UP_AFTER_S, PRODUCTION_RETRY_DELAYS_S

UNREACHABLE_HOLD = 5.0
HEALTH_ATTEMPTS = 2
# RPC failures that mean Temporal itself is gone (not that it refused one call).
TEMPORAL_GONE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


class TemporalGateway:
    def __init__(self, address: str, namespace: str, task_queue: str, rpc_timeout: float,
                 client: Client | None = None, webhook_retry_delays: Sequence[float] = PRODUCTION_RETRY_DELAYS_S,
                 webhook_give_up_after: float = PRODUCTION_GIVE_UP_AFTER_S) -> None:
        self.address = address
        # What a webhook delivery this API starts is given (settings; tests shorten it).
        self.webhook_retry_delays = webhook_retry_delays
        self.webhook_give_up_after = webhook_give_up_after
        self.namespace = namespace
        self.task_queue = task_queue
        self.rpc_timeout = timedelta(seconds=rpc_timeout)
        self._client = client
        self._lock = asyncio.Lock()
        self._unreachable_until = 0.0

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
        """Temporal answers its health check; one slow answer gets a second try before it counts.

        A busy server (a burst of runs, a disk flush) can miss one RPC bound while it is perfectly
        alive; health must report outages, not hiccups, so the probe tries twice.
        """
        healthy = False
        for _ in range(HEALTH_ATTEMPTS):
            try:
                client = await self.client()
                healthy = await client.service_client.check_health(timeout=self.rpc_timeout)
            except Exception:
                healthy = False
            if healthy:
                break
        self.note_unreachable() if not healthy else self.note_reachable()
        return healthy

    @property
    def call_bound(self) -> float:
        """An outer bound on one RPC, in case the client-side deadline is not honoured."""
        return self.rpc_timeout.total_seconds() + 0.5

    def note_unreachable(self) -> None:
        self._unreachable_until = time.monotonic() + UNREACHABLE_HOLD

    def note_reachable(self) -> None:
        self._unreachable_until = 0.0

    @property
    def recently_unreachable(self) -> bool:
        return time.monotonic() < self._unreachable_until


def unavailable(what: str) -> ApiError:
    return ApiError(503, "unavailable", f"{what} is not reachable right now; try again shortly.")
