"""Every MCP tool and resource is answered by the REST API of the same app, called in-process.

One code path: authentication, validation, namespace rules and error codes are REST's. The bridge
forwards the caller's bearer key and the MCP request's id, then turns the REST answer into an MCP
result.

Decisions where SPEC §8 is silent:
- A REST error becomes a tool result with `isError: true`. Its one text block is the JSON object
  `{"error": {"status", "code", "message", "request_id", "details"}}` — the REST envelope plus the
  HTTP status — and the same object is the result's `structuredContent`, so a client can branch on
  `error.code` without parsing prose. REST headers that belong to an error (`X-Run-Id` on
  `run_exists`, `Retry-After` on `rate_limited`) are kept under `error.headers`.
- A REST success becomes a result whose text block is the JSON body and whose `structuredContent`
  is the same object; a text rendering (score/compare with `format="text"`) is returned as plain
  text only.
- The inner call carries the MCP HTTP request's `X-Request-Id`, so both log lines share one id and
  the `request_id` in an error is the one the MCP client saw on its HTTP response.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from mcp.server.context import ServerRequestContext
from mcp_types import CallToolResult, TextContent

from api.errors import ApiError, validation_error
from api.lookup import invalid_handle
from api.middleware import new_request_id

# The in-process client never leaves the process; the host name only fills the URL.
_INTERNAL_BASE_URL = "http://assay.internal"
# Response headers that carry part of an error's meaning (SPEC §1.5, §2).
_ERROR_HEADERS = ("x-run-id", "retry-after")
# Generous: training is asynchronous, but scoring long content or fetching a URL takes a while.
_CALL_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Caller:
    """What the MCP request carried that the REST call must carry too."""

    authorization: str
    request_id: str


@dataclass(frozen=True)
class RestAnswer:
    status: int
    body: Any
    content_type: str
    error_headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class RestFailure(Exception):
    """A REST error envelope, kept whole (plus the status) for the MCP client."""

    def __init__(self, status: int, error: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(error.get("message", ""))
        self.status = status
        self.error = error
        self.headers = headers or {}

    @classmethod
    def from_api_error(cls, exc: ApiError, request_id: str) -> RestFailure:
        return cls(exc.status, {"code": exc.code, "message": exc.message, "request_id": request_id,
                                "details": exc.details})

    def envelope(self) -> dict[str, Any]:
        extra = {"headers": self.headers} if self.headers else {}
        return {"error": {"status": self.status, **self.error, **extra}}


def path_segment(value: str, *, field: str) -> str:
    """Quote one path segment; refuse values that would change which route is called."""
    if "/" in value or "\\" in value or value in ("", ".", ".."):
        if field == "handle":
            raise invalid_handle(value)
        raise validation_error(f"'{field}' cannot be empty, '.', '..' or contain a slash.",
                               {"field": field, "value": value[:200]})
    return quote(value, safe="")


def model_path(handle: str, *rest: str) -> str:
    return "/".join(["/v1/models", path_segment(handle, field="handle"), *rest])


def without_nones(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


class RestBridge:
    """An HTTP client bound to one FastAPI app in-process; opened and closed with the app's lifespan."""

    def __init__(self, app) -> None:
        self._app = app
        self._client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        transport = httpx.ASGITransport(app=self._app, raise_app_exceptions=False)
        self._client = httpx.AsyncClient(transport=transport, base_url=_INTERNAL_BASE_URL,
                                         timeout=_CALL_TIMEOUT_SECONDS)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def request(self, caller: Caller, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None, accept: str = "application/json") -> RestAnswer:
        if self._client is None:
            raise RuntimeError("the MCP bridge is used outside the app's lifespan")
        headers = {"Authorization": caller.authorization, "X-Request-Id": caller.request_id, "Accept": accept}
        response = await self._client.request(
            method, path, params=without_nones(params or {}) or None,
            json=body if body is not None else None, headers=headers,
        )
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        parsed: Any = response.text
        if content_type == "application/json" and response.content:
            parsed = response.json()
        kept = {name: response.headers[name] for name in _ERROR_HEADERS if name in response.headers}
        return RestAnswer(response.status_code, parsed, content_type, kept)

    async def call(self, caller: Caller, method: str, path: str, **kwargs: Any) -> RestAnswer:
        """Like `request`, but a non-2xx answer raises `RestFailure`."""
        answer = await self.request(caller, method, path, **kwargs)
        if not answer.ok:
            raise failure_of(answer, caller.request_id)
        return answer


def failure_of(answer: RestAnswer, request_id: str) -> RestFailure:
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return RestFailure(answer.status, body["error"], answer.error_headers)
    # Every REST error uses the envelope; this only guards against a proxy-style plain answer.
    return RestFailure(answer.status, {"code": "internal_error" if answer.status >= 500 else "bad_request",
                                       "message": str(body)[:500], "request_id": request_id, "details": {}})


def success_result(answer: RestAnswer) -> CallToolResult:
    if isinstance(answer.body, dict):
        text = json.dumps(answer.body, ensure_ascii=False)
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=answer.body)
    if isinstance(answer.body, str):
        return CallToolResult(content=[TextContent(type="text", text=answer.body)])
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(answer.body, ensure_ascii=False))])


def error_result(failure: RestFailure) -> CallToolResult:
    envelope = failure.envelope()
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(envelope, ensure_ascii=False))],
        structured_content=envelope,
        is_error=True,
    )


def caller_request_id(request: Any) -> str:
    """The id our request middleware gave the MCP HTTP request (or a fresh one outside HTTP)."""
    scope = getattr(request, "scope", None) or {}
    return (scope.get("state") or {}).get("request_id") or new_request_id()


def http_request_of(ctx: Any) -> Any:
    """The HTTP request behind a handler context: tools and templates get the SDK's `Context`,
    low-level handlers get its `ServerRequestContext`."""
    if isinstance(ctx, ServerRequestContext):
        return ctx.request
    return ctx.request_context.request


def caller_of(ctx: Any) -> Caller:
    """The bearer key and request id of the MCP HTTP request behind a tool call or resource read."""
    request = http_request_of(ctx)
    headers = getattr(request, "headers", None) or {}
    return Caller(authorization=headers.get("authorization", ""), request_id=caller_request_id(request))


class Relay:
    """What every tool does: one REST call for the caller, its JSON (or text) as the tool result."""

    def __init__(self, bridge: RestBridge) -> None:
        self.bridge = bridge

    async def __call__(self, ctx: Any, method: str, path: str, **kwargs: Any) -> CallToolResult:
        return success_result(await self.bridge.call(caller_of(ctx), method, path, **kwargs))
