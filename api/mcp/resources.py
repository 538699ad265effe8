"""Model cards as MCP resources: `assay://models/{handle}` (SPEC §8).

Decisions where SPEC §8 is silent:
- The listing is per caller: the models in the key's own namespaces, then those in the public
  namespaces (each namespace in name order, models by handle), archived models left out as REST
  leaves them out. It is read from REST `GET /v1/models?namespace=…` one page per MCP page; the MCP
  cursor is opaque and carries the namespace position and the REST cursor.
- Reading is REST `GET /v1/models/{handle}` with `Accept: text/markdown`, so the key's read rights
  decide. A REST error becomes a JSON-RPC error: 404 → -32002 (resource not found), other 4xx →
  -32602, 5xx → -32603; its `data` is the REST envelope plus the HTTP status.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, ListResourcesResult, PaginatedRequestParams
from mcp_types import Resource as MCPResource

from api.auth import Principal
from api.errors import ApiError
from api.mcp.bridge import RestBridge, RestFailure, caller_of, http_request_of, model_path

RESOURCE_NOT_FOUND = -32002
MODEL_URI_PREFIX = "assay://models/"
PRINCIPAL_STATE_KEY = "assay_principal"
_PAGE_SIZE = 100


def protocol_error(failure: RestFailure) -> MCPError:
    if failure.status == 404:
        code = RESOURCE_NOT_FOUND
    elif failure.status < 500:
        code = INVALID_PARAMS
    else:
        code = INTERNAL_ERROR
    message = f"{failure.error.get('code', 'error')}: {failure.error.get('message', '')}"
    return MCPError(code=code, message=message, data=failure.envelope())


def readable_namespaces(principal: Principal) -> list[str]:
    own = sorted(principal.namespaces)
    return own + sorted(principal.public_namespaces - principal.namespaces)


def _encode_cursor(namespace_index: int, rest_cursor: str | None) -> str:
    raw = json.dumps([namespace_index, rest_cursor]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[int, str | None]:
    if not cursor:
        return 0, None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        index, rest_cursor = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(index, int) or index < 0 or not (rest_cursor is None or isinstance(rest_cursor, str)):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise MCPError(code=INVALID_PARAMS, message="validation_error: the cursor is not one this server gave out.")
    return index, rest_cursor


def _as_resource(model: dict[str, Any]) -> MCPResource:
    handle = model["handle"]
    return MCPResource(
        uri=f"{MODEL_URI_PREFIX}{handle}",
        name=handle,
        title=handle,
        description=model.get("description") or None,
        mime_type="text/markdown",
    )


async def list_model_resources(bridge: RestBridge, ctx: Any, params: PaginatedRequestParams | None) -> ListResourcesResult:
    request = http_request_of(ctx)
    principal: Principal | None = ((getattr(request, "scope", None) or {}).get("state") or {}).get(PRINCIPAL_STATE_KEY)
    if principal is None:
        # Only reachable if the bearer gate was bypassed; never list anything without a key.
        raise MCPError(code=INVALID_PARAMS, message="unauthorized: no API key on this request.")
    caller = caller_of(ctx)
    namespaces = readable_namespaces(principal)
    index, rest_cursor = _decode_cursor(params.cursor if params else None)
    while index < len(namespaces):
        try:
            answer = await bridge.call(caller, "GET", "/v1/models", params={
                "namespace": namespaces[index], "limit": _PAGE_SIZE, "cursor": rest_cursor})
        except RestFailure as failure:
            raise protocol_error(failure) from failure
        page = answer.body
        resources = [_as_resource(model) for model in page.get("items", [])]
        if page.get("next_cursor"):
            return ListResourcesResult(resources=resources, next_cursor=_encode_cursor(index, page["next_cursor"]))
        index, rest_cursor = index + 1, None
        if resources:
            more = _encode_cursor(index, None) if index < len(namespaces) else None
            return ListResourcesResult(resources=resources, next_cursor=more)
    return ListResourcesResult(resources=[])


def register(server: MCPServer, bridge: RestBridge) -> None:
    @server.resource(f"{MODEL_URI_PREFIX}{{handle}}", name="model_card", title="Model card",
                     mime_type="text/markdown", description=(
                         "The model card of an Assay model in Markdown: what it measures, its traits, "
                         "the serving version and its measured quality."))
    async def model_card(handle: str, ctx: Context) -> str:
        caller = caller_of(ctx)
        try:
            answer = await bridge.call(caller, "GET", model_path(handle), accept="text/markdown")
        except ApiError as exc:
            raise protocol_error(RestFailure.from_api_error(exc, caller.request_id)) from exc
        except RestFailure as failure:
            raise protocol_error(failure) from failure
        if isinstance(answer.body, str):
            return answer.body
        return json.dumps(answer.body, ensure_ascii=False, indent=2)

