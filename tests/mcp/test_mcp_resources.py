"""Model cards as MCP resources: listed per caller, read with the caller's rights."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

RESOURCE_NOT_FOUND = -32002


async def _all_resource_uris(client) -> list[str]:
    uris, cursor = [], None
    while True:
        page = await client.list_resources(cursor=cursor)
        uris += [str(resource.uri) for resource in page.resources]
        cursor = page.next_cursor
        if not cursor:
            return uris


async def test_the_list_holds_own_and_public_models_but_not_others(connect, make_key, owner, namespace):
    publisher = await make_key("public", scope="authoring")
    stranger = await make_key(f"s{namespace}", scope="authoring")
    public_handle = f"public.res-{namespace}"
    async with connect(owner) as client:
        for name in ["b-model", "a-model", "c-model"]:
            assert not (await client.call_tool("create_model", {"handle": f"{namespace}.{name}"})).is_error
        await client.call_tool("create_model", {"handle": f"{namespace}.gone"})
        await client.call_tool("delete_model", {"handle": f"{namespace}.gone"})
    async with connect(publisher) as client:
        await client.call_tool("create_model", {"handle": public_handle})
    async with connect(stranger) as client:
        await client.call_tool("create_model", {"handle": f"s{namespace}.hidden"})

    async with connect(owner) as client:
        uris = await _all_resource_uris(client)
        templates = await client.list_resource_templates()

    own = [uri for uri in uris if uri.startswith(f"assay://models/{namespace}.")]
    assert own == [f"assay://models/{namespace}.{name}" for name in ["a-model", "b-model", "c-model"]]
    assert f"assay://models/{public_handle}" in uris
    assert f"assay://models/s{namespace}.hidden" not in uris
    assert len(uris) == len(set(uris))
    assert [t.uri_template for t in templates.resource_templates] == ["assay://models/{handle}"]


async def test_reading_a_model_the_key_cannot_see_is_resource_not_found(connect, make_key, owner, namespace):
    async with connect(owner) as client:
        await client.call_tool("create_model", {"handle": f"{namespace}.secret"})
    stranger = await make_key(f"s{namespace}", scope="authoring")
    async with connect(stranger) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource(f"assay://models/{namespace}.secret")
    assert caught.value.code == RESOURCE_NOT_FOUND
    assert caught.value.data["error"]["code"] == "not_found"


async def test_reading_a_model_gives_its_markdown_card(connect, owner, namespace):
    pytest.importorskip("api.model_card", reason="the model card renderer has not landed yet")
    handle = f"{namespace}.carded"
    async with connect(owner) as client:
        await client.call_tool("create_model", {"handle": handle, "description": "Checks tone of replies"})
        await client.call_tool("add_traits", {"handle": handle, "traits": [{"name": "Warmth"}]})
        read = await client.read_resource(f"assay://models/{handle}")
    [content] = read.contents
    assert content.mime_type == "text/markdown"
    assert content.text.lstrip().startswith("#")
    assert handle in content.text
    assert "Warmth" in content.text
