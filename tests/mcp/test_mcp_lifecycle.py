"""Train, score and manage versions through MCP, with the real worker and the real embedder."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.trained import TRAITS, sample_rows

# A guard against a hung run, not a speed expectation.
_RUN_GUARD_SECONDS = 600


async def _wait_until_settled(client, handle: str) -> dict:
    async def poll() -> dict:
        while True:
            model = (await client.call_tool("get_model", {"handle": handle})).structured_content
            if model["state"] != "busy":
                return model
            await asyncio.sleep(0.5)

    return await asyncio.wait_for(poll(), _RUN_GUARD_SECONDS)


@pytest.fixture
async def trained_handle(connect, owner, namespace, worker) -> str:
    handle = f"{namespace}.support"
    async with connect(owner) as client:
        await client.call_tool("create_model", {"handle": handle})
        await client.call_tool("add_traits", {"handle": handle, "traits": TRAITS})
        await client.call_tool("add_samples", {"handle": handle, "samples": sample_rows(["clarity", "warmth"])})
        started = await client.call_tool("train", {"handle": handle, "effort": "low"})
        assert not started.is_error, started.content
        assert started.structured_content["state"] == "busy"
        assert started.structured_content["run_id"].startswith("run_")
        again = await client.call_tool("train", {"handle": handle, "effort": "low"})
        model = await _wait_until_settled(client, handle)
    error = again.structured_content["error"]
    # Same inputs as the open run: REST's idempotency answer, its X-Run-Id header kept.
    assert again.is_error and (error["status"], error["code"]) == (409, "run_exists")
    assert error["headers"]["x-run-id"] == started.structured_content["run_id"]
    assert model["state"] == "ready", model["last_operation"]
    assert model["last_operation"]["status"] == "succeeded"
    return handle


async def test_train_then_score_and_compare_through_mcp(connect, owner, trained_handle, rest):
    text = "Thank you so much for waiting! Open Settings, choose Security, then reset your password."
    async with connect(owner) as client:
        scored = await client.call_tool("score", {"handle": trained_handle, "content": text})
        rendered = await client.call_tool("score", {"handle": trained_handle, "content": text, "format": "text"})
        compared = await client.call_tool("compare", {
            "handle": trained_handle, "a": "Ticket closed. Do not reply.",
            "b": "Thanks for writing in! Your refund was sent today.", "traits": ["warmth"]})
        batch = await client.call_tool("score_batch", {"handle": trained_handle,
                                                       "items": [{"content": text}, {"id": "blank", "content": " "}]})

    rest_score = (await rest.post(f"/v1/models/{trained_handle}/score", json={"content": text},
                                  headers=owner["headers"])).json()
    card = scored.structured_content
    assert set(card["scores"]) == {"clarity", "warmth"}
    # One code path: the same card as REST gives (only the request id differs).
    assert {k: v for k, v in card.items() if k != "metadata"} == \
           {k: v for k, v in rest_score.items() if k != "metadata"}
    assert card["metadata"]["version_id"] == "v1"
    assert rendered.structured_content is None
    assert "clarity" in rendered.content[0].text and "Composite" in rendered.content[0].text
    assert set(compared.structured_content["per_trait"]) == {"warmth"}
    assert compared.structured_content["per_trait"]["warmth"]["delta"] > 0
    first, blank = batch.structured_content["items"]
    assert first["id"] == "0" and {k: v for k, v in first["result"].items() if k != "metadata"} == \
           {k: v for k, v in rest_score.items() if k != "metadata"}
    assert blank == {"id": "blank", "error": {**blank["error"], "code": "validation_error"}}


async def test_versions_through_mcp(connect, make_key, owner, namespace, trained_handle):
    async with connect(owner) as client:
        tagged = await client.call_tool("tag_version", {"handle": trained_handle, "name": "stable"})
        listed = await client.call_tool("list_versions", {"handle": trained_handle})
        by_tag = await client.call_tool("get_version", {"handle": trained_handle, "version": "stable"})
        activated = await client.call_tool("activate_version", {"handle": trained_handle, "tag": "stable"})
        pinned = await client.call_tool("score", {"handle": f"{trained_handle}@stable", "content": "Noted."})
        untagged = await client.call_tool("untag_version", {"handle": trained_handle, "name": "stable"})
        missing = await client.call_tool("untag_version", {"handle": trained_handle, "name": "stable"})
        neither = await client.call_tool("activate_version", {"handle": trained_handle})

    assert tagged.structured_content == {"handle": trained_handle, "tag": "stable", "version_no": 1}
    [summary] = listed.structured_content["items"]
    assert (summary["version_no"], summary["tags"]) == (1, ["stable"])
    assert by_tag.structured_content["version_no"] == 1 and by_tag.structured_content["snapshot"]
    assert activated.structured_content["version_no"] == 1
    assert pinned.structured_content["metadata"]["version_id"] == "v1"
    assert untagged.structured_content["deleted"] is True
    assert missing.structured_content["error"]["code"] == "not_found"
    assert neither.structured_content["error"]["code"] == "validation_error"

    scorer = await make_key(namespace, scope="scoring")
    async with connect(scorer) as client:
        scored = await client.call_tool("score", {"handle": trained_handle, "content": "Noted."})
        feedback = await client.call_tool("score", {"handle": trained_handle, "content": "Noted.",
                                                    "feedback": {"warmth": "poor"}})
        retrain = await client.call_tool("train", {"handle": trained_handle, "reoptimize_params": True})
    assert not scored.is_error
    assert feedback.structured_content["error"]["code"] == "forbidden"
    assert retrain.structured_content["error"]["code"] == "forbidden"


async def test_runs_through_mcp(connect, make_key, owner, namespace, trained_handle):
    async with connect(owner) as client:
        listed = await client.call_tool("list_runs", {"handle": trained_handle})
        [run] = listed.structured_content["items"]
        detail = await client.call_tool("get_run", {"run_id": run["run_id"]})
        late = await client.call_tool("cancel_run", {"run_id": run["run_id"]})
        slashed = await client.call_tool("get_run", {"run_id": "run_x/cancel"})
    assert (run["kind"], run["status"], run["version_no"]) == ("train", "succeeded", 1)
    assert detail.structured_content["events"][-1]["type"] == "succeeded"
    assert late.is_error and (late.structured_content["error"]["status"],
                              late.structured_content["error"]["code"]) == (409, "run_finished")
    assert slashed.structured_content["error"]["code"] == "validation_error"

    scorer = await make_key(namespace, scope="scoring")
    async with connect(scorer) as client:
        refused = await client.call_tool("cancel_run", {"run_id": run["run_id"]})
    assert refused.structured_content["error"]["code"] == "forbidden"


async def test_discovery_and_synthesis_through_mcp(connect, owner, namespace, worker, rest):
    handle = f"{namespace}.drafty"
    async with connect(owner) as client:
        await client.call_tool("create_model", {"handle": handle})
        await client.call_tool("add_traits", {"handle": handle, "traits": TRAITS})
        await client.call_tool("add_samples", {"handle": handle, "samples": sample_rows(["clarity", "warmth"])})
        synth = await client.call_tool("synthesize_samples", {"handle": handle, "synth_type": "from_traits",
                                                              "effort": "low"})
        assert synth.structured_content["state"] == "busy", synth.content
        after_synth = await _wait_until_settled(client, handle)
        discover = await client.call_tool("discover_traits", {"handle": handle, "effort": "low"})
        assert discover.structured_content["state"] == "busy", discover.content
        after_discover = await _wait_until_settled(client, handle)
        traits = (await client.call_tool("list_traits", {"handle": handle})).structured_content["traits"]

    assert (after_synth["state"], after_synth["last_operation"]["kind"]) == ("draft", "synthesize")
    assert (after_discover["state"], after_discover["last_operation"]["status"]) == ("draft", "succeeded")
    samples = (await rest.get(f"/v1/models/{handle}/samples", params={"limit": 500},
                              headers=owner["headers"])).json()["items"]
    assert any(s["provenance"] == "synthesized" for s in samples)
    assert any(t["kind"] == "intrinsic" for t in traits)


async def test_extract_refuses_a_loopback_address(connect, owner):
    async with connect(owner) as client:
        result = await client.call_tool("extract", {"url": "http://127.0.0.1:9/private"})
    error = result.structured_content["error"]
    assert result.is_error and (error["status"], error["code"]) == (422, "fetch_failed")
