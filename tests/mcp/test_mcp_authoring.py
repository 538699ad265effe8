"""Authoring and reading through MCP: the same rules and results as REST, seen over REST."""

from __future__ import annotations

import json

TRAITS = [
    {"name": "Clarity", "description": "Plain and concrete.", "positive_label": "clear", "negative_label": "muddled"},
    {"name": "Warmth", "key": "warmth"},
]
SAMPLES = [
    {"trait": "clarity", "text": "Click Save at the top right to keep your changes.", "quality": 1.0},
    {"trait": "Clarity", "text": "Per the aforementioned synergies, deliverables may be impacted.", "quality": "muddled"},
    {"trait": "warmth", "text": "Thank you so much for your patience!", "quality": "good"},
]


def error_of(result) -> dict:
    assert result.is_error, result.content
    error = json.loads(result.content[0].text)["error"]
    assert error == result.structured_content["error"]
    return error


async def test_a_model_authored_through_mcp_is_visible_over_rest(connect, owner, namespace, rest):
    handle = f"{namespace}.support-tone"
    async with connect(owner) as client:
        created = await client.call_tool("create_model", {"handle": handle, "description": "Tone of replies"})
        assert not created.is_error, created.content
        assert created.structured_content["state"] == "draft"
        traits = await client.call_tool("add_traits", {"handle": handle, "traits": TRAITS})
        assert [t["key"] for t in traits.structured_content["traits"]] == ["clarity", "warmth"]
        added = await client.call_tool("add_samples", {"handle": handle, "samples": SAMPLES})
        ids = added.structured_content["ids"]
        listed = await client.call_tool("list_models", {"namespace": namespace})

    assert len(ids) == 3
    assert [m["handle"] for m in listed.structured_content["items"]] == [handle]

    model = (await rest.get(f"/v1/models/{handle}", headers=owner["headers"])).json()
    assert (model["description"], model["traits"]) == ("Tone of replies", ["Clarity", "Warmth"])
    rest_traits = (await rest.get(f"/v1/models/{handle}/traits", headers=owner["headers"])).json()["traits"]
    assert [(t["key"], t["positive_label"]) for t in rest_traits] == [("clarity", "clear"), ("warmth", "positive")]
    counts = {t["key"]: (t["positive_samples"], t["negative_samples"]) for t in rest_traits}
    assert counts == {"clarity": (1, 1), "warmth": (1, 0)}
    samples = (await rest.get(f"/v1/models/{handle}/samples", headers=owner["headers"])).json()["items"]
    assert [s["id"] for s in samples] == ids
    assert [s["quality"] for s in samples] == [1.0, 0.0, 1.0]


async def test_edits_and_deletes_through_mcp(connect, owner, namespace, rest):
    handle = f"{namespace}.edits"
    async with connect(owner) as client:
        await client.call_tool("create_model", {"handle": handle, "readme_markdown": "Notes"})
        await client.call_tool("add_traits", {"handle": handle, "traits": TRAITS})
        ids = (await client.call_tool("add_samples", {"handle": handle, "samples": SAMPLES})).structured_content["ids"]
        updated = await client.call_tool("update_model", {"handle": handle, "description": "New",
                                                          "clear": ["readme_markdown"]})
        renamed = await client.call_tool("update_trait", {"handle": handle, "key": "Warmth", "name": "Kindness"})
        await client.call_tool("delete_sample", {"handle": handle, "sample_id": ids[0]})
        await client.call_tool("delete_trait", {"handle": handle, "key": "warmth"})
        archived = await client.call_tool("delete_model", {"handle": handle})

    assert (updated.structured_content["description"], updated.structured_content["readme_markdown"]) == ("New", None)
    assert [t["name"] for t in renamed.structured_content["traits"]] == ["Clarity", "Kindness"]
    assert archived.structured_content == {"handle": handle, "deleted": True}
    model = (await rest.get(f"/v1/models/{handle}", headers=owner["headers"])).json()
    assert (model["state"], model["traits"]) == ("archived", ["Clarity"])
    samples = (await rest.get(f"/v1/models/{handle}/samples", headers=owner["headers"])).json()["items"]
    assert [s["id"] for s in samples] == [ids[1]]


async def test_a_scoring_key_cannot_author(connect, make_key, owner, namespace, rest):
    handle = f"{namespace}.guarded"
    scorer = await make_key(namespace, scope="scoring")
    async with connect(scorer) as client:
        created = await client.call_tool("create_model", {"handle": handle})
    error = error_of(created)
    assert (error["status"], error["code"]) == (403, "forbidden")
    assert error["request_id"].startswith("req_")
    response = await rest.get(f"/v1/models/{handle}", headers=owner["headers"])
    assert response.status_code == 404


async def test_another_namespace_is_forbidden_to_write_and_hidden_to_read(connect, make_key, owner, namespace):
    handle = f"{namespace}.private"
    async with connect(owner) as client:
        await client.call_tool("create_model", {"handle": handle})
    outsider = await make_key(f"o{namespace}", scope="authoring")
    async with connect(outsider) as client:
        read = await client.call_tool("get_model", {"handle": handle})
        write = await client.call_tool("create_model", {"handle": f"{namespace}.other"})
    assert error_of(read)["code"] == "not_found"
    assert error_of(write)["code"] == "forbidden"


async def test_owner_only_reads_are_forbidden_to_a_reader_of_a_public_model(connect, make_key, owner, namespace):
    publisher = await make_key("public", scope="authoring")
    handle = f"public.mcp-{namespace}"
    async with connect(publisher) as client:
        assert not (await client.call_tool("create_model", {"handle": handle})).is_error
    async with connect(owner) as client:
        detail = await client.call_tool("get_model", {"handle": handle})
        samples = await client.call_tool("list_samples", {"handle": handle})
        versions = await client.call_tool("list_versions", {"handle": handle})
    assert detail.structured_content["handle"] == handle
    assert error_of(samples)["code"] == "forbidden"
    assert error_of(versions)["code"] == "forbidden"


async def test_a_rejected_sample_batch_writes_nothing(connect, owner, namespace, rest):
    handle = f"{namespace}.batch"
    async with connect(owner) as client:
        await client.call_tool("create_model", {"handle": handle})
        await client.call_tool("add_traits", {"handle": handle, "traits": TRAITS})
        result = await client.call_tool("add_samples", {"handle": handle, "samples": [
            *SAMPLES, {"trait": "humour", "text": "A joke.", "quality": 1.0}]})
    error = error_of(result)
    assert (error["status"], error["code"]) == (422, "unknown_trait")
    samples = (await rest.get(f"/v1/models/{handle}/samples", headers=owner["headers"])).json()["items"]
    assert samples == []
