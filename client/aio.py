"""The asyncio client: `AsyncAssayClient(base_url, api_key)`; every method is awaited for the wire JSON."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from client.core import (
    DEFAULT_MAX_RETRY_WAIT,
    Call,
    Endpoints,
    advertised_body_limit,
    build_request,
    decode_json,
    decode_text,
    normalise_base_url,
    page_items,
    retry_delay,
)
from client.errors import NO_RESPONSE_STATUS, AssayError, error_from_transport

Page = dict[str, Any]


class AsyncAssayClient(Endpoints[Awaitable[dict[str, Any]], Awaitable[str]]):
    """Same operations as `AssayClient`. `transport` may be `httpx.ASGITransport(app)` to talk to an app
    in-process; `http_client` shares an existing `httpx.AsyncClient` (you close it)."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 http_client: httpx.AsyncClient | None = None,
                 max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT) -> None:
        self.base_url = normalise_base_url(base_url)
        self.api_key = api_key
        self.max_retry_wait = max_retry_wait
        self.max_body_bytes: int | None = None  # the server's advertised body limit, once an answer came
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncAssayClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> httpx.Response:
        request = build_request(self._http, self.base_url, self.api_key, call)
        waited = 0.0
        while True:
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                raise error_from_transport(exc, self.base_url) from exc
            self.max_body_bytes = advertised_body_limit(response) or self.max_body_bytes
            delay = retry_delay(response, waited, self.max_retry_wait)
            if delay is None:
                return response
            await response.aclose()
            await asyncio.sleep(delay)
            waited += delay

    async def _json(self, call: Call) -> dict[str, Any]:
        return decode_json(await self._send(call))

    async def _text(self, call: Call) -> str:
        return decode_text(await self._send(call))

    # --- following cursors -----------------------------------------------------------------------
    async def _follow(self, fetch: Callable[[str | None], Awaitable[Page]]) -> AsyncIterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            items, next_cursor = page_items(await fetch(cursor))
            for item in items:
                yield item
            if not next_cursor:
                return
            if next_cursor == cursor:
                raise AssayError(200, "invalid_response", "the server handed back the same page cursor twice")
            cursor = next_cursor

    def iter_models(self, *, namespace: str | None = None, state: str | None = None, kind: str | None = None,
                    page_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        return self._follow(lambda cursor: self.list_models(
            namespace=namespace, state=state, kind=kind, limit=page_size, cursor=cursor))

    def iter_samples(self, handle: str, *, trait: str | None = None,
                     page_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        return self._follow(lambda cursor: self.list_samples(handle, trait=trait, limit=page_size, cursor=cursor))

    def iter_versions(self, handle: str, *, page_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        return self._follow(lambda cursor: self.list_versions(handle, limit=page_size, cursor=cursor))

    def iter_runs(self, handle: str, *, page_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        return self._follow(lambda cursor: self.list_runs(handle, limit=page_size, cursor=cursor))

    async def wait_for_evaluation(self, evaluation_id: str, *, poll_interval: float = 1.0,
                                  timeout: float | None = None,
                                  on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """See `AssayClient.wait_for_evaluation`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            evaluation = await self.get_evaluation(evaluation_id)
            if on_update is not None:
                on_update(evaluation)
            if evaluation.get("state") not in ("queued", "running"):
                return evaluation
            if deadline is not None and time.monotonic() >= deadline:
                raise AssayError(NO_RESPONSE_STATUS, "timeout", f"evaluation {evaluation_id} was still "
                                                                f"{evaluation.get('state')} after {timeout} s")
            await asyncio.sleep(poll_interval)

    # --- waiting for an operation ----------------------------------------------------------------
    async def wait_until_settled(self, handle: str, *, poll_interval: float = 1.0, timeout: float | None = None,
                                 on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll the model until it is no longer `busy`; see `AssayClient.wait_until_settled`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            model = await self.get_model(handle)
            if on_update is not None:
                on_update(model)
            if model.get("state") != "busy":
                return model
            if deadline is not None and time.monotonic() >= deadline:
                raise AssayError(NO_RESPONSE_STATUS, "timeout", f"{handle} was still busy after {timeout} s")
            await asyncio.sleep(poll_interval)
