"""Evaluations through MCP: start one, follow it to its report; another namespace's key sees nothing."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.trained import COLD, WARM, create_model, train_now

pytestmark = pytest.mark.usefixtures("worker")


async def test_start_and_read_an_evaluation_through_mcp(connect, owner, make_key, namespace, http, sessionmaker_):
    handle = f"{namespace}.replies"
    await create_model(http, owner["headers"], handle)
    await train_now(sessionmaker_, handle)
    # The trait's own pole words and numbers, as a samples file would carry them.
    items = [{"content": text, "warmth": "warm"} for text in WARM] + [{"content": text, "Warmth": 0} for text in COLD]
    async with connect(owner) as client:
        started = await client.call_tool("start_evaluation", {"handle": handle, "items": items})
        assert not started.is_error, started.content
        evaluation_id = started.structured_content["evaluation_id"]
        assert started.structured_content["versions"] == ["v1"]
        for _ in range(600):
            evaluation = (await client.call_tool("get_evaluation", {"evaluation_id": evaluation_id})).structured_content
            if evaluation["state"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.2)
        assert evaluation["state"] == "succeeded", evaluation
        warmth = evaluation["report"]["versions"][0]["traits"]["warmth"]
        assert warmth["n"] == len(items) and warmth["auc"]["n_positive"] == len(WARM)
        assert evaluation["traits"] == ["warmth"] and evaluation["report"]["paired"] is None
        refused = await client.call_tool("start_evaluation", {"handle": handle, "items": [{"content": "x"}]})
        assert refused.is_error and refused.structured_content["error"]["details"]["reason"] == "no_label"
    stranger = await make_key(f"x{namespace}")
    async with connect(stranger) as client:
        hidden = await client.call_tool("get_evaluation", {"evaluation_id": evaluation_id})
        assert hidden.is_error and hidden.structured_content["error"]["status"] == 404
