"""Train, re-tune, no-op, validation and the start race, end to end: real Temporal dev server, an
in-process worker, real database and the real MiniLM embedder."""

from __future__ import annotations

import asyncio

import pytest

from tests.workflows.support import make_model, wait_for_state

pytestmark = pytest.mark.usefixtures("worker")


async def test_train_end_to_end_then_noop_then_retune(http, owner, namespace, temporal_env):
    handle = f"{namespace}.tone"
    headers = owner["headers"]
    await make_model(http, headers, handle, per_pole=8)

    started = await http.post(f"/v1/models/{handle}/train", json={"effort": "medium"}, headers=headers)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    assert started.json() == {"state": "busy", "run_id": run_id}
    assert run_id.startswith("run_")
    described = await temporal_env.client.get_workflow_handle(run_id).describe()
    assert await described.static_summary() == f"train · {handle}"  # the run's line in the Web UI

    # While busy, another kind of request on the model is refused.
    other = await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers)
    assert other.status_code in (409,) and other.json()["error"]["code"] in ("model_busy", "run_exists")

    seen: list[dict] = []
    ready = await wait_for_state(http, headers, handle, {"ready", "failed"}, seen=seen)
    assert ready["state"] == "ready", ready["last_operation"]
    assert ready["version_no"] == 1 and ready["current_version_id"] is not None
    operation = ready["last_operation"]
    assert operation["kind"] == "train" and operation["status"] == "succeeded" and operation["run_id"] == run_id
    assert operation["finished_at"] is not None and operation["progress"]["fraction"] == 1.0

    busy_views = [body["last_operation"] for body in seen if body["state"] == "busy"]
    assert busy_views, "the model was never observed busy"
    fractions = [view["progress"]["fraction"] for view in busy_views if view.get("progress")]
    assert fractions == sorted(fractions), "progress went backwards"
    assert all(set(view["progress"]) == {"phase", "done", "total", "fraction", "message"}
               for view in busy_views if view.get("progress"))

    version = (await http.get(f"/v1/models/{handle}/versions/v1", headers=headers)).json()
    assert version["triggered_by"] == "train" and version["run_id"] == run_id
    assert set(version["metrics"]["traits"]) == {"warmth", "clarity"}
    assert version["metrics"]["effort"] == "medium"
    assert all(0.0 <= m["auc"] <= 1.0 and m["n_positive"] == 8 for m in version["metrics"]["traits"].values())

    noop = await http.post(f"/v1/models/{handle}/train", json={}, headers=headers)
    assert noop.status_code == 200 and noop.json() == {"state": "ready", "run_id": None}

    retune = await http.post(f"/v1/models/{handle}/train", json={"effort": "low", "reoptimize_params": True},
                             headers=headers)
    assert retune.status_code == 202, retune.text
    done = await wait_for_state(http, headers, handle, {"ready", "failed"})
    assert done["state"] == "ready" and done["version_no"] == 2
    assert done["last_operation"]["kind"] == "retune" and done["last_operation"]["status"] == "succeeded"


async def test_twenty_concurrent_trains_start_exactly_one_run(http, owner, namespace):
    handle = f"{namespace}.race"
    headers = owner["headers"]
    await make_model(http, headers, handle, per_pole=4)

    responses = await asyncio.gather(*[
        http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers) for _ in range(20)
    ])
    accepted = [r for r in responses if r.status_code == 202]
    assert len(accepted) == 1, [r.status_code for r in responses]
    run_id = accepted[0].json()["run_id"]
    refused = [r for r in responses if r.status_code != 202]
    assert len(refused) == 19
    assert all(r.status_code == 409 and r.json()["error"]["code"] == "run_exists" for r in refused)
    assert {r.headers["x-run-id"] for r in refused} == {run_id}

    await wait_for_state(http, headers, handle, {"ready"})
    again = await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "run_exists"
    assert again.headers["x-run-id"] == run_id


async def test_empty_body_starts_training_at_default_effort(http, owner, namespace):
    handle = f"{namespace}.empty"
    await make_model(http, owner["headers"], handle, per_pole=3)
    response = await http.post(f"/v1/models/{handle}/train", headers=owner["headers"])
    assert response.status_code == 202, response.text
    body = await wait_for_state(http, owner["headers"], handle, {"ready", "failed"})
    assert body["state"] == "ready"
    version = (await http.get(f"/v1/models/{handle}/versions/v1", headers=owner["headers"])).json()
    assert version["metrics"]["effort"] == "high"


async def test_train_refusals(http, owner, namespace, make_key):
    headers = owner["headers"]
    lacking = f"{namespace}.lacking"
    await make_model(http, headers, lacking, per_pole=0)
    await http.post(f"/v1/models/{lacking}/samples", headers=headers,
                    json={"samples": [{"trait": "warmth", "text": "So kind of you!", "quality": 1.0}]})

    unknown = await http.post(f"/v1/models/{lacking}/train", json={"effort": "extreme"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "validation_error"

    short = await http.post(f"/v1/models/{lacking}/train", json={}, headers=headers)
    assert short.status_code == 422
    error = short.json()["error"]
    assert error["code"] == "insufficient_samples"
    assert set(error["details"]["traits"]) == {"warmth", "clarity"}
    assert error["details"]["traits"]["warmth"]["missing"] == ["negative"]
    assert (await http.get(f"/v1/models/{lacking}", headers=headers)).json()["state"] == "draft"

    bare = f"{namespace}.bare"
    await make_model(http, headers, bare, traits=False)
    no_traits = await http.post(f"/v1/models/{bare}/train", json={}, headers=headers)
    assert no_traits.status_code == 422 and no_traits.json()["error"]["code"] == "insufficient_samples"

    scoring = await make_key(namespace, scope="scoring")
    assert (await http.post(f"/v1/models/{bare}/train", json={}, headers=scoring["headers"])).status_code == 403
    stranger = await make_key(f"{namespace}x", scope="authoring")
    assert (await http.post(f"/v1/models/{bare}/train", json={}, headers=stranger["headers"])).status_code == 404

    assert (await http.delete(f"/v1/models/{bare}", headers=headers)).status_code == 200
    archived = await http.post(f"/v1/models/{bare}/train", json={}, headers=headers)
    assert archived.status_code == 409 and archived.json()["error"]["code"] == "model_archived"
