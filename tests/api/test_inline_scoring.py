"""Short content asked for as one card (`…/score`, `…/compare`) is scored on the event loop, without a
thread hand-off; longer content, and every item of a batch, in a worker thread. Either way the card
is the same, byte for byte (issue #15, docs/decisions.md "Short content is scored on the event loop")."""

from __future__ import annotations

import threading

import pytest

from api.scoring_service import configure_inline_scoring, scores_on_event_loop
from engine.scorer import Scorer
from tests.api.trained import CLEAR, UNCLEAR, trained_model

SHORT = CLEAR[0]
LONG = " ".join(CLEAR + UNCLEAR)


@pytest.fixture
def scoring_threads(monkeypatch):
    """The thread of every ``Scorer.score`` call (a spy: the real scorer still computes each card)."""
    seen: list[int] = []
    real = Scorer.score

    def spy(self, *args, **kwargs):
        seen.append(threading.get_ident())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Scorer, "score", spy)
    return seen


@pytest.fixture
async def model(http, make_key, sessionmaker_):
    return await trained_model(http, make_key, sessionmaker_, "inline")


def card_bytes(response) -> bytes:
    assert response.status_code == 200, response.text
    return response.content.replace(response.json()["metadata"]["request_id"].encode(), b"")


async def test_the_threshold_is_the_setting(app, settings):
    assert settings.inline_score_chars == 256
    assert len(SHORT) <= 256 < len(LONG)
    assert scores_on_event_loop(SHORT) and not scores_on_event_loop(LONG)
    try:
        configure_inline_scoring(0)
        assert not scores_on_event_loop(SHORT)
    finally:
        configure_inline_scoring(settings.inline_score_chars)


async def test_short_on_the_loop_long_in_a_thread_same_cards(http, model, settings, scoring_threads):
    loop_thread = threading.get_ident()  # httpx's ASGI transport runs the app on the test's own loop
    url, headers = f"/v1/models/{model['handle']}/score", model["scorer"]["headers"]

    short_inline = card_bytes(await http.post(url, json={"content": SHORT}, headers=headers))
    long_threaded = card_bytes(await http.post(url, json={"content": LONG}, headers=headers))
    assert scoring_threads == [loop_thread, scoring_threads[1]] and scoring_threads[1] != loop_thread

    try:
        configure_inline_scoring(0)  # everything in worker threads, as before
        short_threaded = card_bytes(await http.post(url, json={"content": SHORT}, headers=headers))
    finally:
        configure_inline_scoring(settings.inline_score_chars)
    assert scoring_threads[2] != loop_thread
    assert short_inline == short_threaded
    assert short_inline != long_threaded


async def test_compare_scores_short_texts_on_the_loop(http, model, scoring_threads):
    url, headers = f"/v1/models/{model['handle']}/compare", model["scorer"]["headers"]
    answer = await http.post(url, json={"a": SHORT, "b": UNCLEAR[0]}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert scoring_threads == [threading.get_ident()] * 2


async def test_batch_items_are_scored_in_threads(http, model, scoring_threads):
    """A batch's items would hold the loop for the whole batch if each short one ran on it."""
    url, headers = f"/v1/models/{model['handle']}/score/batch", model["scorer"]["headers"]
    answer = await http.post(url, json={"items": [{"content": text} for text in CLEAR[:4]]}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert len(scoring_threads) == 4 and threading.get_ident() not in scoring_threads
    single = await http.post(f"/v1/models/{model['handle']}/score", json={"content": CLEAR[0]}, headers=headers)
    assert answer.json()["items"][0]["result"]["scores"] == single.json()["scores"]
