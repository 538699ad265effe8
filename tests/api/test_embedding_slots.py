"""An API process computes at most ASSAY_EMBEDDING_SLOTS embeddings at once in worker threads; the
rest of a burst waits its turn in arrival order, and every request of the burst still gets its exact
card (issue #15). Short content is scored on the event loop (tests/api/test_inline_scoring.py), so
these apps score everything in threads."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.app import create_app
from api.scoring_service import configure_embedding_slots, configure_inline_scoring, embedding_slots
from tests.api.trained import CLEAR, trained_model
from tests.lifespan import serving

BURST = 12


def test_unset_the_scoring_path_keeps_anyios_pool(settings, temporal_env):
    create_app(settings.model_copy(update={"embedding_slots": 2}), temporal_client=temporal_env.client)
    assert embedding_slots().total_tokens == 2
    create_app(settings, temporal_client=temporal_env.client)
    assert settings.embedding_slots is None and embedding_slots() is None  # as before the setting existed


@pytest.fixture
async def one_slot_http(settings, temporal_env):
    application = create_app(settings.model_copy(update={"embedding_slots": 1, "inline_score_chars": 0}),
                             temporal_client=temporal_env.client)
    try:
        async with serving(application):
            transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://assay.test", timeout=60) as client:
                yield client
    finally:
        configure_embedding_slots(settings.embedding_slots)  # the session's app serves on
        configure_inline_scoring(settings.inline_score_chars)


async def test_a_burst_queues_for_one_slot_and_every_card_is_identical(one_slot_http, http, make_key, sessionmaker_):
    model = await trained_model(http, make_key, sessionmaker_, "slots")
    url, headers = f"/v1/models/{model['handle']}/score", model["scorer"]["headers"]
    alone = await one_slot_http.post(url, json={"content": CLEAR[0]}, headers=headers)
    assert alone.status_code == 200, alone.text
    slots = embedding_slots()
    assert slots.total_tokens == 1
    seen = {"borrowed": 0, "waiting": 0}
    burst_over = asyncio.Event()

    async def watch() -> None:  # what the limiter holds while the burst is in flight
        while not burst_over.is_set():
            stats = slots.statistics()
            seen["borrowed"] = max(seen["borrowed"], stats.borrowed_tokens)
            seen["waiting"] = max(seen["waiting"], stats.tasks_waiting)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        answers = await asyncio.gather(*(one_slot_http.post(url, json={"content": CLEAR[0]}, headers=headers)
                                         for _ in range(BURST)))
    finally:
        burst_over.set()
        await watcher
    assert [answer.status_code for answer in answers] == [200] * BURST
    # Byte for byte, but for each answer's own request id.
    cards = {answer.content.replace(answer.json()["metadata"]["request_id"].encode(), b"")
             for answer in [alone, *answers]}
    assert len(cards) == 1
    assert seen["borrowed"] == 1
    assert seen["waiting"] >= 1  # the burst did wait for the slot, so the setting is what bounded it
