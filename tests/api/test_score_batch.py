"""POST …/score/batch (SPEC §9.1) on a model trained by the real engine with the real MiniLM embedder:
every item's result is the single-score card byte for byte, and a bad item fails alone."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.api.local_site import fetching_http, local_site  # noqa: F401 (fixtures)
from tests.api.trained import CLEAR, COLD, UNCLEAR, WARM, train_now, trained_model

LONG = " ".join((CLEAR + UNCLEAR + WARM + COLD) * 6)  # ~1,100 words: several encoder windows
PRIVATE_URLS = ["http://10.0.0.1/internal", "http://169.254.169.254/latest/meta-data/"]


@pytest.fixture(scope="module")
async def batch_model(make_key, fetching_http, sessionmaker_):  # noqa: F811
    return await trained_model(fetching_http, make_key, sessionmaker_, "b")


def mixed_items(local_site) -> list[dict]:  # noqa: F811
    pool = CLEAR + UNCLEAR + WARM + COLD
    urls = [local_site.url("/article"), local_site.url("/plain")]
    items = []
    for index in range(256):
        if index % 64 == 5:
            content = PRIVATE_URLS[index // 64 % 2]
        elif index % 32 == 9:
            content = urls[index // 32 % 2]
        elif index % 40 == 3:
            content = LONG
        else:
            content = f"{pool[index % len(pool)]} (ticket {index})" if index % 3 else pool[index % len(pool)]
        items.append({"content": content} if index % 2 else {"id": f"item-{index}", "content": content})
    return items


def raw_error(single) -> bytes:
    """The bytes of the envelope's error object, as a batch item must carry them."""
    body = single.content
    assert body.startswith(b'{"error":') and body.endswith(b"}")
    return body[len(b'{"error":'):-1]


async def test_256_mixed_items_equal_single_scores_byte_for_byte(fetching_http, local_site, batch_model):  # noqa: F811
    handle, headers = batch_model["handle"], batch_model["scorer"]["headers"]
    items = mixed_items(local_site)
    response = await fetching_http.post(f"/v1/models/{handle}/score/batch", json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    batch_id = response.headers["x-request-id"]
    body = response.json()
    assert body["metadata"] == {"request_id": batch_id, "version_id": "v1", "succeeded": 252, "failed": 4}
    assert [entry["id"] for entry in body["items"]] == [item.get("id", str(i)) for i, item in enumerate(items)]

    kinds = {"short": 0, "long": 0, "url": 0, "private": 0}
    singles: dict[str, object] = {}  # one single-score call per distinct content
    for item, entry in zip(items, body["items"]):
        if item["content"] not in singles:
            singles[item["content"]] = await fetching_http.post(f"/v1/models/{handle}/score",
                                                                json={"content": item["content"]}, headers=headers)
        single = singles[item["content"]]
        single_id = single.headers["x-request-id"].encode()
        if item["content"] in PRIVATE_URLS:
            kinds["private"] += 1
            assert single.status_code == 422
            assert entry["error"]["code"] == "fetch_failed"
            assert entry["error"]["details"]["reason"] == "address_not_allowed" and "result" not in entry
            expected = raw_error(single)
        else:
            kinds["url" if item["content"].startswith("http") else "long" if item["content"] == LONG else "short"] += 1
            assert single.status_code == 200, single.text
            assert "error" not in entry and entry["result"]["metadata"]["request_id"] == batch_id
            expected = single.content
        # Byte for byte: the single answer, with the batch's request id in place of its own, is
        # exactly the text of this item's result (or error) inside the batch answer.
        fragment = expected.replace(single_id, batch_id.encode())
        assert single_id not in fragment or single_id == batch_id.encode()
        assert b'"id":' + json.dumps(entry["id"]).encode() + b',"' + (b"error" if "error" in entry else b"result") \
            + b'":' + fragment + b"}" in response.content
    assert kinds == {"short": 237, "long": 7, "url": 8, "private": 4}


async def test_blank_item_fails_alone(fetching_http, batch_model):  # noqa: F811
    handle, headers = batch_model["handle"], batch_model["scorer"]["headers"]
    response = await fetching_http.post(f"/v1/models/{handle}/score/batch",
                                        json={"items": [{"content": " \n\t"}, {"content": CLEAR[0]}]}, headers=headers)
    assert response.status_code == 200, response.text
    first, second = response.json()["items"]
    assert first["id"] == "0" and first["error"]["code"] == "validation_error"
    assert first["error"]["request_id"] == response.headers["x-request-id"]
    assert second["id"] == "1" and second["result"]["scores"]


async def test_traits_and_pinned_handle(fetching_http, batch_model, sessionmaker_):  # noqa: F811
    handle, headers = batch_model["handle"], batch_model["owner"]["headers"]
    body = {"items": [{"content": WARM[0]}], "traits": ["Warmth"]}
    restricted = await fetching_http.post(f"/v1/models/{handle}/score/batch", json=body, headers=headers)
    single = await fetching_http.post(f"/v1/models/{handle}/score", json={"content": WARM[0], "traits": ["Warmth"]},
                                      headers=headers)
    card = restricted.json()["items"][0]["result"]
    assert list(card["scores"]) == ["warmth"]
    assert card["scores"] == single.json()["scores"]
    await train_now(sessionmaker_, handle, triggered_by="retune")  # v2 becomes active
    pinned = await fetching_http.post(f"/v1/models/{handle}@v1/score/batch", json=body, headers=headers)
    active = await fetching_http.post(f"/v1/models/{handle}/score/batch", json=body, headers=headers)
    assert pinned.json()["metadata"]["version_id"] == "v1"
    assert pinned.json()["items"][0]["result"]["metadata"]["version_id"] == "v1"
    assert active.json()["metadata"]["version_id"] == "v2"
    missing = await fetching_http.post(f"/v1/models/{handle}@v9/score/batch", json=body, headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("body, code", [
    ({"items": []}, "validation_error"),
    ({"items": [{"content": "x"}] * 257}, "validation_error"),
    ({"items": [{"id": "a", "content": "x"}, {"id": "a", "content": "y"}]}, "validation_error"),
    ({"items": [{"content": "x"}, {"id": "0", "content": "y"}]}, "validation_error"),  # "0" is item 0's default id
    ({"items": [{"content": "x"}], "feedback": {"clarity": 1}}, "validation_error"),
    ({"items": [{"content": 3}]}, "validation_error"),
    ({"items": [{"content": "x"}], "traits": []}, "validation_error"),
    ({"items": [{"content": "x"}], "traits": ["nope"]}, "unknown_trait"),
])
async def test_whole_request_refusals(fetching_http, batch_model, body, code):  # noqa: F811
    response = await fetching_http.post(f"/v1/models/{batch_model['handle']}/score/batch", json=body,
                                        headers=batch_model["scorer"]["headers"])
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code


async def test_other_namespace_gets_404_and_archived_gets_409(fetching_http, batch_model, make_key):  # noqa: F811
    url = f"/v1/models/{batch_model['handle']}/score/batch"
    stranger = await make_key(f"x{uuid.uuid4().hex[:12]}")
    body = {"items": [{"content": CLEAR[0]}]}
    hidden = await fetching_http.post(url, json=body, headers=stranger["headers"])
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    unauthenticated = await fetching_http.post(url, json=body)
    assert unauthenticated.status_code == 401
    owner = batch_model["owner"]["headers"]
    archived = await fetching_http.delete(f"/v1/models/{batch_model['handle']}", headers=owner)
    assert archived.status_code == 200
    refused = await fetching_http.post(url, json=body, headers=owner)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "model_archived"
