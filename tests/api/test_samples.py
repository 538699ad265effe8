"""Sample endpoints and quality labels (SPEC §1.8, §3 rows 13, 14, 16)."""

from __future__ import annotations

import asyncio
import hashlib
from types import SimpleNamespace

import pytest

from api.pagination import encode_cursor
from domain.labels import InvalidLabel, parse_quality
from tests.api.test_models import add_samples, add_traits, assert_error, create_model, read_all_pages, set_state


@pytest.fixture
async def draft(http, owner, namespace) -> str:
    handle = f"{namespace}.support"
    await create_model(http, owner, handle)
    await add_traits(http, owner, handle, {"name": "Warmth", "positive_label": "warm", "negative_label": "cold"},
                     {"name": "Clarity and Simplicity"})
    return handle


# ---------------------------------------------------------------- labels

TRAIT = SimpleNamespace(positive_label="Warm", negative_label="frosty")


@pytest.mark.parametrize("value, quality", [
    (0, 0.0), (1, 1.0), (0.25, 0.25), ("good", 1.0), ("EXCELLENT", 1.0), (" yes ", 1.0), ("strong", 1.0),
    ("fair", 0.5), ("Mixed", 0.5), ("medium", 0.5), ("moderate", 0.5),
    ("poor", 0.0), ("no", 0.0), ("bad", 0.0), ("Weak", 0.0), ("negative", 0.0), ("positive", 1.0),
    ("warm", 1.0), ("FROSTY", 0.0),
])
def test_quality_labels_map_to_numbers(value, quality):
    assert parse_quality(value, TRAIT) == quality


@pytest.mark.parametrize("value", [-0.01, 1.01, float("nan"), float("inf"), True, None, "", "0.7", "great",
                                   [1], {"q": 1}])
def test_anything_else_is_an_invalid_label(value):
    with pytest.raises(InvalidLabel):
        parse_quality(value, TRAIT)


def test_the_traits_own_labels_win_over_the_shared_words():
    inverted = SimpleNamespace(positive_label="low", negative_label="high")
    assert parse_quality("low", inverted) == 1.0
    assert parse_quality("high", inverted) == 0.0


# ---------------------------------------------------------------- append


async def test_append_returns_ids_in_input_order_and_stores_every_field(http, owner, draft):
    digest = hashlib.sha256(b"page").hexdigest().upper()
    ids = await add_samples(
        http, owner, draft,
        {"trait": "warmth", "text": "So glad you asked!", "quality": "warm"},
        {"trait": "Clarity and Simplicity", "text": "Use the button.", "quality": 0.8,
         "source_url": "https://example.com/faq", "content_sha256": digest},
        {"trait": "Warmth", "text": "Figure it out.", "quality": "cold"},
        {"trait": "warmth", "text": "It is fine.", "quality": "fair"},
    )
    assert len(ids) == 4 and ids == sorted(ids)
    items = await read_all_pages(http, f"/v1/models/{draft}/samples", owner)
    assert [s["id"] for s in items] == ids
    assert [(s["trait"], s["quality"]) for s in items] == [
        ("warmth", 1.0), ("clarity_and_simplicity", 0.8), ("warmth", 0.0), ("warmth", 0.5)]
    assert items[1]["source_url"] == "https://example.com/faq"
    assert items[1]["content_sha256"] == digest.lower()
    assert all(s["provenance"] == "authored" and s["created_at"].endswith("Z") for s in items)
    assert items[0]["source_url"] is None and items[0]["content_sha256"] is None


async def test_one_unknown_trait_rejects_the_whole_batch(http, owner, draft):
    response = await http.post(f"/v1/models/{draft}/samples", json={"samples": [
        {"trait": "warmth", "text": "ok", "quality": 1},
        {"trait": "humour", "text": "ha", "quality": 1},
        {"trait": "warmth", "text": "ok", "quality": 0},
        {"trait": "sarcasm", "text": "sure", "quality": "nonsense"},
    ]}, headers=owner["headers"])
    error = assert_error(response, 422, "unknown_trait")
    assert error["details"]["indexes"] == [1, 3]
    assert error["details"]["traits"] == ["humour", "sarcasm"]
    assert await read_all_pages(http, f"/v1/models/{draft}/samples", owner) == []


async def test_one_invalid_label_rejects_the_whole_batch(http, owner, draft):
    response = await http.post(f"/v1/models/{draft}/samples", json={"samples": [
        {"trait": "warmth", "text": "ok", "quality": "good"},
        {"trait": "warmth", "text": "too much", "quality": 1.5},
        {"trait": "warmth", "text": "what", "quality": "splendid"},
    ]}, headers=owner["headers"])
    assert assert_error(response, 422, "invalid_label")["details"]["indexes"] == [1, 2]
    assert await read_all_pages(http, f"/v1/models/{draft}/samples", owner) == []


@pytest.mark.parametrize("samples", [
    [],
    [{"trait": "warmth", "text": "x", "quality": 1}] * 501,
    [{"trait": "warmth", "text": "   ", "quality": 1}],
    [{"trait": "warmth", "quality": 1}],
    [{"trait": "warmth", "text": "x", "quality": True}],
    [{"trait": "warmth", "text": "x", "quality": 1, "content_sha256": "abc"}],
    [{"trait": "warmth", "text": "x", "quality": 1, "provenance": "synthesized"}],
    [{"trait": "warmth", "text": 5, "quality": 1}],
])
async def test_malformed_batches_are_validation_errors_and_write_nothing(http, owner, draft, samples):
    response = await http.post(f"/v1/models/{draft}/samples", json={"samples": samples}, headers=owner["headers"])
    assert_error(response, 422, "validation_error")
    assert await read_all_pages(http, f"/v1/models/{draft}/samples", owner) == []


async def test_a_full_batch_of_500_is_accepted(http, owner, draft):
    samples = [{"trait": "warmth", "text": f"sample {i}", "quality": i % 2} for i in range(500)]
    ids = await add_samples(http, owner, draft, *samples)
    assert len(set(ids)) == 500
    trait = (await http.get(f"/v1/models/{draft}/traits/warmth", headers=owner["headers"])).json()
    assert (trait["sample_count"], trait["positive_samples"], trait["negative_samples"]) == (500, 250, 250)


@pytest.mark.parametrize("state, code", [("ready", "not_draft"), ("failed", "not_draft"), ("busy", "model_busy")])
async def test_appending_outside_draft_is_refused(http, owner, draft, sessionmaker_, state, code):
    await set_state(sessionmaker_, draft, state)
    response = await http.post(f"/v1/models/{draft}/samples", json={"samples": [
        {"trait": "warmth", "text": "x", "quality": 1}]}, headers=owner["headers"])
    assert_error(response, 409, code)
    assert await read_all_pages(http, f"/v1/models/{draft}/samples", owner) == []


async def test_concurrent_appends_all_land_with_distinct_ids(http, owner, draft):
    batches = [[{"trait": "warmth", "text": f"{b}-{i}", "quality": i % 2} for i in range(20)] for b in range(5)]
    responses = await asyncio.gather(*[
        http.post(f"/v1/models/{draft}/samples", json={"samples": batch}, headers=owner["headers"])
        for batch in batches])
    assert [r.status_code for r in responses] == [200] * 5
    ids = [i for r in responses for i in r.json()["ids"]]
    assert len(set(ids)) == 100
    assert sorted(s["id"] for s in await read_all_pages(http, f"/v1/models/{draft}/samples", owner)) == sorted(ids)


# ---------------------------------------------------------------- list


async def test_listing_pages_through_everything_while_samples_are_appended(http, owner, draft):
    await add_samples(http, owner, draft, *[{"trait": "warmth", "text": f"a{i}", "quality": 1} for i in range(5)])
    first = (await http.get(f"/v1/models/{draft}/samples", params={"limit": 2}, headers=owner["headers"])).json()
    assert len(first["items"]) == 2 and first["limit"] == 2 and first["next_cursor"]
    await add_samples(http, owner, draft, *[{"trait": "warmth", "text": f"b{i}", "quality": 0} for i in range(3)])
    seen = list(first["items"])
    cursor = first["next_cursor"]
    while cursor:
        body = (await http.get(f"/v1/models/{draft}/samples", params={"limit": 2, "cursor": cursor},
                               headers=owner["headers"])).json()
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor:  # keep appending between page reads
            await add_samples(http, owner, draft, {"trait": "warmth", "text": f"c{cursor[-4:]}", "quality": 1})
    texts = [s["text"] for s in seen]
    assert len(texts) == len(set(s["id"] for s in seen))
    assert texts[:8] == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(3)]
    everything = await read_all_pages(http, f"/v1/models/{draft}/samples", owner, limit=500)
    assert [s["id"] for s in seen] == [s["id"] for s in everything]


async def test_listing_filters_by_trait_key_or_name(http, owner, draft):
    await add_samples(http, owner, draft, {"trait": "warmth", "text": "w", "quality": 1},
                      {"trait": "clarity_and_simplicity", "text": "c", "quality": 1})
    by_name = await read_all_pages(http, f"/v1/models/{draft}/samples", owner, trait="Clarity and Simplicity")
    by_key = await read_all_pages(http, f"/v1/models/{draft}/samples", owner, trait="warmth")
    assert [s["text"] for s in by_name] == ["c"] and [s["text"] for s in by_key] == ["w"]
    response = await http.get(f"/v1/models/{draft}/samples", params={"trait": "nope"}, headers=owner["headers"])
    assert_error(response, 422, "unknown_trait")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"cursor": "%%%"},
                                    {"cursor": encode_cursor(2**70)}, {"cursor": encode_cursor("12")}])
async def test_listing_rejects_bad_parameters(http, owner, draft, params):
    response = await http.get(f"/v1/models/{draft}/samples", params=params, headers=owner["headers"])
    assert_error(response, 422, "validation_error")


# ---------------------------------------------------------------- delete


async def test_delete_one_sample(http, owner, draft):
    keep, drop = await add_samples(http, owner, draft, {"trait": "warmth", "text": "keep", "quality": 1},
                                   {"trait": "warmth", "text": "drop", "quality": 0})
    response = await http.delete(f"/v1/models/{draft}/samples/{drop}", headers=owner["headers"])
    assert response.status_code == 200 and response.json() == {"handle": draft, "deleted": True}
    assert [s["id"] for s in await read_all_pages(http, f"/v1/models/{draft}/samples", owner)] == [keep]
    again = await http.delete(f"/v1/models/{draft}/samples/{drop}", headers=owner["headers"])
    assert_error(again, 404, "not_found")


async def test_deleting_another_models_sample_is_404(http, owner, namespace, draft):
    other = f"{namespace}.other"
    await create_model(http, owner, other)
    await add_traits(http, owner, other, {"name": "Warmth"})
    (foreign,) = await add_samples(http, owner, other, {"trait": "warmth", "text": "x", "quality": 1})
    assert_error(await http.delete(f"/v1/models/{draft}/samples/{foreign}", headers=owner["headers"]),
                 404, "not_found")
    assert len(await read_all_pages(http, f"/v1/models/{other}/samples", owner)) == 1


@pytest.mark.parametrize("sample_id", ["abc", "0", str(2**70)])
async def test_a_malformed_sample_id_is_a_validation_error(http, owner, draft, sample_id):
    response = await http.delete(f"/v1/models/{draft}/samples/{sample_id}", headers=owner["headers"])
    assert_error(response, 422, "validation_error")


async def test_deleting_a_sample_outside_draft_is_not_draft(http, owner, draft, sessionmaker_):
    (sample_id,) = await add_samples(http, owner, draft, {"trait": "warmth", "text": "x", "quality": 1})
    await set_state(sessionmaker_, draft, "ready")
    assert_error(await http.delete(f"/v1/models/{draft}/samples/{sample_id}", headers=owner["headers"]),
                 409, "not_draft")
    assert len(await read_all_pages(http, f"/v1/models/{draft}/samples", owner)) == 1
