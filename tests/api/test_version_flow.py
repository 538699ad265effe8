"""The whole version story over HTTP, with the real worker (SPEC §1.6, §1.10): train v1, re-tune v2,
tag, roll back to v1 (which pins), feedback through POST …/score makes a background retrain store
v3 without activating it, then activating v3 serves it."""

from __future__ import annotations

import asyncio

import pytest

from tests.workflows.support import app_client, make_model, wait_for_state

pytestmark = pytest.mark.usefixtures("worker")

PROBES = [
    "Thanks so much for your patience, click Settings then Billing to download the invoice.",
    "Ticket closed. It depends on various factors in general.",
    "Happy to help! Restart the router and wait thirty seconds.",
]


def _card(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "metadata"}


async def _score(http, headers, handle: str, text: str, **extra) -> dict:
    response = await http.post(f"/v1/models/{handle}/score", json={"content": text, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _train(http, headers, handle: str, **body) -> None:
    response = await http.post(f"/v1/models/{handle}/train", json=body, headers=headers)
    assert response.status_code == 202, response.text
    finished = await wait_for_state(http, headers, handle, {"ready", "failed"})
    assert finished["state"] == "ready" and finished["last_operation"]["status"] == "succeeded", finished


async def _versions(http, headers, handle: str) -> list[dict]:
    response = await http.get(f"/v1/models/{handle}/versions", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_rollback_pins_and_a_background_retrain_waits_for_activation(settings, temporal_env, owner, namespace):
    quick_retrain = settings.model_copy(update={"retrain_min_samples": 2, "retrain_delay": 3600.0})
    headers = owner["headers"]
    handle = f"{namespace}.flow"
    async with app_client(quick_retrain, temporal_env.client) as (_, http):
        await make_model(http, headers, handle, per_pole=5)
        await _train(http, headers, handle, effort="low")
        await _train(http, headers, handle, effort="high", reoptimize_params=True)
        assert [v["version_no"] for v in await _versions(http, headers, handle)] == [2, 1]

        tagged = await http.post(f"/v1/models/{handle}/versions/candidate", headers=headers)
        assert tagged.status_code == 201 and tagged.json()["version_no"] == 2

        v1_cards = [_card(await _score(http, headers, f"{handle}@v1", text)) for text in PROBES]
        v2_cards = [_card(await _score(http, headers, f"{handle}@candidate", text)) for text in PROBES]

        rolled = await http.put(f"/v1/models/{handle}/versions/active", json={"version": "v1"}, headers=headers)
        assert rolled.status_code == 200 and rolled.json()["version_no"] == 1
        served = [await _score(http, headers, handle, text) for text in PROBES]
        assert all(body["metadata"]["version_id"] == "v1" for body in served)
        # The active handle now answers exactly as v1 does.
        assert [_card(body) for body in served] == v1_cards
        detail = (await http.get(f"/v1/models/{handle}", headers=headers)).json()
        assert detail["version_no"] == 1 and detail["version_tags"] == []

        # Feedback on the scored text is stored and wakes the background retrain.
        feedback = await _score(http, headers, handle, PROBES[0], feedback={"warmth": "warm", "clarity": 1})
        assert len(feedback["metadata"]["sample_ids"]) == 2
        deadline = asyncio.get_running_loop().time() + 120
        while len(versions := await _versions(http, headers, handle)) < 3:
            assert asyncio.get_running_loop().time() < deadline, versions
            await asyncio.sleep(0.3)
        assert versions[0]["version_no"] == 3 and versions[0]["triggered_by"] == "retrain_buffered"
        settled = await wait_for_state(http, headers, handle, {"ready"})
        assert settled["version_no"] == 1, "the pin must hold over a background retrain"
        assert _card(await _score(http, headers, handle, PROBES[1])) == v1_cards[1]

        activated = await http.put(f"/v1/models/{handle}/versions/active", json={"version": "v3"}, headers=headers)
        assert activated.status_code == 200 and activated.json()["version_no"] == 3
        after = await _score(http, headers, handle, PROBES[0])
        assert after["metadata"]["version_id"] == "v3"
        # v2 is still reachable by its tag, unchanged.
        assert [_card(await _score(http, headers, f"{handle}@candidate", t)) for t in PROBES] == v2_cards

        # Run history (SPEC §9.3): train → re-tune → feedback retrain, each run with its version.
        listed = await http.get(f"/v1/models/{handle}/runs", headers=headers)
        assert listed.status_code == 200, listed.text
        assert [(r["kind"], r["status"], r["version_no"]) for r in listed.json()["items"]] == [
            ("retrain_buffered", "succeeded", 3), ("retune", "succeeded", 2), ("train", "succeeded", 1)]
        assert [r["effort"] for r in listed.json()["items"]][1:] == ["high", "low"]
        retrain = await http.get(f"/v1/runs/{listed.json()['items'][0]['run_id']}", headers=headers)
        assert retrain.status_code == 200 and retrain.json()["events"][-1]["type"] == "succeeded"
