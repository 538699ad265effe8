"""Score feedback becomes samples (provenance score_feedback) and wakes the background retrain."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from temporalio.client import WorkflowExecutionStatus

from store.tables import Model, Sample
from tests.api.local_site import ARTICLE_TEXT, fetching_http, local_site  # noqa: F401 (fixtures)
from tests.api.trained import create_model, train_now
from workflows.ids import retrain_workflow_id

TEXT = "Your parcel left our warehouse today and arrives on Thursday. Thanks for your patience!"


async def _feedback_rows(sessionmaker_, handle: str) -> int:
    async with sessionmaker_() as session:
        model = await session.scalar(select(Model).where(Model.handle == handle))
        return await session.scalar(select(func.count()).select_from(Sample).where(
            Sample.model_id == model.id, Sample.provenance == "score_feedback"))


@pytest.fixture
async def ready(http, owner, namespace, sessionmaker_):
    handle = f"{namespace}.replies"
    await create_model(http, owner["headers"], handle)
    await train_now(sessionmaker_, handle)
    return handle


async def test_feedback_is_stored_in_order_and_signals_retrain(http, owner, ready, temporal_env):
    response = await http.post(f"/v1/models/{ready}/score",
                               json={"content": TEXT, "feedback": {"Warmth": "warm", "clarity": 0.75}},
                               headers=owner["headers"])
    assert response.status_code == 200, response.text
    ids = response.json()["metadata"]["sample_ids"]
    assert len(ids) == 2 and ids[0] < ids[1]
    listed = (await http.get(f"/v1/models/{ready}/samples", params={"limit": 500},
                             headers=owner["headers"])).json()["items"]
    stored = {item["id"]: item for item in listed if item["id"] in ids}
    assert [stored[i]["trait"] for i in ids] == ["warmth", "clarity"]
    assert [stored[i]["quality"] for i in ids] == [1.0, 0.75]
    assert all(stored[i]["provenance"] == "score_feedback" and stored[i]["text"] == TEXT for i in ids)
    handle = temporal_env.client.get_workflow_handle(retrain_workflow_id(ready))
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    await handle.terminate(reason="test cleanup")


async def test_feedback_on_fetched_content_stores_the_extracted_text(fetching_http, local_site, owner, ready):
    response = await fetching_http.post(f"/v1/models/{ready}/score",
                                        json={"content": local_site.url("/plain"), "feedback": {"clarity": "good"}},
                                        headers=owner["headers"])
    assert response.status_code == 200, response.text
    [sample_id] = response.json()["metadata"]["sample_ids"]
    listed = (await fetching_http.get(f"/v1/models/{ready}/samples", params={"limit": 500},
                                      headers=owner["headers"])).json()["items"]
    stored = next(item for item in listed if item["id"] == sample_id)
    assert stored["text"] == ARTICLE_TEXT and stored["quality"] == 1.0


async def test_scoring_key_may_not_send_feedback(http, make_key, namespace, ready, sessionmaker_):
    reader = await make_key(namespace, scope="scoring")
    response = await http.post(f"/v1/models/{ready}/score", json={"content": TEXT, "feedback": {"clarity": 1}},
                               headers=reader["headers"])
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    plain = await http.post(f"/v1/models/{ready}/score", json={"content": TEXT}, headers=reader["headers"])
    assert plain.status_code == 200
    assert await _feedback_rows(sessionmaker_, ready) == 0


async def test_feedback_on_a_public_model_needs_its_owner(http, make_key, sessionmaker_):
    publisher = await make_key("public")
    handle = f"public.fb-{uuid.uuid4().hex[:8]}"
    await create_model(http, publisher["headers"], handle, trait_keys=("warmth",))
    await train_now(sessionmaker_, handle)
    other_author = await make_key(f"a{uuid.uuid4().hex[:10]}")
    response = await http.post(f"/v1/models/{handle}/score", json={"content": TEXT, "feedback": {"warmth": 1}},
                               headers=other_author["headers"])
    assert response.status_code == 403
    assert await _feedback_rows(sessionmaker_, handle) == 0


async def test_bad_feedback_writes_nothing(http, owner, ready, sessionmaker_):
    url = f"/v1/models/{ready}/score"
    unknown = await http.post(url, json={"content": TEXT, "feedback": {"clarity": 1, "depth": 1}},
                              headers=owner["headers"])
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_trait"
    for label in ("superb", 1.5, True, "0.7"):
        invalid = await http.post(url, json={"content": TEXT, "feedback": {"warmth": 1, "clarity": label}},
                                  headers=owner["headers"])
        assert invalid.status_code == 422, label
        assert invalid.json()["error"]["code"] == "invalid_label"
    assert await _feedback_rows(sessionmaker_, ready) == 0


async def test_text_with_nul_scores_but_is_not_stored_as_feedback(http, owner, ready, sessionmaker_):
    url = f"/v1/models/{ready}/score"
    text = TEXT + "\x00 trailing"
    plain = await http.post(url, json={"content": text}, headers=owner["headers"])
    assert plain.status_code == 200, plain.text
    refused = await http.post(url, json={"content": text, "feedback": {"warmth": 1}}, headers=owner["headers"])
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "validation_error"
    assert await _feedback_rows(sessionmaker_, ready) == 0


async def test_zero_data_retention_refuses_feedback(http, owner, namespace, sessionmaker_):
    handle = f"{namespace}.private"
    await create_model(http, owner["headers"], handle, trait_keys=("warmth",), zero_data_retention=True)
    await train_now(sessionmaker_, handle)
    response = await http.post(f"/v1/models/{handle}/score", json={"content": TEXT, "feedback": {"warmth": "warm"}},
                               headers=owner["headers"])
    assert response.status_code == 409 and response.json()["error"]["code"] == "feature_unavailable"
    assert await _feedback_rows(sessionmaker_, handle) == 0
    plain = await http.post(f"/v1/models/{handle}/score", json={"content": TEXT}, headers=owner["headers"])
    assert plain.status_code == 200 and plain.json()["metadata"]["sample_ids"] == []
