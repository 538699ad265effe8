"""The MCP server at `/mcp` (SPEC §8): Streamable HTTP, bearer keys, tools and model-card resources.

Decisions where SPEC §8 is silent:
- Stateless Streamable HTTP with JSON responses: every POST carries its own bearer key and is
  served on its own, so there is no session to hijack or expire and any API replica can answer.
  Server-initiated requests and the GET event stream are not offered: any method but POST is
  answered `405 method_not_allowed` with `Allow: POST`.
- The bearer key is checked before the MCP transport sees the request: a missing, unknown or
  revoked key is answered `401 unauthorized` in the REST error envelope. The check does not count
  against the per-key rate limit; the REST call behind each tool does.
- DNS-rebinding protection (Host/Origin allow lists) is off: every request must carry a bearer key,
  which a browser never adds on its own, and the API is reached under whatever host name it is
  deployed at.
- Arguments the SDK rejects before a tool runs (wrong JSON type, missing field, value outside an
  enum) are reported like REST's 422: a tool error with code `validation_error` and the offending
  fields in `details.errors`. An unknown tool name gets code `not_found`.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, ListResourcesResult, PaginatedRequestParams
from pydantic import ValidationError
from starlette.requests import Request

from api import auth
from api.errors import ApiError, envelope
from api.mcp import authoring, evaluations, lifecycle, reading, resources, runs, score_jobs
from api.mcp.bridge import Relay, RestBridge, RestFailure, caller_request_id, error_result
from api.middleware import new_request_id
from store import keys as key_store

log = logging.getLogger("assay.mcp")

INSTRUCTIONS = """\
Assay scores text against trait models built from labelled examples; the same text and model version
always give the same scores. Typical flow: create_model, add_traits, add_samples, train, then poll
get_model until state is 'ready', then score or compare. Tool errors are JSON: {"error": {"status",
"code", "message", "request_id", "details"}} with the same codes as the REST API.
"""


class AssayMCPServer(MCPServer):
    """MCPServer with a per-caller resource list and REST-shaped tool errors."""

    def __init__(self, bridge: RestBridge) -> None:
        super().__init__(name="assay", title="Assay", version="1.0.0", instructions=INSTRUCTIONS,
                         log_level="WARNING")
        self._bridge = bridge

    async def _handle_list_resources(self, ctx: Any, params: PaginatedRequestParams | None) -> ListResourcesResult:
        # The SDK's static list cannot depend on who asks; models are listed through REST per key.
        return await resources.list_model_resources(self._bridge, ctx, params)

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        request_id = _request_id_of(context)
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            return error_result(_failure_of(name, exc, request_id))


def _request_id_of(context: Any) -> str:
    try:
        return caller_request_id(context.request_context.request)
    except (AttributeError, ValueError):
        return new_request_id()


def _failure_of(tool: str, exc: ToolError, request_id: str) -> RestFailure:
    cause = exc.__cause__
    if isinstance(cause, RestFailure):
        return cause
    if isinstance(cause, ApiError):
        return RestFailure.from_api_error(cause, request_id)
    if isinstance(cause, ValidationError):
        # Field names and problem types only: the rejected values are the caller's data.
        errors = [{"loc": [str(part) for part in err["loc"]], "type": err["type"], "message": err["msg"]}
                  for err in cause.errors()]
        return RestFailure(422, {"code": "validation_error", "message": f"The arguments of '{tool}' are not valid.",
                                 "request_id": request_id, "details": {"errors": errors}})
    if cause is None:
        return RestFailure(404, {"code": "not_found", "message": f"There is no tool named '{tool}'.",
                                 "request_id": request_id, "details": {}})
    log.error("MCP tool %s failed", tool, exc_info=cause, extra={"request_id": request_id})
    return RestFailure(500, {"code": "internal_error", "message": "Something went wrong on our side.",
                             "request_id": request_id, "details": {}})


def build_server(bridge: RestBridge) -> AssayMCPServer:
    server = AssayMCPServer(bridge)
    relay = Relay(bridge)
    reading.register(server, relay)
    authoring.register(server, relay)
    lifecycle.register(server, relay)
    runs.register(server, relay)
    score_jobs.register(server, relay)
    evaluations.register(server, relay)
    resources.register(server, bridge)
    return server


class BearerGate:
    """ASGI wrapper: no valid key, no MCP. The key's principal rides along in the request state."""

    def __init__(self, inner, app) -> None:
        self.inner = inner
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        request = Request(scope)
        if request.method != "POST":
            # Stateless JSON mode has no server-to-client stream and no session to end; the SDK
            # would still hold a GET open as an empty event stream, for as long as the client likes.
            response = envelope(405, "method_not_allowed", "The MCP endpoint takes POST only.",
                                caller_request_id(request), {"allow": ["POST"]}, {"Allow": "POST"})
            await response(scope, receive, send)
            return
        try:
            principal = await self._principal(request)
        except ApiError as exc:
            response = envelope(exc.status, exc.code, exc.message, caller_request_id(request), exc.details,
                                exc.headers)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[resources.PRINCIPAL_STATE_KEY] = principal
        await self.inner(scope, receive, send)

    async def _principal(self, request: Request) -> auth.Principal:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise auth.unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
        async with self.app.state.sessionmaker() as session:
            record = await key_store.verify(session, token.strip())
        if record is None:
            raise auth.unauthorized("The API key is unknown or revoked.")
        return auth.Principal(
            key_id=record.id,
            scope=record.scope,
            namespaces=frozenset(record.namespaces),
            public_namespaces=frozenset(self.app.state.settings.public_namespace_list),
        )


class McpEndpoint:
    """Everything `/mcp` needs from one FastAPI app: the server, its transport and the REST bridge."""

    def __init__(self, app) -> None:
        self.bridge = RestBridge(app)
        self.server = build_server(self.bridge)
        self.server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.asgi = BearerGate(StreamableHTTPASGIApp(self.server.session_manager), app)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run inside the app's lifespan: the bridge client and the SDK's session manager.

        The session manager holds an anyio task group, which must be exited by the task that
        entered it; a lifespan may be entered and left by different tasks (test fixtures do), so
        the manager lives in a task of its own until the lifespan ends.
        """
        await self.bridge.open()
        ready, stop = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with self.server.session_manager.run():
                ready.set()
                await stop.wait()

        manager_task = asyncio.create_task(serve(), name="assay-mcp-session-manager")
        ready_wait = asyncio.create_task(ready.wait())
        await asyncio.wait({manager_task, ready_wait}, return_when=asyncio.FIRST_COMPLETED)
        ready_wait.cancel()
        try:
            if manager_task.done():
                manager_task.result()  # it failed to start: raise why
            yield
        finally:
            stop.set()
            await manager_task
            await self.bridge.close()


def mount_mcp(app) -> McpEndpoint:
    """Route `/mcp` to the MCP endpoint; the caller enters `endpoint.running()` in its lifespan."""
    endpoint = McpEndpoint(app)
    app.add_route("/mcp", endpoint.asgi, include_in_schema=False)
    return endpoint
