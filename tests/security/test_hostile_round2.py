"""The second round of hostile inputs (issue 19): each numbered finding, reproduced as it was found.

Items 1 (the ZDR race) and 6–7 (hostile fetched pages) have files of their own.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import select

from store.tables import Model, Sample, VersionTag
from tests.api.test_models import assert_error
from tests.lifespan import served_over_tcp

LONE = "\\ud800"  # as it is written inside a JSON string: a high surrogate with no partner


@pytest.fixture
async def world(make_world):
    return await make_world()


async def post_raw(http, path: str, text: str, key: dict, method: str = "POST"):
    """Sends ``text`` verbatim as a JSON body (httpx would re-encode a dict and escape nothing)."""
    return await http.request(method, path, content=text.encode(),
                              headers={**key["headers"], "Content-Type": "application/json"})


# ---------------------------------------------------------------- 2. uniqueness races


async def test_ten_identical_tag_creates_at_once_all_succeed_and_leave_one_tag(http, world, sessionmaker_):
    for trial in range(5):
        tag = f"race-tag-{trial}"
        answers = await asyncio.gather(*[
            http.post(f"/v1/models/{world.ready}/versions/{tag}", headers=world.owner["headers"])
            for _ in range(10)])
        assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers if a.status_code != 201]
        async with sessionmaker_() as session:
            model = await session.scalar(select(Model).where(Model.handle == world.ready))
            rows = list(await session.scalars(select(VersionTag).where(VersionTag.model_id == model.id,
                                                                       VersionTag.tag == tag)))
        assert [row.version_id for row in rows] == [model.active_version_id]


async def test_activate_and_tag_interleaved_never_fail(http, world):
    key = world.owner["headers"]
    for trial in range(5):
        tag = f"mixed-{trial}"
        answers = await asyncio.gather(*[
            http.put(f"/v1/models/{world.ready}/versions/active", json={"version": "v1"}, headers=key)
            if i % 2 == 0 else http.post(f"/v1/models/{world.ready}/versions/{tag}", headers=key)
            for i in range(10)])
        assert {a.status_code for a in answers} <= {200, 201}, [a.text for a in answers]


async def test_identical_model_creates_at_once_give_one_201_and_409s(http, owner, namespace):
    handle = f"{namespace}.same-{uuid.uuid4().hex[:6]}"
    answers = await asyncio.gather(*[http.post("/v1/models", json={"handle": handle}, headers=owner["headers"])
                                     for _ in range(10)])
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 9, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"handle_taken"}


async def test_keys_created_in_parallel_are_all_distinct_and_usable(http, make_key, namespace):
    keys = await asyncio.gather(*[make_key(namespace) for _ in range(8)])
    assert len({k["headers"]["Authorization"] for k in keys}) == 8
    answers = await asyncio.gather(*[http.get("/v1/models", params={"namespace": namespace}, headers=k["headers"])
                                     for k in keys])
    assert [a.status_code for a in answers] == [200] * 8


# ---------------------------------------------------------------- 3. version numbers

HUGE = "v99999999999999999999999"
ENORMOUS = "v" + "9" * 5000


@pytest.mark.parametrize("version", [HUGE, ENORMOUS])
async def test_an_impossible_version_number_is_not_found(http, world, version):
    key = world.owner["headers"]
    assert_error(await http.put(f"/v1/models/{world.ready}/versions/active", json={"version": version},
                                headers=key), 404, "not_found")
    assert_error(await http.get(f"/v1/models/{world.ready}/versions/{version}", headers=key), 404, "not_found")


async def test_a_pinned_handle_with_a_huge_number_is_not_found_and_an_enormous_one_is_invalid(http, world):
    key = world.owner["headers"]
    assert_error(await http.post(f"/v1/models/{world.ready}@{HUGE}/score", json={"content": "Hello there."},
                                 headers=key), 404, "not_found")
    assert_error(await http.post(f"/v1/models/{world.ready}@{HUGE}/compare", json={"a": "Hi.", "b": "Hello."},
                                 headers=key), 404, "not_found")
    assert_error(await http.post(f"/v1/models/{world.ready}@{ENORMOUS}/score", json={"content": "Hello."},
                                 headers=key), 422, "invalid_handle")


async def test_a_version_written_with_non_ascii_digits_is_not_a_version(http, world):
    key = world.owner["headers"]
    arabic_one = "v\u0661"
    assert_error(await http.put(f"/v1/models/{world.ready}/versions/active", json={"version": arabic_one},
                                headers=key), 422, "validation_error")
    assert_error(await http.get(f"/v1/models/{world.ready}/versions/{arabic_one}", headers=key), 404, "not_found")
    assert_error(await http.post(f"/v1/models/{world.ready}@{arabic_one}/score", json={"content": "Hello."},
                                 headers=key), 422, "invalid_handle")


# ---------------------------------------------------------------- 4. lone surrogates


def surrogate_cases(world) -> list[tuple[str, str, str]]:
    ready, draft = world.ready, world.draft
    return [
        ("POST", f"/v1/models/{ready}/score", f'{{"content": "Hi {LONE} there"}}'),
        ("POST", f"/v1/models/{ready}/score", f'{{"content": "Hi", "traits": ["{LONE}"]}}'),
        ("POST", f"/v1/models/{ready}/score", f'{{"content": "Hi", "feedback": {{"{LONE}": 1}}}}'),
        ("POST", f"/v1/models/{ready}/score", f'{{"content": "Hi", "feedback": {{"warmth": "{LONE}"}}}}'),
        ("POST", f"/v1/models/{ready}/compare", f'{{"a": "{LONE}", "b": "Hello."}}'),
        ("POST", f"/v1/models/{ready}/compare", f'{{"a": "Hello.", "b": "x{LONE}"}}'),
        ("POST", "/v1/extract", f'{{"url": "http://example.com/{LONE}"}}'),
        ("POST", "/v1/models", f'{{"handle": "{world.namespace}.s{uuid.uuid4().hex[:6]}", "description": "{LONE}"}}'),
        ("PATCH", f"/v1/models/{ready}", f'{{"description": "{LONE}"}}'),
        ("POST", f"/v1/models/{draft}/traits", f'{{"traits": [{{"key": "tone", "description": "{LONE}"}}]}}'),
        ("PUT", f"/v1/models/{ready}/versions/active", f'{{"version": "{LONE}"}}'),
        ("POST", f"/v1/models/{draft}/samples",
         f'{{"samples": [{{"trait": "clarity", "text": "{LONE}", "quality": 1}}]}}'),
    ]


async def test_a_lone_surrogate_anywhere_in_a_json_body_is_a_422(http, world, sessionmaker_):
    for method, path, body in surrogate_cases(world):
        response = await post_raw(http, path, body, world.owner, method)
        error = assert_error(response, 422, "validation_error")
        assert error["details"] == {"reason": "lone_surrogate"}, (method, path)
    async with sessionmaker_() as session:
        models = list(await session.scalars(select(Model.handle).where(Model.namespace == world.namespace)))
    assert sorted(models) == sorted([world.draft, world.ready])


async def test_a_surrogate_pair_written_as_escapes_is_ordinary_text(http, world):
    """An emoji escaped as a valid pair (as ensure_ascii JSON writers send it) is scored as usual."""
    response = await post_raw(http, f"/v1/models/{world.ready}/score",
                              '{"content": "Thanks so much \\ud83d\\ude00 for waiting"}', world.owner)
    assert response.status_code == 200, response.text


async def test_lone_surrogates_in_mcp_tool_arguments_are_refused(http, world):
    body = ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "score", '
            f'"arguments": {{"handle": "{world.ready}", "content": "{LONE}"}}}}}}')
    response = await http.post("/mcp", content=body.encode(), headers={
        **world.owner["headers"], "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
    assert_error(response, 422, "validation_error")


# ---------------------------------------------------------------- 5. NaN and Infinity


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_feedback_is_an_invalid_label_that_serializes(http, world, sessionmaker_, literal):
    response = await post_raw(http, f"/v1/models/{world.ready}/score",
                              f'{{"content": "Thanks for waiting!", "feedback": {{"warmth": {literal}}}}}',
                              world.owner)
    error = assert_error(response, 422, "invalid_label")
    assert error["details"]["labels"] == {"warmth": literal}
    async with sessionmaker_() as session:
        model = await session.scalar(select(Model).where(Model.handle == world.ready))
        assert await session.scalar(select(Sample.id).where(Sample.model_id == model.id,
                                                            Sample.provenance == "score_feedback")) is None


# ---------------------------------------------------------------- 8. trailing newlines


async def test_a_trailing_newline_is_not_part_of_any_grammar(http, world):
    key = world.owner["headers"]
    assert_error(await http.post("/v1/models", json={"handle": f"{world.namespace}.evil\n"}, headers=key),
                 422, "invalid_handle")
    assert_error(await http.post(f"/v1/models/{world.ready}/versions/stable%0A", headers=key),
                 422, "validation_error")
    assert_error(await http.get("/v1/models", params={"namespace": f"{world.namespace}\n"}, headers=key),
                 422, "validation_error")
    assert_error(await http.get(f"/v1/models/{world.ready}%0A", headers=key), 422, "invalid_handle")
    listed = await http.get("/v1/models", params={"namespace": world.namespace}, headers=key)
    assert all("\n" not in item["handle"] for item in listed.json()["items"])


# ---------------------------------------------------------------- 9. keep-alive after a 500


@pytest.fixture
async def served_with_a_failing_route(settings, temporal_env):
    from api.app import create_app

    application = create_app(settings, temporal_client=temporal_env.client)

    @application.get("/v1/test-only/boom")
    async def boom():
        raise RuntimeError("a bug that escaped every handler")

    async with served_over_tcp(application) as url:
        yield url


async def test_the_request_after_a_500_on_a_keep_alive_connection_succeeds(served_with_a_failing_route):
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=served_with_a_failing_route, limits=limits, timeout=10) as client:
        for _ in range(3):
            failed = await client.get("/v1/test-only/boom")
            assert_error(failed, 500, "internal_error")
            assert failed.headers["connection"] == "close"
            following = await client.get("/v1/openapi.json")
            assert following.status_code == 200


# ---------------------------------------------------------------- 10. the MCP GET stream


async def test_mcp_get_is_405_and_never_held_open(http, world):
    async def get():
        return await http.get("/mcp", headers={**world.owner["headers"], "Accept": "text/event-stream"})

    response = await asyncio.wait_for(get(), timeout=10)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    assert_error(await asyncio.wait_for(http.get("/mcp", headers={"Accept": "text/event-stream"}), timeout=10),
                 405, "method_not_allowed")


# ---------------------------------------------------------------- 11. /metrics


async def test_metrics_need_the_configured_token(settings, temporal_env):
    from api.app import create_app
    from tests.lifespan import serving

    guarded = create_app(settings.model_copy(update={"metrics_token": "scrape-secret"}),
                         temporal_client=temporal_env.client)
    async with serving(guarded):
        transport = httpx.ASGITransport(app=guarded, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://assay.test") as client:
            assert_error(await client.get("/metrics"), 401, "unauthorized")
            assert_error(await client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
            allowed = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
            assert allowed.status_code == 200 and "assay_http_requests" in allowed.text


async def test_metrics_without_a_token_stay_open_as_documented(http):
    response = await http.get("/metrics")
    assert response.status_code == 200


# ---------------------------------------------------------------- 12. empty content


@pytest.mark.parametrize("content", ["", "   ", "\n\t", "\u3000"])
async def test_blank_content_gets_no_card(http, world, content):
    key = world.owner["headers"]
    assert_error(await http.post(f"/v1/models/{world.ready}/score", json={"content": content}, headers=key),
                 422, "validation_error")
    assert_error(await http.post(f"/v1/models/{world.ready}/compare", json={"a": content, "b": "Hello there."},
                                 headers=key), 422, "validation_error")
    assert_error(await http.post(f"/v1/models/{world.ready}/compare", json={"a": "Hello there.", "b": content},
                                 headers=key), 422, "validation_error")


async def test_blank_text_plain_content_gets_no_card(http, world):
    response = await http.post(f"/v1/models/{world.ready}/score", content="\u3000\u2003".encode(),
                               headers={**world.owner["headers"], "Content-Type": "text/plain"})
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["code"] in ("bad_request", "validation_error")


async def test_a_version_or_tag_name_with_nul_names_nothing(http, world):
    """Found by the hostile fuzz on PostgreSQL, which refuses NUL in text: 500 before."""
    key = world.owner["headers"]
    assert_error(await http.get(f"/v1/models/{world.ready}/versions/a%00b", headers=key), 404, "not_found")
    assert_error(await http.delete(f"/v1/models/{world.ready}/versions/a%00b", headers=key), 404, "not_found")
    assert_error(await http.put(f"/v1/models/{world.ready}/versions/active", json={"tag": "a\x00b"}, headers=key),
                 404, "not_found")
