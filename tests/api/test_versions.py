"""Versions: listing, fetching, tags and activation (SPEC §1.6) on real trained versions."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from store.tables import Model
from tests.api.trained import create_model, train_now

TEXT = "Restart the router and sign in again; we're happy to help if it still fails."


async def _pinned(sessionmaker_, handle: str) -> bool:
    async with sessionmaker_() as session:
        return (await session.scalar(select(Model).where(Model.handle == handle))).pinned


@pytest.fixture
async def two_versions(http, owner, namespace, sessionmaker_):
    handle = f"{namespace}.replies"
    await create_model(http, owner["headers"], handle)
    await train_now(sessionmaker_, handle, effort="low")
    await train_now(sessionmaker_, handle, effort="medium", triggered_by="retune")
    return handle


async def test_list_newest_first_with_cursor(http, owner, two_versions):
    url = f"/v1/models/{two_versions}/versions"
    first = await http.get(url, params={"limit": 1}, headers=owner["headers"])
    assert first.status_code == 200
    page = first.json()
    assert page["limit"] == 1 and [v["version_no"] for v in page["items"]] == [2]
    assert page["items"][0]["triggered_by"] == "retune" and "snapshot" not in page["items"][0]
    second = (await http.get(url, params={"limit": 1, "cursor": page["next_cursor"]}, headers=owner["headers"])).json()
    assert [v["version_no"] for v in second["items"]] == [1] and second["next_cursor"] is None
    whole = (await http.get(url, headers=owner["headers"])).json()
    assert [v["version_no"] for v in whole["items"]] == [2, 1] and whole["next_cursor"] is None
    item = whole["items"][1]
    assert set(item) == {"version_id", "version_no", "triggered_by", "run_id", "param_hash", "sample_count",
                         "metrics", "tags", "created_at"}
    assert len(item["param_hash"]) == 64 and item["sample_count"] == 28
    assert set(item["metrics"]["traits"]) == {"clarity", "warmth"}
    bad = await http.get(url, params={"limit": 251}, headers=owner["headers"])
    assert bad.status_code == 422


async def test_get_by_number_and_tag_with_snapshot(http, owner, namespace, make_key, two_versions):
    base = f"/v1/models/{two_versions}/versions"
    tagged = await http.post(f"{base}/prod-2026.05", headers=owner["headers"])
    assert tagged.status_code == 201
    assert tagged.json() == {"handle": two_versions, "tag": "prod-2026.05", "version_no": 2}
    detail = (await http.get(f"{base}/v2", headers=owner["headers"])).json()
    assert detail["tags"] == ["prod-2026.05"] and detail["snapshot"]["format"] == 1
    assert [t["key"] for t in detail["snapshot"]["traits"]] == ["clarity", "warmth"]
    assert (await http.get(f"{base}/prod-2026.05", headers=owner["headers"])).json()["version_no"] == 2
    reader = await make_key(namespace, scope="scoring")
    summary = await http.get(f"{base}/v2", headers=reader["headers"])
    assert summary.status_code == 200 and "snapshot" not in summary.json()
    assert (await http.get(f"{base}/v7", headers=owner["headers"])).status_code == 404
    assert (await http.get(f"{base}/nope", headers=owner["headers"])).status_code == 404


async def test_versions_are_owner_only_even_when_public(http, make_key, sessionmaker_):
    publisher = await make_key("public")
    handle = f"public.v-{uuid.uuid4().hex[:8]}"
    await create_model(http, publisher["headers"], handle, trait_keys=("warmth",))
    await train_now(sessionmaker_, handle)
    outsider = await make_key(f"o{uuid.uuid4().hex[:10]}")
    for path in ("/versions", "/versions/v1"):
        response = await http.get(f"/v1/models/{handle}{path}", headers=outsider["headers"])
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    tag = await http.post(f"/v1/models/{handle}/versions/mine", headers=outsider["headers"])
    assert tag.status_code == 403


@pytest.mark.parametrize("name", ["v3", "active", "Upper", "-dash", "a" * 65, "sp ace"])
async def test_bad_tag_names_are_422(http, owner, two_versions, name):
    response = await http.post(f"/v1/models/{two_versions}/versions/{name}", headers=owner["headers"])
    assert response.status_code in (422, 404)  # a name with a space never reaches a route
    if response.status_code == 422:
        assert response.json()["error"]["code"] == "validation_error"


async def test_tag_needs_an_active_version_and_untag_needs_the_tag(http, owner, namespace):
    handle = f"{namespace}.draft"
    await create_model(http, owner["headers"], handle, trait_keys=("warmth",))
    response = await http.post(f"/v1/models/{handle}/versions/stable", headers=owner["headers"])
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_active_version"
    response = await http.delete(f"/v1/models/{handle}/versions/stable", headers=owner["headers"])
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


async def test_tag_moves_and_untag(http, owner, two_versions):
    base = f"/v1/models/{two_versions}/versions"
    await http.post(f"{base}/stable", headers=owner["headers"])  # on v2
    activated = await http.put(f"{base}/active", json={"version": "v1"}, headers=owner["headers"])
    assert activated.status_code == 200 and activated.json() == {"handle": two_versions, "version_no": 1}
    moved = await http.post(f"{base}/stable", headers=owner["headers"])
    assert moved.json()["version_no"] == 1
    assert (await http.get(f"{base}/v2", headers=owner["headers"])).json()["tags"] == []
    untagged = await http.delete(f"{base}/stable", headers=owner["headers"])
    assert untagged.status_code == 200 and untagged.json() == {"handle": two_versions, "tag": "stable", "deleted": True}
    assert (await http.get(f"{base}/stable", headers=owner["headers"])).status_code == 404


async def test_activation_body_needs_exactly_one(http, owner, two_versions):
    url = f"/v1/models/{two_versions}/versions/active"
    for body in ({}, {"version": "v1", "tag": "x"}, {"version": "1"}, {"version": None, "tag": None}):
        response = await http.put(url, json=body, headers=owner["headers"])
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"
    assert (await http.put(url, json={"tag": "ghost"}, headers=owner["headers"])).status_code == 404
    assert (await http.put(url, json={"version": "v9"}, headers=owner["headers"])).status_code == 404


async def test_activate_older_version_serves_it_and_pins(http, owner, two_versions, sessionmaker_):
    score_url = f"/v1/models/{two_versions}/score"
    v2 = (await http.post(score_url, json={"content": TEXT}, headers=owner["headers"])).json()
    v1_pinned = (await http.post(f"/v1/models/{two_versions}@v1/score", json={"content": TEXT},
                                 headers=owner["headers"])).json()
    assert v2["metadata"]["version_id"] == "v2"
    assert not await _pinned(sessionmaker_, two_versions)
    response = await http.put(f"/v1/models/{two_versions}/versions/active", json={"version": "v1"},
                              headers=owner["headers"])
    assert response.status_code == 200
    now = (await http.post(score_url, json={"content": TEXT}, headers=owner["headers"])).json()
    assert now["metadata"]["version_id"] == "v1"
    assert now["scores"] == v1_pinned["scores"] and now["detail"] == v1_pinned["detail"]
    assert await _pinned(sessionmaker_, two_versions)
    detail = (await http.get(f"/v1/models/{two_versions}", headers=owner["headers"])).json()
    assert detail["version_no"] == 1


async def test_scoring_key_cannot_tag_or_activate(http, namespace, make_key, two_versions):
    reader = await make_key(namespace, scope="scoring")
    base = f"/v1/models/{two_versions}/versions"
    assert (await http.post(f"{base}/stable", headers=reader["headers"])).status_code == 403
    assert (await http.put(f"{base}/active", json={"version": "v1"}, headers=reader["headers"])).status_code == 403
