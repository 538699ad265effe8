"""The blocking client: `AssayClient(base_url, api_key)`; every method returns the wire JSON."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
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


class AssayClient(Endpoints[dict[str, Any], str]):
    """Pass `transport` to swap httpx's network layer, or a ready `http_client` to share one (the client
    then leaves closing it to you). Use as a context manager or call `close()`. A call refused with
    429 is sent again after `Retry-After` while its waits total at most `max_retry_wait` seconds."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None, http_client: httpx.Client | None = None,
                 max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT) -> None:
        self.base_url = normalise_base_url(base_url)
        self.api_key = api_key
        self.max_retry_wait = max_retry_wait
        self.max_body_bytes: int | None = None  # the server's advertised body limit, once an answer came
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> AssayClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, call: Call) -> httpx.Response:
        request = build_request(self._http, self.base_url, self.api_key, call)
        waited = 0.0
        while True:
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                raise error_from_transport(exc, self.base_url) from exc
            self.max_body_bytes = advertised_body_limit(response) or self.max_body_bytes
            delay = retry_delay(response, waited, self.max_retry_wait)
            if delay is None:
                return response
            response.close()
            time.sleep(delay)
            waited += delay

    def _json(self, call: Call) -> dict[str, Any]:
        return decode_json(self._send(call))

    def _text(self, call: Call) -> str:
        return decode_text(self._send(call))

    # --- following cursors -----------------------------------------------------------------------
    def _follow(self, fetch: Callable[[str | None], Page]) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            items, next_cursor = page_items(fetch(cursor))
            yield from items
            if not next_cursor:
                return
            if next_cursor == cursor:
                raise AssayError(200, "invalid_response", "the server handed back the same page cursor twice")
            cursor = next_cursor

    def iter_models(self, *, namespace: str | None = None, state: str | None = None, kind: str | None = None,
                    page_size: int | None = None) -> Iterator[dict[str, Any]]:
        return self._follow(lambda cursor: self.list_models(
            namespace=namespace, state=state, kind=kind, limit=page_size, cursor=cursor))

    def iter_samples(self, handle: str, *, trait: str | None = None,
                     page_size: int | None = None) -> Iterator[dict[str, Any]]:
        return self._follow(lambda cursor: self.list_samples(handle, trait=trait, limit=page_size, cursor=cursor))

    def iter_versions(self, handle: str, *, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        return self._follow(lambda cursor: self.list_versions(handle, limit=page_size, cursor=cursor))

    def iter_runs(self, handle: str, *, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        return self._follow(lambda cursor: self.list_runs(handle, limit=page_size, cursor=cursor))
    def iter_score_job_results(self, job_id: str, *, page_size: int | None = 1000) -> Iterator[dict[str, Any]]:
        """Every `{id, result}` / `{id, error}` of a finished job, in input order."""
        return self._follow(lambda cursor: self.score_job_results(job_id, limit=page_size, cursor=cursor))

    def wait_for_score_job(self, job_id: str, *, poll_interval: float = 1.0, timeout: float | None = None,
                           on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll the job until it is no longer queued or running; `on_update` sees every poll."""
        return self._wait_while_open(lambda: self.get_score_job(job_id), f"job {job_id}", poll_interval, timeout,
                                     on_update)

    def wait_for_evaluation(self, evaluation_id: str, *, poll_interval: float = 1.0, timeout: float | None = None,
                            on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll the evaluation until it is no longer queued or running (its report is then in place)."""
        return self._wait_while_open(lambda: self.get_evaluation(evaluation_id), f"evaluation {evaluation_id}",
                                     poll_interval, timeout, on_update)

    def _wait_while_open(self, fetch: Callable[[], dict[str, Any]], what: str, poll_interval: float,
                         timeout: float | None, on_update: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            resource = fetch()
            if on_update is not None:
                on_update(resource)
            if resource.get("state") not in ("queued", "running"):
                return resource
            if deadline is not None and time.monotonic() >= deadline:
                raise AssayError(NO_RESPONSE_STATUS, "timeout", f"{what} was still {resource.get('state')} "
                                                                f"after {timeout} s")
            time.sleep(poll_interval)

    # --- waiting for an operation ----------------------------------------------------------------
    def wait_until_settled(self, handle: str, *, poll_interval: float = 1.0, timeout: float | None = None,
                           on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll the model until it is no longer `busy`; `on_update` sees every polled ModelDetail (its
        `last_operation.progress` is live). Returns the settled model."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            model = self.get_model(handle)
            if on_update is not None:
                on_update(model)
            if model.get("state") != "busy":
                return model
            if deadline is not None and time.monotonic() >= deadline:
                raise AssayError(NO_RESPONSE_STATUS, "timeout", f"{handle} was still busy after {timeout} s")
            time.sleep(poll_interval)
