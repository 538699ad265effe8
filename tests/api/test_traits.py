"""Trait endpoints: list, batch upsert, read, patch, delete (SPEC §1.7, §3 rows 7, 8, 10–12)."""

from __future__ import annotations

import pytest

from tests.api.test_models import add_samples, add_traits, assert_error, create_model, read_all_pages, set_state


@pytest.fixture
async def draft(http, owner, namespace) -> str:
    handle = f"{namespace}.writing"
    await create_model(http, owner, handle)
    return handle


async def test_upsert_derives_keys_applies_defaults_and_lists_in_creation_order(http, owner, draft):
    traits = await add_traits(http, owner, draft, {"name": "Clarity and Simplicity"},
                              {"name": "Warmth", "key": "warmth-2", "description": "Friendly tone",
                               "positive_label": "warm", "negative_label": "cold", "aggregation": "min"})
    assert traits[0] == {
        "key": "clarity_and_simplicity", "name": "Clarity and Simplicity", "description": "",
        "positive_label": "positive", "negative_label": "negative", "aggregation": "mean",
        "sample_count": 0, "positive_samples": 0, "negative_samples": 0, "kind": "extrinsic",
        "discrimination": None, "explained_variance": None, "anchor_sample_ids": None,
    }
    assert (traits[1]["key"], traits[1]["positive_label"], traits[1]["aggregation"]) == ("warmth-2", "warm", "min")
    listed = (await http.get(f"/v1/models/{draft}/traits", headers=owner["headers"])).json()["traits"]
    assert listed == traits
    model = (await http.get(f"/v1/models/{draft}", headers=owner["headers"])).json()
    assert model["traits"] == ["Clarity and Simplicity", "Warmth"]


@pytest.mark.parametrize("name, key", [("Don't  hedge!", "don_t_hedge"), ("Café Culture", "cafe_culture"),
                                       ("  Tone 2 ", "tone_2")])
async def test_derived_keys_are_snake_case(http, owner, draft, name, key):
    assert (await add_traits(http, owner, draft, {"name": name}))[0]["key"] == key


async def test_same_key_replaces_and_new_key_adds_keeping_the_original_order(http, owner, draft):
    await add_traits(http, owner, draft, {"name": "Clarity"}, {"name": "Warmth"})
    traits = await add_traits(http, owner, draft, {"name": "Brevity"},
                              {"key": "clarity", "name": "Clear writing", "negative_label": "muddled"})
    assert [(t["key"], t["name"]) for t in traits] == [
        ("clarity", "Clear writing"), ("warmth", "Warmth"), ("brevity", "Brevity")]
    assert traits[0]["negative_label"] == "muddled"


async def test_replacing_a_trait_keeps_its_samples(http, owner, draft):
    await add_traits(http, owner, draft, {"name": "Clarity"})
    await add_samples(http, owner, draft, {"trait": "clarity", "text": "Plain words", "quality": 1})
    traits = await add_traits(http, owner, draft, {"key": "clarity", "name": "Clear"})
    assert traits[0]["sample_count"] == 1


@pytest.mark.parametrize("body", [
    {"traits": []},
    {"traits": [{"name": "A"}, {"name": "a"}]},
    {"traits": [{"name": "Tone"}, {"key": "tone", "name": "Other"}]},
    {"traits": [{"name": "!!!"}]},
    {"traits": [{"name": "Tone", "aggregation": "median"}]},
    {"traits": [{"name": "Tone", "key": "Bad Key"}]},
    {"traits": [{"name": "Tone", "key": "tone\n"}]},
    {"traits": [{"name": "Tone", "key": "k" * 101}]},
    {"traits": [{"name": ""}]},
    {"traits": [{"name": "Tone", "colour": "red"}]},
    {"traits": [{"name": 7}]},
    {"traits": [{"name": "Ok"}, {"name": "Tone", "positive_label": ""}]},
])
async def test_a_bad_batch_is_rejected_whole(http, owner, draft, body):
    response = await http.post(f"/v1/models/{draft}/traits", json=body, headers=owner["headers"])
    assert_error(response, 422, "validation_error")
    assert (await http.get(f"/v1/models/{draft}/traits", headers=owner["headers"])).json() == {"traits": []}


async def test_get_one_trait_by_key_or_by_name_with_sample_counts(http, owner, draft):
    await add_traits(http, owner, draft, {"name": "Clarity and Simplicity"})
    await add_samples(http, owner, draft,
                      {"trait": "clarity_and_simplicity", "text": "a", "quality": 0.9},
                      {"trait": "clarity_and_simplicity", "text": "b", "quality": 0.51},
                      {"trait": "clarity_and_simplicity", "text": "c", "quality": 0.5},
                      {"trait": "clarity_and_simplicity", "text": "d", "quality": 0.1})
    by_key = await http.get(f"/v1/models/{draft}/traits/clarity_and_simplicity", headers=owner["headers"])
    by_name = await http.get(f"/v1/models/{draft}/traits/Clarity and Simplicity", headers=owner["headers"])
    assert by_key.status_code == by_name.status_code == 200
    assert by_key.json() == by_name.json()
    counts = by_key.json()
    assert (counts["sample_count"], counts["positive_samples"], counts["negative_samples"]) == (4, 2, 1)


async def test_a_key_match_wins_over_a_name_match(http, owner, draft):
    await add_traits(http, owner, draft, {"key": "tone", "name": "Voice"}, {"key": "voice", "name": "Tone"})
    assert (await http.get(f"/v1/models/{draft}/traits/tone", headers=owner["headers"])).json()["name"] == "Voice"


async def test_unknown_trait_is_404(http, owner, draft):
    headers = owner["headers"]
    assert_error(await http.get(f"/v1/models/{draft}/traits/nope", headers=headers), 404, "not_found")
    assert_error(await http.patch(f"/v1/models/{draft}/traits/nope", json={"name": "x"}, headers=headers),
                 404, "not_found")
    assert_error(await http.delete(f"/v1/models/{draft}/traits/nope", headers=headers), 404, "not_found")


async def test_patch_edits_one_trait_and_returns_all(http, owner, draft):
    await add_traits(http, owner, draft, {"name": "Clarity"}, {"name": "Warmth"})
    response = await http.patch(f"/v1/models/{draft}/traits/Warmth",
                                json={"name": "Kindness", "description": "Caring", "positive_label": "kind",
                                      "aggregation": "max"}, headers=owner["headers"])
    assert response.status_code == 200
    traits = response.json()["traits"]
    assert [t["key"] for t in traits] == ["clarity", "warmth"]
    assert (traits[1]["name"], traits[1]["description"], traits[1]["positive_label"], traits[1]["negative_label"],
            traits[1]["aggregation"]) == ("Kindness", "Caring", "kind", "negative", "max")


@pytest.mark.parametrize("body", [{"key": "other"}, {"aggregation": "median"}, {"name": ""}, {"kind": "intrinsic"}])
async def test_patch_rejects_bad_fields_and_changes_nothing(http, owner, draft, body):
    before = await add_traits(http, owner, draft, {"name": "Clarity"})
    response = await http.patch(f"/v1/models/{draft}/traits/clarity", json=body, headers=owner["headers"])
    assert_error(response, 422, "validation_error")
    assert (await http.get(f"/v1/models/{draft}/traits", headers=owner["headers"])).json()["traits"] == before


async def test_delete_removes_the_trait_and_its_samples(http, owner, draft):
    await add_traits(http, owner, draft, {"name": "Clarity"}, {"name": "Warmth"})
    await add_samples(http, owner, draft, {"trait": "clarity", "text": "a", "quality": 1},
                      {"trait": "warmth", "text": "b", "quality": 0})
    response = await http.delete(f"/v1/models/{draft}/traits/clarity", headers=owner["headers"])
    assert response.status_code == 200
    assert response.json() == {"handle": draft, "deleted": True}
    remaining = await read_all_pages(http, f"/v1/models/{draft}/samples", owner)
    assert [s["trait"] for s in remaining] == ["warmth"]
    assert (await http.get(f"/v1/models/{draft}", headers=owner["headers"])).json()["traits"] == ["Warmth"]


@pytest.mark.parametrize("state", ["ready", "failed"])
async def test_trait_edits_outside_draft_are_not_draft(http, owner, draft, sessionmaker_, state):
    await add_traits(http, owner, draft, {"name": "Clarity"})
    await set_state(sessionmaker_, draft, state)
    headers = owner["headers"]
    for response in [
        await http.post(f"/v1/models/{draft}/traits", json={"traits": [{"name": "New"}]}, headers=headers),
        await http.patch(f"/v1/models/{draft}/traits/clarity", json={"name": "x"}, headers=headers),
        await http.delete(f"/v1/models/{draft}/traits/clarity", headers=headers),
    ]:
        assert_error(response, 409, "not_draft")
    traits = (await http.get(f"/v1/models/{draft}/traits", headers=headers)).json()["traits"]
    assert [(t["key"], t["name"]) for t in traits] == [("clarity", "Clarity")]
