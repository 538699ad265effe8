"""Model endpoints: create, read, list, patch, archive (SPEC §1.3, §1.4, §1.9, §3 rows 2–6)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select, update

from store.tables import Model, Version, VersionTag, utcnow

# ---------------------------------------------------------------- helpers shared by the catalog tests


async def create_model(http, key: dict, handle: str, **fields) -> dict:
    response = await http.post("/v1/models", json={"handle": handle, **fields}, headers=key["headers"])
    assert response.status_code == 201, response.text
    return response.json()


async def add_traits(http, key: dict, handle: str, *traits: dict) -> list[dict]:
    response = await http.post(f"/v1/models/{handle}/traits", json={"traits": list(traits)}, headers=key["headers"])
    assert response.status_code == 200, response.text
    return response.json()["traits"]


async def add_samples(http, key: dict, handle: str, *samples: dict) -> list[int]:
    response = await http.post(f"/v1/models/{handle}/samples", json={"samples": list(samples)},
                               headers=key["headers"])
    assert response.status_code == 200, response.text
    return response.json()["ids"]


async def set_state(sessionmaker_, handle: str, state: str) -> None:
    """Puts a model in a state that only a running operation would give it (train, discovery…)."""
    async with sessionmaker_() as session:
        await session.execute(update(Model).where(Model.handle == handle).values(state=state))
        await session.commit()


async def read_all_pages(http, path: str, key: dict, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = await http.get(path, params=query, headers=key["headers"])
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    return error


# ---------------------------------------------------------------- create and read


async def test_create_returns_a_draft_with_defaults_and_get_returns_the_same(http, owner, namespace):
    created = await create_model(http, owner, f"{namespace}.tone", description="How polite a reply sounds")
    assert created["handle"] == f"{namespace}.tone"
    assert created["state"] == "draft"
    assert created["kind"] == "scoring"
    assert created["scoring_method"] == "balanced_cosine"
    assert created["description"] == "How polite a reply sounds"
    assert created["traits"] == [] and created["version_tags"] == []
    assert created["current_version_id"] is None and created["version_no"] is None
    assert created["zero_data_retention"] is False and created["last_operation"] is None
    assert created["max_depth"] == 1 and created["version_retention_policy"] is None
    assert created["created_at"].endswith("Z")
    fetched = await http.get(f"/v1/models/{namespace}.tone", headers=owner["headers"])
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_create_stores_the_authoring_metadata(http, owner, namespace):
    created = await create_model(
        http, owner, f"{namespace}.meta", max_depth=0, additional_terms="Research use only",
        upstream_sources=[{"type": "jsonl", "path": "reviews.jsonl"}], readme_markdown="# Notes",
        zero_data_retention=True,
    )
    assert created["max_depth"] == 0
    assert created["additional_terms"] == "Research use only"
    assert created["upstream_sources"] == [{"type": "jsonl", "path": "reviews.jsonl"}]
    assert created["readme_markdown"] == "# Notes"
    assert created["zero_data_retention"] is True


@pytest.mark.parametrize("bad", ["nodot", "Upper.case", "ns.Name", "-ns.name", "ns._name", "ns.na me",
                                 "ns.", ".name", "n" * 40 + ".name", "ns." + "n" * 64, "ns.name@v1"])
async def test_create_with_a_malformed_handle_is_invalid_handle_and_writes_nothing(http, owner, namespace, bad):
    handle = bad.replace("ns", namespace, 1) if bad.startswith("ns") else bad
    response = await http.post("/v1/models", json={"handle": handle}, headers=owner["headers"])
    assert_error(response, 422, "invalid_handle")
    assert await read_all_pages(http, "/v1/models", owner, namespace=namespace) == []


async def test_get_with_a_malformed_handle_is_invalid_handle(http, owner):
    assert_error(await http.get("/v1/models/NOT-A-HANDLE", headers=owner["headers"]), 422, "invalid_handle")


async def test_get_of_an_unknown_model_is_404(http, owner, namespace):
    assert_error(await http.get(f"/v1/models/{namespace}.ghost", headers=owner["headers"]), 404, "not_found")


async def test_a_taken_handle_is_409_including_archived_ones(http, owner, namespace):
    await create_model(http, owner, f"{namespace}.dup")
    again = await http.post("/v1/models", json={"handle": f"{namespace}.dup"}, headers=owner["headers"])
    assert_error(again, 409, "handle_taken")
    await create_model(http, owner, f"{namespace}.gone")
    assert (await http.delete(f"/v1/models/{namespace}.gone", headers=owner["headers"])).status_code == 200
    reuse = await http.post("/v1/models", json={"handle": f"{namespace}.gone"}, headers=owner["headers"])
    assert_error(reuse, 409, "handle_taken")


@pytest.mark.parametrize("fields, code", [
    ({"kind": "classification"}, "unsupported_kind"),
    ({"scoring_method": "logistic"}, "validation_error"),
    ({"max_depth": -1}, "validation_error"),
    ({"max_depth": "1"}, "validation_error"),
    ({"max_depth": 1.5}, "validation_error"),
    ({"zero_data_retention": "yes"}, "validation_error"),
    ({"upstream_sources": ["not an object"]}, "validation_error"),
    ({"state": "ready"}, "validation_error"),
    ({"colour": "blue"}, "validation_error"),
])
async def test_create_rejects_bad_fields_and_writes_nothing(http, owner, namespace, fields, code):
    response = await http.post("/v1/models", json={"handle": f"{namespace}.x", **fields}, headers=owner["headers"])
    assert_error(response, 422, code)
    assert_error(await http.get(f"/v1/models/{namespace}.x", headers=owner["headers"]), 404, "not_found")


async def test_detail_reports_the_active_version_and_its_tags(http, owner, namespace, sessionmaker_):
    handle = f"{namespace}.trained"
    await create_model(http, owner, handle)
    async with sessionmaker_() as session:
        model = await session.scalar(select(Model).where(Model.handle == handle))
        old = Version(model_id=model.id, version_no=1, triggered_by="train", run_id=f"run_{uuid.uuid4().hex}",
                      param_hash="a" * 64, sample_count=4, metrics={}, snapshot="{}", created_at=utcnow())
        new = Version(model_id=model.id, version_no=2, triggered_by="retune", run_id=f"run_{uuid.uuid4().hex}",
                      param_hash="b" * 64, sample_count=4, metrics={}, snapshot="{}", created_at=utcnow())
        session.add_all([old, new])
        await session.flush()
        session.add_all([VersionTag(model_id=model.id, tag="stable", version_id=new.id, created_at=utcnow()),
                         VersionTag(model_id=model.id, tag="canary", version_id=new.id, created_at=utcnow()),
                         VersionTag(model_id=model.id, tag="first", version_id=old.id, created_at=utcnow())])
        await session.execute(update(Model).where(Model.id == model.id)
                              .values(active_version_id=new.id, state="ready"))
        await session.commit()
        new_id = new.id
    detail = (await http.get(f"/v1/models/{handle}", headers=owner["headers"])).json()
    assert detail["state"] == "ready"
    assert detail["current_version_id"] == new_id
    assert detail["version_no"] == 2
    assert detail["version_tags"] == ["canary", "stable"]


async def test_markdown_accept_returns_the_model_card(http, owner, namespace):
    await create_model(http, owner, f"{namespace}.card", description="Card test")
    response = await http.get(f"/v1/models/{namespace}.card", headers={**owner["headers"], "Accept": "text/markdown"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert f"{namespace}.card" in response.text


@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/json, text/markdown;q=0.5", "",
                                    "text/markdown, application/json", "text/markdown;q=0, */*"])
async def test_json_stays_the_answer_unless_markdown_is_preferred(http, owner, namespace, accept):
    await create_model(http, owner, f"{namespace}.card")
    response = await http.get(f"/v1/models/{namespace}.card", headers={**owner["headers"], "Accept": accept})
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["handle"] == f"{namespace}.card"


async def test_markdown_for_an_unreadable_model_is_still_404(http, make_key, owner, namespace):
    await create_model(http, owner, f"{namespace}.card")
    outsider = await make_key(f"o{uuid.uuid4().hex[:10]}")
    response = await http.get(f"/v1/models/{namespace}.card", headers={**outsider["headers"], "Accept": "text/markdown"})
    assert_error(response, 404, "not_found")


async def test_two_concurrent_creates_of_one_handle_give_one_201_and_one_409(http, owner, namespace):
    responses = await asyncio.gather(*[
        http.post("/v1/models", json={"handle": f"{namespace}.race"}, headers=owner["headers"]) for _ in range(2)])
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert [r.json()["error"]["code"] for r in responses if r.status_code == 409] == ["handle_taken"]


# ---------------------------------------------------------------- list


async def test_list_is_ordered_by_handle_and_pages_without_gaps_or_repeats_while_models_are_added(
        http, owner, namespace):
    for name in ["m05", "m01", "m09", "m03", "m07"]:
        await create_model(http, owner, f"{namespace}.{name}")
    first = (await http.get("/v1/models", params={"namespace": namespace, "limit": 2},
                            headers=owner["headers"])).json()
    assert [m["handle"] for m in first["items"]] == [f"{namespace}.m01", f"{namespace}.m03"]
    assert first["limit"] == 2 and first["next_cursor"]
    # Added after the first page was read: one ahead of the cursor, one behind it.
    await create_model(http, owner, f"{namespace}.m08")
    await create_model(http, owner, f"{namespace}.m00")
    rest = await read_all_pages(http, "/v1/models", owner, namespace=namespace, limit=2,
                                cursor=first["next_cursor"])
    seen = [m["handle"] for m in first["items"] + rest]
    assert seen == [f"{namespace}.{n}" for n in ["m01", "m03", "m05", "m07", "m08", "m09"]]


async def test_a_page_that_fits_still_has_the_page_shape(http, owner, namespace):
    await create_model(http, owner, f"{namespace}.only")
    body = (await http.get("/v1/models", params={"namespace": namespace}, headers=owner["headers"])).json()
    assert body["limit"] == 50 and body["next_cursor"] is None
    assert [m["handle"] for m in body["items"]] == [f"{namespace}.only"]


async def test_list_without_namespace_is_the_public_catalog(http, make_key, owner, namespace):
    publisher = await make_key("public", scope="authoring")
    public_handle = f"public.catalog-{uuid.uuid4().hex[:8]}"
    await create_model(http, publisher, public_handle)
    await create_model(http, owner, f"{namespace}.private")
    listed = await read_all_pages(http, "/v1/models", owner, limit=250)
    handles = [m["handle"] for m in listed]
    assert public_handle in handles
    assert all(h.startswith("public.") for h in handles)
    assert handles == sorted(handles)


async def test_a_namespace_the_key_cannot_read_lists_as_empty(http, make_key, owner, namespace):
    await create_model(http, owner, f"{namespace}.secret")
    outsider = await make_key(f"o{uuid.uuid4().hex[:10]}")
    body = (await http.get("/v1/models", params={"namespace": namespace}, headers=outsider["headers"])).json()
    assert body == {"items": [], "next_cursor": None, "limit": 50}


async def test_archived_models_are_listed_only_when_asked_for(http, owner, namespace):
    await create_model(http, owner, f"{namespace}.live")
    await create_model(http, owner, f"{namespace}.old")
    await http.delete(f"/v1/models/{namespace}.old", headers=owner["headers"])
    default = await read_all_pages(http, "/v1/models", owner, namespace=namespace)
    assert [m["handle"] for m in default] == [f"{namespace}.live"]
    archived = await read_all_pages(http, "/v1/models", owner, namespace=namespace, state="archived")
    assert [(m["handle"], m["state"]) for m in archived] == [(f"{namespace}.old", "archived")]
    drafts = await read_all_pages(http, "/v1/models", owner, namespace=namespace, state="draft")
    assert [m["handle"] for m in drafts] == [f"{namespace}.live"]


async def test_kind_filter_matches_exactly(http, owner, namespace):
    await create_model(http, owner, f"{namespace}.k")
    assert len(await read_all_pages(http, "/v1/models", owner, namespace=namespace, kind="scoring")) == 1
    assert await read_all_pages(http, "/v1/models", owner, namespace=namespace, kind="retrieval") == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 251}, {"limit": "ten"}, {"state": "sleeping"},
                                    {"cursor": "not-a-cursor"}, {"namespace": "Bad Namespace"}])
async def test_list_rejects_bad_query_parameters(http, owner, params):
    response = await http.get("/v1/models", params=params, headers=owner["headers"])
    assert_error(response, 422, "validation_error")


# ---------------------------------------------------------------- patch


async def test_patch_changes_only_the_fields_sent(http, owner, namespace):
    handle = f"{namespace}.p"
    await create_model(http, owner, handle, description="before", readme_markdown="# Readme")
    response = await http.patch(f"/v1/models/{handle}", json={"max_depth": 0, "additional_terms": "Be nice"},
                                headers=owner["headers"])
    assert response.status_code == 200
    body = response.json()
    assert body["max_depth"] == 0 and body["additional_terms"] == "Be nice"
    assert body["description"] == "before" and body["readme_markdown"] == "# Readme"
    cleared = await http.patch(f"/v1/models/{handle}", json={"readme_markdown": None, "description": None},
                               headers=owner["headers"])
    assert cleared.json()["readme_markdown"] is None
    assert cleared.json()["description"] == "before"


async def test_patch_sets_and_clears_the_version_retention_policy(http, owner, namespace):
    handle = f"{namespace}.retention"
    await create_model(http, owner, handle)
    full = await http.patch(f"/v1/models/{handle}", json={"version_retention_policy": {
        "keep_unnamed": 5, "keep_first_of_month": False}}, headers=owner["headers"])
    assert full.json()["version_retention_policy"] == {"keep_unnamed": 5, "keep_first_of_month": False}
    partial = await http.patch(f"/v1/models/{handle}", json={"version_retention_policy": {"keep_unnamed": 3}},
                               headers=owner["headers"])
    assert partial.json()["version_retention_policy"] == {"keep_unnamed": 3, "keep_first_of_month": True}
    reset = await http.patch(f"/v1/models/{handle}", json={"version_retention_policy": None},
                             headers=owner["headers"])
    assert reset.json()["version_retention_policy"] is None


@pytest.mark.parametrize("body", [
    {"state": "ready"},
    {"handle": "x.y"},
    {"kind": "scoring"},
    {"scoring_method": "logistic"},
    {"max_depth": -2},
    {"version_retention_policy": {"keep_unnamed": -1}},
    {"version_retention_policy": {"keep_everything": True}},
    {"zero_data_retention": 1},
])
async def test_patch_rejects_state_unknown_fields_and_bad_values_without_changing_anything(
        http, owner, namespace, body):
    handle = f"{namespace}.strict"
    before = await create_model(http, owner, handle)
    response = await http.patch(f"/v1/models/{handle}", json=body, headers=owner["headers"])
    assert_error(response, 422, "validation_error")
    assert (await http.get(f"/v1/models/{handle}", headers=owner["headers"])).json() == before


async def test_turning_zero_data_retention_on_purges_the_samples(http, owner, namespace):
    handle = f"{namespace}.zdr"
    await create_model(http, owner, handle)
    await add_traits(http, owner, handle, {"name": "Warmth"})
    await add_samples(http, owner, handle, {"trait": "warmth", "text": "Lovely to hear from you", "quality": 1},
                      {"trait": "warmth", "text": "Read the manual", "quality": 0})
    response = await http.patch(f"/v1/models/{handle}", json={"zero_data_retention": True}, headers=owner["headers"])
    assert response.status_code == 200 and response.json()["zero_data_retention"] is True
    assert await read_all_pages(http, f"/v1/models/{handle}/samples", owner) == []
    trait = (await http.get(f"/v1/models/{handle}/traits/warmth", headers=owner["headers"])).json()
    assert trait["sample_count"] == 0
    # Turning it off keeps what is there and only affects what comes next.
    await http.patch(f"/v1/models/{handle}", json={"zero_data_retention": False}, headers=owner["headers"])
    await add_samples(http, owner, handle, {"trait": "warmth", "text": "Happy to help", "quality": 1})
    assert len(await read_all_pages(http, f"/v1/models/{handle}/samples", owner)) == 1


async def test_patch_is_allowed_on_a_ready_model(http, owner, namespace, sessionmaker_):
    handle = f"{namespace}.ready"
    await create_model(http, owner, handle)
    await set_state(sessionmaker_, handle, "ready")
    response = await http.patch(f"/v1/models/{handle}", json={"description": "after"}, headers=owner["headers"])
    assert response.status_code == 200
    assert response.json()["description"] == "after" and response.json()["state"] == "ready"


# ---------------------------------------------------------------- busy and archived


async def test_writes_while_busy_are_model_busy_and_change_nothing(http, owner, namespace, sessionmaker_):
    handle = f"{namespace}.busy"
    await create_model(http, owner, handle)
    await add_traits(http, owner, handle, {"name": "Warmth"})
    sample_id = (await add_samples(http, owner, handle, {"trait": "warmth", "text": "Hello", "quality": 1}))[0]
    await set_state(sessionmaker_, handle, "busy")
    before = (await http.get(f"/v1/models/{handle}", headers=owner["headers"])).json()
    headers = owner["headers"]
    attempts = [
        await http.patch(f"/v1/models/{handle}", json={"description": "x"}, headers=headers),
        await http.delete(f"/v1/models/{handle}", headers=headers),
        await http.post(f"/v1/models/{handle}/traits", json={"traits": [{"name": "Calm"}]}, headers=headers),
        await http.patch(f"/v1/models/{handle}/traits/warmth", json={"name": "Heat"}, headers=headers),
        await http.delete(f"/v1/models/{handle}/traits/warmth", headers=headers),
        await http.post(f"/v1/models/{handle}/samples", json={"samples": [
            {"trait": "warmth", "text": "Hi", "quality": 1}]}, headers=headers),
        await http.delete(f"/v1/models/{handle}/samples/{sample_id}", headers=headers),
    ]
    for response in attempts:
        assert_error(response, 409, "model_busy")
    assert (await http.get(f"/v1/models/{handle}", headers=headers)).json() == before
    assert len(await read_all_pages(http, f"/v1/models/{handle}/samples", owner)) == 1


async def test_archive_is_idempotent_and_the_model_stays_readable(http, owner, namespace):
    handle = f"{namespace}.arch"
    await create_model(http, owner, handle)
    first = await http.delete(f"/v1/models/{handle}", headers=owner["headers"])
    second = await http.delete(f"/v1/models/{handle}", headers=owner["headers"])
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {"handle": handle, "deleted": True}
    detail = await http.get(f"/v1/models/{handle}", headers=owner["headers"])
    assert detail.status_code == 200 and detail.json()["state"] == "archived"


async def test_writes_to_an_archived_model_are_model_archived(http, owner, namespace):
    handle = f"{namespace}.frozen"
    await create_model(http, owner, handle)
    await add_traits(http, owner, handle, {"name": "Warmth"})
    await http.delete(f"/v1/models/{handle}", headers=owner["headers"])
    headers = owner["headers"]
    for response in [
        await http.patch(f"/v1/models/{handle}", json={"description": "x"}, headers=headers),
        await http.post(f"/v1/models/{handle}/traits", json={"traits": [{"name": "Calm"}]}, headers=headers),
        await http.post(f"/v1/models/{handle}/samples", json={"samples": [
            {"trait": "warmth", "text": "Hi", "quality": 1}]}, headers=headers),
    ]:
        assert_error(response, 409, "model_archived")
    assert [t["key"] for t in (await http.get(f"/v1/models/{handle}/traits", headers=headers)).json()["traits"]] \
        == ["warmth"]
