"""The /mcp endpoint itself: keys, the tool catalogue, and REST-shaped errors."""

from __future__ import annotations

import json

import httpx

SPEC_TOOLS = {
    "list_models", "get_model", "list_traits", "list_samples", "list_versions", "get_version",
    "score", "compare", "extract",
    "create_model", "update_model", "delete_model", "add_traits", "update_trait", "delete_trait",
    "add_samples", "delete_sample",
    "train", "discover_traits", "synthesize_samples", "tag_version", "untag_version", "activate_version",
    "list_runs", "get_run", "cancel_run",  # SPEC §9.3
}

_INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}}}
_MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_request_without_a_key_is_401_with_the_envelope(mcp_url):
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(mcp_url, content=json.dumps(_INITIALIZE), headers=_MCP_HEADERS)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert error["request_id"] == response.headers["x-request-id"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_unknown_key_is_401(mcp_url):
    headers = {**_MCP_HEADERS, "Authorization": "Bearer ak_nope_not-a-real-key"}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(mcp_url, content=json.dumps(_INITIALIZE), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_every_spec_tool_is_listed_with_a_description_and_schema(connect, owner):
    async with connect(owner) as client:
        listed = await client.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    assert SPEC_TOOLS <= set(tools)
    for name in SPEC_TOOLS:
        assert tools[name].description, name
        assert tools[name].input_schema["type"] == "object"
    assert "handle" in tools["score"].input_schema["required"]
    assert "content" in tools["score"].input_schema["required"]


async def test_arguments_of_the_wrong_shape_are_a_validation_error(connect, owner, namespace):
    async with connect(owner) as client:
        result = await client.call_tool("train", {"handle": f"{namespace}.m", "effort": "enormous"})
    assert result.is_error
    error = json.loads(result.content[0].text)["error"]
    assert error["code"] == "validation_error"
    assert error["status"] == 422
    assert any("effort" in err["loc"] for err in error["details"]["errors"])


async def test_a_handle_with_a_slash_is_refused_as_invalid_handle(connect, owner, namespace):
    async with connect(owner) as client:
        result = await client.call_tool("get_model", {"handle": f"{namespace}.m/traits"})
    assert result.is_error
    assert result.structured_content["error"]["code"] == "invalid_handle"
