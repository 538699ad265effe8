"""Background retraining (SPEC §1.10): feedback samples appended the way the scoring endpoint stores
them, then ``signal_retrain`` — real Temporal, real worker, real MiniLM."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode

from api.run_control import signal_retrain
from store.feedback import held_out
from store.tables import Model, Sample, Trait
from tests.workflows.support import make_model, wait_for_state
from workflows.ids import retrain_workflow_id

pytestmark = pytest.mark.usefixtures("worker")

FEEDBACK_TEXTS = [
    ("warmth", "We really appreciate you taking the time to write to us.", 1.0),
    ("warmth", "Whatever. Next.", 0.0),
    ("clarity", "Go to Account, choose Export, and pick CSV.", 1.0),
]


async def _trained(http, headers, handle) -> None:
    await make_model(http, headers, handle, per_pole=4)
    assert (await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers)).status_code == 202
    assert (await wait_for_state(http, headers, handle, {"ready", "failed"}))["state"] == "ready"


async def _add_feedback(sessionmaker_, handle: str) -> Model:
    async with sessionmaker_() as session:
        model = await session.scalar(select(Model).where(Model.handle == handle))
        traits = {t.key: t.id for t in await session.scalars(select(Trait).where(Trait.model_id == model.id))}
        session.add_all([Sample(model_id=model.id, trait_id=traits[key], text=text, quality=quality,
                                provenance="score_feedback") for key, text, quality in FEEDBACK_TEXTS])
        await session.commit()
        return model


async def _versions(http, headers, handle) -> list[dict]:
    response = await http.get(f"/v1/models/{handle}/versions", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def _wait_for_versions(http, headers, handle, count: int, limit: float = 120.0) -> list[dict]:
    deadline = asyncio.get_running_loop().time() + limit
    while len(items := await _versions(http, headers, handle)) < count:
        assert asyncio.get_running_loop().time() < deadline, items
        await asyncio.sleep(0.2)
    return items


@pytest.fixture
def retrain_settings(settings):
    return settings.model_copy(update={"retrain_min_samples": len(FEEDBACK_TEXTS), "retrain_delay": 3600.0})


async def test_buffered_feedback_produces_an_active_retrain_version(app, http, owner, namespace, sessionmaker_,
                                                                    retrain_settings):
    handle = f"{namespace}.fb"
    headers = owner["headers"]
    await _trained(http, headers, handle)
    model = await _add_feedback(sessionmaker_, handle)
    await signal_retrain(app.state.temporal, retrain_settings, model, new_samples=len(FEEDBACK_TEXTS))

    versions = await _wait_for_versions(http, headers, handle, 2)
    newest = versions[0]
    assert newest["version_no"] == 2 and newest["triggered_by"] == "retrain_buffered"
    # Held-out feedback (store.feedback.held_out) never trains; the retrain gate judges versions on it.
    assert newest["sample_count"] == 16 + sum(not held_out(text) for _, text, _ in FEEDBACK_TEXTS)
    body = await wait_for_state(http, headers, handle, {"ready"})
    assert body["version_no"] == 2
    assert body["last_operation"]["kind"] == "retrain_buffered" and body["last_operation"]["status"] == "succeeded"
    detail = (await http.get(f"/v1/models/{handle}/versions/v2", headers=headers)).json()
    first = (await http.get(f"/v1/models/{handle}/versions/v1", headers=headers)).json()
    # One held-out text is too little to judge: the gate lets the retrain through, and says so.
    assert detail["metrics"]["gate"]["verdict"] == "insufficient_holdout"
    # No search on a retrain: every trait keeps the configuration v1 chose.
    assert {k: m["config"] for k, m in detail["metrics"]["traits"].items()} == \
           {k: m["config"] for k, m in first["metrics"]["traits"].items()}


async def test_pinned_model_stores_the_retrain_but_keeps_its_version(app, http, owner, namespace, sessionmaker_,
                                                                    retrain_settings):
    handle = f"{namespace}.pin"
    headers = owner["headers"]
    await _trained(http, headers, handle)
    pinned = await http.put(f"/v1/models/{handle}/versions/active", json={"version": "v1"}, headers=headers)
    assert pinned.status_code == 200, pinned.text
    model = await _add_feedback(sessionmaker_, handle)
    await signal_retrain(app.state.temporal, retrain_settings, model, new_samples=len(FEEDBACK_TEXTS))

    versions = await _wait_for_versions(http, headers, handle, 2)
    assert versions[0]["triggered_by"] == "retrain_buffered"
    body = await wait_for_state(http, headers, handle, {"ready"})
    assert body["version_no"] == 1


async def test_retraining_is_disabled_under_zero_data_retention(app, http, owner, namespace, sessionmaker_,
                                                               retrain_settings, temporal_env):
    handle = f"{namespace}.zdr"
    headers = owner["headers"]
    await _trained(http, headers, handle)
    patched = await http.patch(f"/v1/models/{handle}", json={"zero_data_retention": True}, headers=headers)
    assert patched.status_code == 200, patched.text
    model = await _add_feedback(sessionmaker_, handle)
    await signal_retrain(app.state.temporal, retrain_settings, model, new_samples=len(FEEDBACK_TEXTS))

    with pytest.raises(RPCError) as missing:
        await temporal_env.client.get_workflow_handle(retrain_workflow_id(handle)).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND
    assert [v["version_no"] for v in await _versions(http, headers, handle)] == [1]
