"""Score jobs through MCP: start, follow, read results; another namespace's key sees nothing."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.trained import CLEAR, WARM, create_model, train_now

pytestmark = pytest.mark.usefixtures("worker")


async def test_start_follow_and_read_a_score_job_through_mcp(connect, owner, make_key, namespace, http,
                                                             sessionmaker_):
    handle = f"{namespace}.replies"
    await create_model(http, owner["headers"], handle)
    await train_now(sessionmaker_, handle)
    async with connect(owner) as client:
        started = await client.call_tool("start_score_job", {
            "handle": handle, "items": [{"id": f"m{i}", "content": (CLEAR + WARM)[i]} for i in range(10)]})
        assert not started.is_error, started.content
        job_id = started.structured_content["job_id"]
        for _ in range(600):
            job = (await client.call_tool("get_score_job", {"job_id": job_id})).structured_content
            if job["state"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.2)
        assert job["state"] == "succeeded" and job["counts"]["scored"] == 10
        page = (await client.call_tool("score_job_results", {"job_id": job_id, "limit": 4})).structured_content
        assert [item["id"] for item in page["items"]] == ["m0", "m1", "m2", "m3"] and page["next_cursor"]
    stranger = await make_key(f"x{namespace}")
    async with connect(stranger) as client:
        hidden = await client.call_tool("get_score_job", {"job_id": job_id})
        assert hidden.is_error and hidden.structured_content["error"]["status"] == 404
