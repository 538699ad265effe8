"""A model whose traits were partly discovered trains and scores: each discovered axis is calibrated
along its fixed direction with the samples of the trait it was found along, or its anchors."""

from __future__ import annotations

import pytest

from tests.workflows.support import make_model, wait_for_state

pytestmark = pytest.mark.usefixtures("worker")


async def test_discovered_traits_are_trained_and_scored(http, owner, namespace):
    handle = f"{namespace}.found"
    headers = owner["headers"]
    await make_model(http, headers, handle, per_pole=10)
    started = await http.post(f"/v1/models/{handle}/traits/discover", json={"effort": "medium"}, headers=headers)
    assert started.status_code == 202, started.text
    assert (await wait_for_state(http, headers, handle, {"draft"}))["last_operation"]["status"] == "succeeded"
    traits = (await http.get(f"/v1/models/{handle}/traits", headers=headers)).json()["traits"]
    intrinsic = {t["key"]: t for t in traits if t["kind"] == "intrinsic"}
    assert {"warmth_intrinsic", "clarity_intrinsic"} <= set(intrinsic)
    # Discovered traits carry no samples of their own, yet training accepts the model.
    assert intrinsic["warmth_intrinsic"]["sample_count"] == 0

    trained = await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers)
    assert trained.status_code == 202, trained.text
    done = await wait_for_state(http, headers, handle, {"ready", "failed"})
    assert done["state"] == "ready", done["last_operation"]
    version = (await http.get(f"/v1/models/{handle}/versions/v1", headers=headers)).json()
    assert set(intrinsic) <= set(version["metrics"]["traits"])
    # The warmth axis was fitted along warmth, so its calibration sees warmth's poles.
    assert version["metrics"]["traits"]["warmth_intrinsic"]["n_positive"] == 10

    warm = await http.post(f"/v1/models/{handle}/score", headers=headers,
                           json={"content": "Thank you so much for your patience, happy to help with this!",
                                 "traits": ["warmth_intrinsic"]})
    cold = await http.post(f"/v1/models/{handle}/score", headers=headers,
                           json={"content": "Ticket closed. Read the manual.", "traits": ["warmth_intrinsic"]})
    assert warm.status_code == cold.status_code == 200, (warm.text, cold.text)
    assert warm.json()["scores"]["warmth_intrinsic"] > cold.json()["scores"]["warmth_intrinsic"]
