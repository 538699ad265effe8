"""The quality gate on background retrains (issue 17 part 3) — real Temporal, real worker, real MiniLM.

A one-trait sentiment model is trained through the API on 80 human-rated VADER tweets; 100 other
tweets come back as feedback (stored the way the scoring endpoint stores it, then the retrain loop is
signalled with ``retrain_min_samples`` = 100). Poisoned feedback (every label inverted, or every
other one) must leave the retrain stored but not active; clean feedback must activate it.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from sqlalchemy import select

from api.run_control import signal_retrain
from bench.vader_data import load_domains
from store.feedback import held_out
from store.tables import Model, Sample, Trait
from tests.workflows.support import wait_for_state

pytestmark = pytest.mark.usefixtures("worker")

TRAIN_PER_POLE = 40
FEEDBACK_PER_POLE = 50


@pytest.fixture(scope="module")
def tweets() -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(training, feedback): disjoint clearly rated tweets, (text, quality 1/0), poles interleaved."""
    domain = load_domains()["tweets"]
    order = np.random.default_rng(17).permutation(len(domain.texts))
    pos = [domain.texts[i] for i in order if domain.sentiment[i] >= 1.0]
    neg = [domain.texts[i] for i in order if domain.sentiment[i] <= -1.0]

    def interleave(p: list[str], n: list[str]) -> list[tuple[str, float]]:
        return [pair for a, b in zip(p, n) for pair in ((a, 1.0), (b, 0.0))]

    training = interleave(pos[:TRAIN_PER_POLE], neg[:TRAIN_PER_POLE])
    feedback = interleave(pos[TRAIN_PER_POLE:TRAIN_PER_POLE + FEEDBACK_PER_POLE],
                          neg[TRAIN_PER_POLE:TRAIN_PER_POLE + FEEDBACK_PER_POLE])
    return training, feedback


@pytest.fixture
def gate_settings(settings):
    return settings.model_copy(update={"retrain_min_samples": 2 * FEEDBACK_PER_POLE, "retrain_delay": 3600.0})


async def _trained(http, owner, namespace, name, training) -> tuple[str, dict]:
    """(handle, headers) of a new one-trait sentiment model trained on ``training``."""
    handle, headers = f"{namespace}.{name}", owner["headers"]
    created = await http.post("/v1/models", json={"handle": handle}, headers=headers)
    assert created.status_code == 201, created.text
    traits = await http.post(f"/v1/models/{handle}/traits", headers=headers, json={"traits": [
        {"key": "sentiment", "name": "Sentiment", "positive_label": "positive", "negative_label": "negative"}]})
    assert traits.status_code == 200, traits.text
    samples = await http.post(f"/v1/models/{handle}/samples", headers=headers, json={"samples": [
        {"trait": "sentiment", "text": text, "quality": quality} for text, quality in training]})
    assert samples.status_code == 200, samples.text
    assert (await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers)).status_code == 202
    assert (await wait_for_state(http, headers, handle, {"ready", "failed"}))["state"] == "ready"
    return handle, headers


async def _feed_back(app, sessionmaker_, settings, handle, feedback) -> None:
    async with sessionmaker_() as session:
        model = await session.scalar(select(Model).where(Model.handle == handle))
        trait_id = await session.scalar(select(Trait.id).where(Trait.model_id == model.id))
        session.add_all([Sample(model_id=model.id, trait_id=trait_id, text=text, quality=quality,
                                provenance="score_feedback") for text, quality in feedback])
        await session.commit()
    await signal_retrain(app.state.temporal, settings, model, new_samples=len(feedback))


async def _retrained(http, headers, handle, limit: float = 240.0) -> dict:
    """The v2 a background retrain stored, once the model is ready again."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        response = await http.get(f"/v1/models/{handle}/versions/v2", headers=headers)
        if response.status_code == 200:
            break
        assert response.status_code == 404, response.text
        assert asyncio.get_running_loop().time() < deadline, "no retrain version appeared"
        await asyncio.sleep(0.3)
    body = await wait_for_state(http, headers, handle, {"ready"})
    assert body["last_operation"]["kind"] == "retrain_buffered" and body["last_operation"]["status"] == "succeeded"
    return response.json()


async def _served_version(http, headers, handle, text: str) -> str:
    scored = await http.post(f"/v1/models/{handle}/score", json={"content": text}, headers=headers)
    assert scored.status_code == 200, scored.text
    return scored.json()["metadata"]["version_id"]


async def _card(http, headers, handle) -> str:
    response = await http.get(f"/v1/models/{handle}", headers={**headers, "Accept": "text/markdown"})
    assert response.status_code == 200, response.text
    return response.text


def _poisoned(feedback, flip) -> list[tuple[str, float]]:
    return [(text, 1.0 - quality if flip(index) else quality) for index, (text, quality) in enumerate(feedback)]


@pytest.mark.parametrize("poison", ["inverted", "half_flipped"])
async def test_poisoned_feedback_is_stored_but_not_activated(app, http, owner, namespace, sessionmaker_,
                                                             gate_settings, tweets, poison):
    training, feedback = tweets
    handle, headers = await _trained(http, owner, namespace, poison.replace("_", "-"), training)
    # Feedback alternates positive, negative: flipping every other pair flips half of each pole.
    flip = (lambda i: True) if poison == "inverted" else (lambda i: i // 2 % 2 == 0)
    await _feed_back(app, sessionmaker_, gate_settings, handle, _poisoned(feedback, flip))

    v2 = await _retrained(http, headers, handle)
    gate = v2["metrics"]["gate"]
    assert gate["verdict"] == "refused" and gate["activate"] is False and gate["compared_with"] == 1, gate
    assert gate["traits"]["sentiment"]["outcome"] in ("conflict", "worse")
    assert gate["holdout_samples"] == sum(held_out(text) for text, _ in feedback)
    # Held-out feedback never trains: the version holds the authored samples and the rest of the feedback.
    assert v2["sample_count"] == len(training) + sum(not held_out(text) for text, _ in feedback)
    model = await wait_for_state(http, headers, handle, {"ready"})
    assert model["version_no"] == 1
    assert await _served_version(http, headers, handle, training[0][0]) == "v1"
    card = await _card(http, headers, handle)
    assert "## Background retrain gate" in card and "v2 (stored, not activated): refused against v1" in card

    # The owner's explicit activation wins over the gate.
    activated = await http.put(f"/v1/models/{handle}/versions/active", json={"version": "v2"}, headers=headers)
    assert activated.status_code == 200, activated.text
    assert (await http.get(f"/v1/models/{handle}", headers=headers)).json()["version_no"] == 2
    assert await _served_version(http, headers, handle, training[0][0]) == "v2"


async def test_clean_feedback_passes_the_gate_and_is_activated(app, http, owner, namespace, sessionmaker_,
                                                              gate_settings, tweets):
    training, feedback = tweets
    handle, headers = await _trained(http, owner, namespace, "clean", training)
    # A training text sent back as feedback that hashes into the hold-out: v1 saw it, so it cannot judge.
    seen = next((text, quality) for text, quality in training if held_out(text))
    await _feed_back(app, sessionmaker_, gate_settings, handle, feedback[:-1] + [seen])

    v2 = await _retrained(http, headers, handle)
    gate = v2["metrics"]["gate"]
    assert gate["verdict"] == "passed" and gate["activate"] is True, gate
    assert gate["holdout_samples"] == sum(held_out(text) for text, _ in feedback[:-1])
    block = gate["traits"]["sentiment"]
    assert block["outcome"] == "passed" and min(block["n_positive"], block["n_negative"]) >= gate["min_per_pole"]
    assert (await http.get(f"/v1/models/{handle}", headers=headers)).json()["version_no"] == 2
    assert await _served_version(http, headers, handle, training[0][0]) == "v2"
    assert "v2 (active): passed against v1" in await _card(http, headers, handle)


async def test_a_model_with_the_gate_off_activates_a_poisoned_retrain(app, http, owner, namespace, sessionmaker_,
                                                                     gate_settings, tweets):
    training, feedback = tweets
    handle, headers = await _trained(http, owner, namespace, "ungated", training)
    patched = await http.patch(f"/v1/models/{handle}", json={"retrain_gate": False}, headers=headers)
    assert patched.status_code == 200 and patched.json()["retrain_gate"] is False, patched.text
    await _feed_back(app, sessionmaker_, gate_settings, handle, _poisoned(feedback, lambda i: True))

    v2 = await _retrained(http, headers, handle)
    assert "gate" not in v2["metrics"]
    assert (await http.get(f"/v1/models/{handle}", headers=headers)).json()["version_no"] == 2
    assert "Background retrain gate" not in await _card(http, headers, handle)


async def test_the_gate_switch_defaults_on_and_is_set_at_creation_or_by_patch(http, owner, namespace):
    headers = owner["headers"]
    created = await http.post("/v1/models", json={"handle": f"{namespace}.switch"}, headers=headers)
    assert created.status_code == 201 and created.json()["retrain_gate"] is True, created.text
    off = await http.post("/v1/models", json={"handle": f"{namespace}.switch-off", "retrain_gate": False},
                          headers=headers)
    assert off.status_code == 201 and off.json()["retrain_gate"] is False, off.text
    untouched = await http.patch(f"/v1/models/{namespace}.switch-off", json={"retrain_gate": None}, headers=headers)
    assert untouched.status_code == 200 and untouched.json()["retrain_gate"] is False, untouched.text
    refused = await http.patch(f"/v1/models/{namespace}.switch", json={"retrain_gate": "no"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "validation_error", refused.text
    assert (await http.get(f"/v1/models/{namespace}.switch", headers=headers)).json()["retrain_gate"] is True
