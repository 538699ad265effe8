"""Who may read and write models, traits and samples (SPEC §1.1, §1.2): a 401/403/404 matrix."""

from __future__ import annotations

import uuid

import pytest

from store import keys
from tests.api.test_models import add_samples, add_traits, create_model, read_all_pages

CALLERS = ["no_key", "unknown_key", "revoked_key", "scoring_key_of_namespace", "author_of_other_namespace", "owner"]

# One row per request, in the order they are sent; one column per caller.
# Columns: no key, unknown, revoked, scoring key of the namespace, authoring key elsewhere, owner.
MATRIX = [
    ("GET model", 401, 401, 401, 200, 404, 200),
    ("GET list", 401, 401, 401, 200, 200, 200),
    ("PATCH model", 401, 401, 401, 403, 404, 200),
    ("GET traits", 401, 401, 401, 200, 404, 200),
    ("GET trait", 401, 401, 401, 200, 404, 200),
    ("POST traits", 401, 401, 401, 403, 404, 200),
    ("PATCH trait", 401, 401, 401, 403, 404, 200),
    ("POST samples", 401, 401, 401, 403, 404, 200),
    ("GET samples", 401, 401, 401, 200, 404, 200),
    ("DELETE sample", 401, 401, 401, 403, 404, 200),
    ("DELETE trait", 401, 401, 401, 403, 404, 200),
    ("POST model", 401, 401, 401, 403, 403, 201),
    ("DELETE model", 401, 401, 401, 403, 404, 200),
]
CODES = {200: None, 201: None, 401: "unauthorized", 403: "forbidden", 404: "not_found"}


async def headers_for(caller: str, namespace: str, owner: dict, make_key, sessionmaker_) -> dict:
    if caller == "no_key":
        return {}
    if caller == "unknown_key":
        return {"Authorization": f"Bearer assay_{uuid.uuid4().hex[:12]}_{uuid.uuid4().hex}"}
    if caller == "revoked_key":
        issued = await make_key(namespace, scope="authoring")
        async with sessionmaker_() as session:
            await keys.revoke(session, issued["prefix"])
            await session.commit()
        return issued["headers"]
    if caller == "scoring_key_of_namespace":
        return (await make_key(namespace, scope="scoring"))["headers"]
    if caller == "author_of_other_namespace":
        return (await make_key(f"o{uuid.uuid4().hex[:10]}", scope="authoring"))["headers"]
    return owner["headers"]


async def send_all(http, handle: str, namespace: str, sample_ids: list[int], headers: dict) -> list:
    base = f"/v1/models/{handle}"
    return [
        await http.get(base, headers=headers),
        await http.get("/v1/models", params={"namespace": namespace}, headers=headers),
        await http.patch(base, json={"description": "changed"}, headers=headers),
        await http.get(f"{base}/traits", headers=headers),
        await http.get(f"{base}/traits/warmth", headers=headers),
        await http.post(f"{base}/traits", json={"traits": [{"name": "Added"}]}, headers=headers),
        await http.patch(f"{base}/traits/warmth", json={"description": "edited"}, headers=headers),
        await http.post(f"{base}/samples", json={"samples": [{"trait": "warmth", "text": "new", "quality": 1}]},
                        headers=headers),
        await http.get(f"{base}/samples", headers=headers),
        await http.delete(f"{base}/samples/{sample_ids[1]}", headers=headers),
        await http.delete(f"{base}/traits/doomed", headers=headers),
        await http.post("/v1/models", json={"handle": f"{namespace}.newcomer"}, headers=headers),
        await http.delete(base, headers=headers),
    ]


@pytest.mark.parametrize("column, caller", list(enumerate(CALLERS)))
async def test_catalog_access_matrix(http, make_key, sessionmaker_, owner, namespace, column, caller):
    handle = f"{namespace}.guarded"
    await create_model(http, owner, handle)
    await add_traits(http, owner, handle, {"name": "Warmth"}, {"name": "Doomed"})
    sample_ids = await add_samples(http, owner, handle, {"trait": "warmth", "text": "a", "quality": 1},
                                   {"trait": "warmth", "text": "b", "quality": 0})
    headers = await headers_for(caller, namespace, owner, make_key, sessionmaker_)
    responses = await send_all(http, handle, namespace, sample_ids, headers)

    got = [(row[0], response.status_code) for row, response in zip(MATRIX, responses)]
    assert got == [(row[0], row[column + 1]) for row in MATRIX]
    for response in responses:
        code = CODES[response.status_code]
        if code is not None:
            assert response.json()["error"]["code"] == code
    if responses[0].status_code == 401:
        assert responses[0].headers["www-authenticate"] == "Bearer"

    listed = responses[1].json()["items"] if responses[1].status_code == 200 else []
    if caller == "author_of_other_namespace":
        assert listed == []  # the namespace is not theirs: an empty page, not a hint that it exists
    if caller in ("scoring_key_of_namespace", "owner"):
        assert [m["handle"] for m in listed] == [handle]

    if caller != "owner":
        # Nothing the refused requests tried was written.
        model = (await http.get(f"/v1/models/{handle}", headers=owner["headers"])).json()
        assert (model["description"], model["state"], model["traits"]) == ("", "draft", ["Warmth", "Doomed"])
        samples = await read_all_pages(http, f"/v1/models/{handle}/samples", owner)
        assert [s["id"] for s in samples] == sample_ids
        warmth = (await http.get(f"/v1/models/{handle}/traits/warmth", headers=owner["headers"])).json()
        assert warmth["description"] == ""
        newcomer = await http.get(f"/v1/models/{namespace}.newcomer", headers=owner["headers"])
        assert newcomer.status_code == 404


@pytest.mark.parametrize("scope", ["authoring", "scoring"])
async def test_public_models_are_readable_by_all_but_writable_and_sample_listable_only_by_owners(
        http, make_key, scope):
    publisher = await make_key("public", scope="authoring")
    handle = f"public.shared-{uuid.uuid4().hex[:8]}"
    await create_model(http, publisher, handle)
    await add_traits(http, publisher, handle, {"name": "Warmth"})
    (sample_id,) = await add_samples(http, publisher, handle, {"trait": "warmth", "text": "a", "quality": 1})
    stranger = (await make_key(f"o{uuid.uuid4().hex[:10]}", scope=scope))["headers"]
    base = f"/v1/models/{handle}"

    for path in [base, f"{base}/traits", f"{base}/traits/warmth"]:
        assert (await http.get(path, headers=stranger)).status_code == 200
    refused = [
        await http.get(f"{base}/samples", headers=stranger),
        await http.patch(base, json={"description": "x"}, headers=stranger),
        await http.post(f"{base}/traits", json={"traits": [{"name": "x"}]}, headers=stranger),
        await http.patch(f"{base}/traits/warmth", json={"name": "x"}, headers=stranger),
        await http.delete(f"{base}/traits/warmth", headers=stranger),
        await http.post(f"{base}/samples", json={"samples": [{"trait": "warmth", "text": "x", "quality": 1}]},
                        headers=stranger),
        await http.delete(f"{base}/samples/{sample_id}", headers=stranger),
        await http.delete(base, headers=stranger),
        await http.post("/v1/models", json={"handle": f"public.intruder-{uuid.uuid4().hex[:6]}"}, headers=stranger),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert {r.json()["error"]["code"] for r in refused} == {"forbidden"}
    samples = await read_all_pages(http, f"{base}/samples", publisher)
    assert [s["id"] for s in samples] == [sample_id]
    model = (await http.get(base, headers=publisher["headers"])).json()
    assert (model["description"], model["state"], model["traits"]) == ("", "draft", ["Warmth"])


async def test_a_malformed_authorization_header_is_unauthorized(http, owner, namespace):
    await create_model(http, owner, f"{namespace}.m")
    for header in ["Basic abc", "Bearer", "Bearer not-a-key", owner["secret"]]:
        response = await http.get(f"/v1/models/{namespace}.m", headers={"Authorization": header})
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
