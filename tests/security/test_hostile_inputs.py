"""Hand-written hostile requests (SPEC §1.1, §2): oversized and pathological bodies, bad encodings,
NUL bytes, look-alike handles, path traversal, header injection, wrong content types, empty bodies,
out-of-range parameters and forged cursors. Each gets its status and envelope code, and nothing
is written (the owner lists everything afterwards)."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote

import pytest

from tests.api.test_models import assert_error, read_all_pages

MIB = 1024 * 1024


async def state_of(http, world) -> tuple:
    """Everything a refused write could have changed, as the owner sees it."""
    owner = world.owner
    models = await read_all_pages(http, "/v1/models", owner, namespace=world.namespace)
    traits = [(await http.get(f"/v1/models/{h}/traits", headers=owner["headers"])).json()
              for h in (world.draft, world.ready)]
    samples = [await read_all_pages(http, f"/v1/models/{h}/samples", owner) for h in (world.draft, world.ready)]
    versions = await read_all_pages(http, f"/v1/models/{world.ready}/versions", owner)
    return models, traits, samples, versions


@pytest.fixture
async def world(make_world):
    return await make_world()


def samples_body(world, count: int, text_bytes: int) -> bytes:
    filler = "x" * text_bytes
    return json.dumps({"samples": [{"trait": "clarity", "text": filler, "quality": 1} for _ in range(count)]}).encode()


# ---------------------------------------------------------------- size limits


async def test_a_body_just_under_the_limit_is_accepted_and_one_just_over_is_413(http, world):
    base = samples_body(world, 1, 0)
    under = samples_body(world, 1, MIB - len(base) - 16)
    over = samples_body(world, 1, MIB - len(base) + 16)
    assert len(under) < MIB < len(over)
    before = await state_of(http, world)

    refused = await http.post(f"/v1/models/{world.draft}/samples", content=over,
                              headers={**world.owner["headers"], "Content-Type": "application/json"})
    assert_error(refused, 413, "payload_too_large")
    assert await state_of(http, world) == before

    accepted = await http.post(f"/v1/models/{world.draft}/samples", content=under,
                               headers={**world.owner["headers"], "Content-Type": "application/json"})
    assert accepted.status_code == 200, accepted.text
    assert len(accepted.json()["ids"]) == 1


async def test_an_oversized_body_without_a_length_header_is_413_too(http, world):
    """Chunked upload: the limit is enforced on the bytes received, not on what the client claims."""
    async def chunks():
        for _ in range(20):
            yield b" " * (128 * 1024)

    before = await state_of(http, world)
    response = await http.post(f"/v1/models/{world.draft}/samples", content=chunks(),
                               headers={**world.owner["headers"], "Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")
    assert await state_of(http, world) == before


async def test_a_ten_megabyte_plain_text_score_body_is_413(http, world):
    response = await http.post(f"/v1/models/{world.ready}/score", content=b"word " * (2 * MIB),
                               headers={**world.owner["headers"], "Content-Type": "text/plain"})
    assert_error(response, 413, "payload_too_large")


async def test_a_500_sample_batch_of_100_kb_texts_is_413_and_writes_nothing(http, world):
    before = await state_of(http, world)
    body = samples_body(world, 500, 100 * 1024)
    response = await http.post(f"/v1/models/{world.draft}/samples", content=body,
                               headers={**world.owner["headers"], "Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")
    assert await state_of(http, world) == before


async def test_a_500_sample_batch_that_fits_is_stored_whole(http, world):
    body = samples_body(world, 500, 1500)
    assert len(body) < MIB
    response = await http.post(f"/v1/models/{world.draft}/samples", content=body,
                               headers={**world.owner["headers"], "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    ids = response.json()["ids"]
    assert len(ids) == len(set(ids)) == 500
    stored = await read_all_pages(http, f"/v1/models/{world.draft}/samples", world.owner)
    assert {s["id"] for s in stored} >= set(ids)


async def test_a_501_sample_batch_is_refused_whole(http, world):
    before = await state_of(http, world)
    response = await http.post(f"/v1/models/{world.draft}/samples", content=samples_body(world, 501, 10),
                               headers={**world.owner["headers"], "Content-Type": "application/json"})
    assert_error(response, 422, "validation_error")
    assert await state_of(http, world) == before


# ---------------------------------------------------------------- pathological JSON and encodings


def write_requests(world) -> list[tuple[str, str]]:
    """Every route that reads a JSON body."""
    return [
        ("POST", "/v1/models"),
        ("PATCH", f"/v1/models/{world.draft}"),
        ("POST", f"/v1/models/{world.draft}/traits"),
        ("PATCH", f"/v1/models/{world.draft}/traits/clarity"),
        ("POST", f"/v1/models/{world.draft}/samples"),
        ("POST", f"/v1/models/{world.draft}/traits/discover"),
        ("POST", f"/v1/models/{world.draft}/samples/synthesize"),
        ("POST", f"/v1/models/{world.draft}/train"),
        ("POST", f"/v1/models/{world.ready}/score"),
        ("POST", f"/v1/models/{world.ready}/compare"),
        ("PUT", f"/v1/models/{world.ready}/versions/active"),
        ("POST", "/v1/extract"),
        ("POST", f"/v1/models/{world.ready}/score-jobs"),
    ]


@pytest.mark.parametrize("body", [
    b"[" * 100_000,
    b'{"a":' * 100_000,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"handle": "' + b"\xff\xfe\xfa" + b'"}',
    b"\x00",
])
async def test_pathological_json_is_bad_request_everywhere_and_writes_nothing(http, world, body):
    before = await state_of(http, world)
    for method, path in write_requests(world):
        response = await http.request(method, path, content=body,
                                      headers={**world.owner["headers"], "Content-Type": "application/json"})
        assert_error(response, 400, "bad_request")
    assert await state_of(http, world) == before


async def test_invalid_utf8_in_a_plain_text_score_body_is_bad_request(http, world):
    response = await http.post(f"/v1/models/{world.ready}/score", content=b"caf\xe9 \xff",
                               headers={**world.owner["headers"], "Content-Type": "text/plain"})
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/v1/models", {"handle": "{ns}.nul", "description": "a\u0000b"}),
    ("PATCH", "{draft}", {"description": "before\u0000after"}),
    ("POST", "{draft}/traits", {"traits": [{"name": "Nul\u0000Trait"}]}),
    ("PATCH", "{draft}/traits/clarity", {"description": "x\u0000y"}),
    ("POST", "{draft}/samples", {"samples": [{"trait": "clarity", "text": "zero\u0000byte", "quality": 1}]}),
    ("POST", "{draft}/samples", {"samples": [{"trait": "clar\u0000ity", "text": "zero byte", "quality": 1}]}),
    ("POST", "{draft}/samples", {"samples": [{"trait": "clarity", "text": "ok", "quality": "go\u0000od"}]}),
    ("PATCH", "{draft}", {"upstream_sources": [{"url\u0000": "x"}]}),
])
async def test_nul_characters_in_stored_text_are_refused_and_nothing_is_written(http, world, method, path, body):
    """(decision) NUL cannot be stored by PostgreSQL, so no backend stores it: 422 everywhere."""
    before = await state_of(http, world)
    path = path.replace("{draft}", f"/v1/models/{world.draft}")
    body = json.loads(json.dumps(body).replace("{ns}", world.namespace))
    response = await http.request(method, path, json=body, headers=world.owner["headers"])
    assert_error(response, 422, "validation_error")
    assert await state_of(http, world) == before


async def test_nul_characters_in_scored_text_are_scored_like_any_other_character(http, world):
    response = await http.post(f"/v1/models/{world.ready}/score", json={"content": "Click Save.\u0000 Done."},
                               headers=world.owner["headers"])
    assert response.status_code == 200, response.text
    assert set(response.json()["scores"]) == {"clarity", "warmth"}


async def test_an_out_of_range_integer_is_a_validation_error_not_a_database_error(http, world):
    before = await state_of(http, world)
    for body in [{"max_depth": 2**63}, {"max_depth": 2**31},
                 {"version_retention_policy": {"keep_unnamed": 10**30}}]:
        response = await http.patch(f"/v1/models/{world.draft}", json=body, headers=world.owner["headers"])
        assert_error(response, 422, "validation_error")
    response = await http.post("/v1/models", json={"handle": f"{world.namespace}.deep", "max_depth": 10**20},
                               headers=world.owner["headers"])
    assert_error(response, 422, "validation_error")
    assert await state_of(http, world) == before


# ---------------------------------------------------------------- handles, tags and paths


LOOKALIKES = [
    "t\u0435st.model",        # Cyrillic е
    "test.m\u03bfdel",        # Greek omicron
    "ｔｅｓｔ.model",          # fullwidth
    "te\u200bst.model",       # zero-width space
    "test.model\u202e",       # right-to-left override
    "test.mod\u00e9l",        # é
    "TEST.model",
    "test.model\u0000",
    "test\u0000.model",
    "test.model ",
    "test..model",
    ".model",
    "test.",
    "test.model@",
    "test.model@v1",          # a pin is for score and compare only
]


@pytest.mark.parametrize("handle", LOOKALIKES)
async def test_look_alike_and_malformed_handles_are_invalid_handle(http, world, handle):
    before = await state_of(http, world)
    created = await http.post("/v1/models", json={"handle": handle}, headers=world.owner["headers"])
    assert_error(created, 422, "invalid_handle")
    read = await http.get(f"/v1/models/{quote(handle, safe='.@')}", headers=world.owner["headers"])
    assert read.status_code in (404, 422) and read.json()["error"]["code"] in ("not_found", "invalid_handle")
    assert await state_of(http, world) == before


@pytest.fixture
async def victim(make_world):
    """A world the attacker's key has no right to."""
    return await make_world()


def traversals(world, victim) -> list[tuple[str, str]]:
    own, other = world.ready, victim.ready
    return [
        ("GET", f"/v1/models/..%2F{other}"),
        ("GET", f"/v1/models/%2e%2e%2F{other}"),
        ("GET", f"/v1/models/{own}%2F..%2F{other}"),
        ("GET", f"/v1/models/{own}%2F%2e%2e%2F{other}"),
        ("GET", f"/v1/models/%2e%2e%2F%2e%2e%2Fv1%2Fmodels%2F{other}"),
        ("GET", f"/v1/models/{own}/versions/..%2F..%2F{other}%2Fversions%2Fv1"),
        ("GET", f"/v1/models/{own}/versions/%2e%2e"),
        ("GET", f"/v1/models/{own}/traits/..%2F..%2F{other}%2Ftraits%2Fclarity"),
        ("POST", f"/v1/models/{own}@..%2F..%2F{other}/score"),
        ("POST", f"/v1/models/{own}@{victim.tag}%2F..%2F..%2F{other}/score"),
        ("POST", f"/v1/models/{own}/versions/..%2F..%2F{other}%2Fversions%2F{victim.tag}"),
        ("DELETE", f"/v1/models/{own}/versions/..%2F..%2F{other}%2Fversions%2F{victim.tag}"),
        ("DELETE", f"/v1/models/{own}/versions/%2e%2e%2F{victim.tag}"),
        ("DELETE", f"/v1/models/..%2F{other}"),
        ("GET", f"/v1/models/{other}"),  # the plain request, for comparison: unreadable is 404
    ]


async def test_path_traversal_never_reaches_another_model(http, world, victim):
    victim_before = await state_of(http, victim)
    for method, path in traversals(world, victim):
        kwargs = {"json": {"content": "hello"}} if method == "POST" and path.endswith("/score") else {}
        response = await http.request(method, path, headers=world.owner["headers"], **kwargs)
        assert response.status_code in (404, 405, 422), (method, path, response.status_code, response.text)
        assert response.json()["error"]["code"] in ("not_found", "invalid_handle", "validation_error",
                                                    "method_not_allowed"), (method, path)
    assert await state_of(http, victim) == victim_before


@pytest.mark.parametrize("tag", ["..", "%2e%2e", "a%2Fb", "..%2Fstable", "v1", "active", "St\u0430ble", "tag%00", "%00"])
async def test_hostile_tag_names_are_refused(http, world, tag):
    before = await state_of(http, world)
    response = await http.post(f"/v1/models/{world.ready}/versions/{tag}", headers=world.owner["headers"])
    assert response.status_code in (404, 405, 422), (tag, response.text)
    assert response.json()["error"]["code"] in ("not_found", "validation_error", "method_not_allowed")
    assert await state_of(http, world) == before


# ---------------------------------------------------------------- headers and content types


REQUEST_ID = re.compile(r"^req_[0-9A-HJKMNP-TV-Z]{26}$")


async def send_raw(app, headers: list[tuple[bytes, bytes]], path: str = "/v1/openapi.json") -> tuple[int, dict]:
    """One request straight into the ASGI app, so header bytes no client would send still arrive.

    The default route depends on nothing (health would also ask Temporal, whose answer is not what
    these tests are about, and a slow one made them flaky)."""
    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"assay.test"), *headers], "client": ("127.0.0.1", 1), "server": ("assay.test", 80)}
    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    response_headers: dict[bytes, list[bytes]] = {}
    for name, value in start["headers"]:
        response_headers.setdefault(name.lower(), []).append(value)
    return start["status"], response_headers


@pytest.mark.parametrize("incoming", [
    b"abc\r\nSet-Cookie: session=stolen",
    b"abc\nX-Injected: 1",
    b"abc\r",
    b"x" * 10_000,
    b"req id with spaces",
    b"\xff\xfe",
    b"",
])
async def test_an_unsafe_incoming_request_id_is_replaced_by_a_generated_one(app, incoming):
    status, headers = await send_raw(app, [(b"x-request-id", incoming)])
    assert status == 200
    (request_id,) = headers[b"x-request-id"]
    assert REQUEST_ID.match(request_id.decode()), request_id
    assert b"set-cookie" not in headers and b"x-injected" not in headers


async def test_a_sane_incoming_request_id_is_honoured(http):
    response = await http.get("/v1/openapi.json", headers={"X-Request-Id": "client-trace-42"})
    assert response.headers["x-request-id"] == "client-trace-42"


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
    "application/octet-stream",
])
async def test_a_json_route_given_another_content_type_refuses_and_writes_nothing(http, world, content_type):
    before = await state_of(http, world)
    body = json.dumps({"handle": f"{world.namespace}.sneaky"}).encode()
    response = await http.post("/v1/models", content=body,
                               headers={**world.owner["headers"], "Content-Type": content_type})
    assert response.status_code in (400, 415, 422), response.text
    assert response.json()["error"]["code"] in ("bad_request", "unsupported_media_type", "validation_error")
    assert await state_of(http, world) == before


@pytest.mark.parametrize("content_type", ["application/xml", "application/x-www-form-urlencoded"])
async def test_score_given_neither_json_nor_plain_text_is_bad_request(http, world, content_type):
    response = await http.post(f"/v1/models/{world.ready}/score", content=b"<content>hi</content>",
                               headers={**world.owner["headers"], "Content-Type": content_type})
    assert_error(response, 400, "bad_request")


# ---------------------------------------------------------------- empty bodies, parameters, cursors


def body_required(world) -> list[tuple[str, str]]:
    return [(m, p) for m, p in write_requests(world) if not p.endswith(("/discover", "/synthesize", "/train"))]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
async def test_an_empty_body_where_one_is_required_is_bad_request(http, world, content_type):
    before = await state_of(http, world)
    headers = {**world.owner["headers"], **({"Content-Type": content_type} if content_type else {})}
    for method, path in body_required(world):
        # Whitespace is JSON's "nothing"; under another content type it is a (wrong) body, not an empty one.
        for empty in (b"", b"   \n") if content_type == "application/json" else (b"",):
            response = await http.request(method, path, content=empty, headers=headers)
            assert_error(response, 400, "bad_request")
    assert await state_of(http, world) == before


@pytest.mark.parametrize("limit", ["0", "-1", "10000", "abc", "1.5", "", "99999999999999999999999"])
async def test_out_of_range_limits_are_validation_errors(http, world, limit):
    for path in ["/v1/models", f"/v1/models/{world.draft}/samples", f"/v1/models/{world.ready}/versions"]:
        response = await http.get(path, params={"limit": limit}, headers=world.owner["headers"])
        assert_error(response, 422, "validation_error")


def forged(position) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": position}).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "not-a-cursor", "!!!!", "%00", "\u00e9", forged(None), forged([1]), forged({"id": 1}), forged(True),
    forged(10**30), forged(-(10**30)), forged(2**63), forged(-1), forged(1.5),
    base64.urlsafe_b64encode(b"[" * 5000).decode(), "A" * 5000,
])
async def test_bogus_cursors_are_validation_errors(http, world, cursor):
    for path in ["/v1/models", f"/v1/models/{world.draft}/samples", f"/v1/models/{world.ready}/versions"]:
        response = await http.get(path, params={"cursor": cursor}, headers=world.owner["headers"])
        assert_error(response, 422, "validation_error")


async def test_a_nul_in_a_list_filter_is_a_validation_error(http, world):
    response = await http.get("/v1/models", params={"namespace": world.namespace, "kind": "scor\x00ing"},
                              headers=world.owner["headers"])
    assert_error(response, 422, "validation_error")
