"""Failures become AssayError with the envelope's code; cursors are followed until null."""

from __future__ import annotations

import httpx
import pytest

from client import AssayClient, AssayError, AsyncAssayClient


def client_answering(handler, **options) -> AssayClient:
    return AssayClient("http://assay.test", "sk-test", transport=httpx.MockTransport(handler), **options)


def test_envelope_fields_reach_the_exception():
    def handler(request):
        return httpx.Response(409, headers={"X-Run-Id": "run_01J", "X-Request-Id": "req_hdr"}, json={
            "error": {"code": "run_exists", "message": "That run is already going.", "request_id": "req_body",
                      "details": {"kind": "train"}}})

    with client_answering(handler) as client, pytest.raises(AssayError) as caught:
        client.train("acme.tone")
    error = caught.value
    assert (error.status, error.code, error.message) == (409, "run_exists", "That run is already going.")
    assert error.request_id == "req_body"
    assert error.details == {"kind": "train"}
    assert error.run_id == "run_01J"


def test_text_calls_raise_on_errors_too():
    def handler(request):
        return httpx.Response(409, json={"error": {"code": "model_not_ready", "message": "No version yet.",
                                                   "request_id": "req_1", "details": {}}})

    with client_answering(handler) as client, pytest.raises(AssayError) as caught:
        client.score_rendered("acme.tone", "hello")
    assert caught.value.code == "model_not_ready"


def test_a_body_that_is_not_the_envelope_still_raises_with_an_http_code():
    def handler(request):
        return httpx.Response(502, text="<html>Bad gateway</html>", headers={"X-Request-Id": "req_proxy"})

    with client_answering(handler) as client, pytest.raises(AssayError) as caught:
        client.get_model("acme.tone")
    assert (caught.value.status, caught.value.code) == (502, "http_502")
    assert "Bad gateway" in caught.value.message
    assert caught.value.request_id == "req_proxy"


def test_json_without_an_error_object_is_not_mistaken_for_the_envelope():
    def handler(request):
        return httpx.Response(404, json={"detail": "Not Found"}, headers={"X-Request-Id": "req_1"})

    with client_answering(handler) as client, pytest.raises(AssayError) as caught:
        client.get_model("acme.tone")
    assert caught.value.code == "http_404"


def test_an_answer_without_envelope_or_request_id_is_not_an_assay_api():
    def handler(request):
        return httpx.Response(404, json={"detail": "Not Found"})

    with client_answering(handler) as client, pytest.raises(AssayError) as caught:
        client.get_model("acme.tone")
    assert (caught.value.status, caught.value.code) == (404, "not_assay_api")


def test_retry_after_is_exposed_on_rate_limits():
    def handler(request):
        return httpx.Response(429, headers={"Retry-After": "3"}, json={
            "error": {"code": "rate_limited", "message": "Slow down.", "request_id": "r", "details": {}}})

    # No retry budget: the 429 is raised at once.
    with client_answering(handler, max_retry_wait=0) as client, pytest.raises(AssayError) as caught:
        client.score("acme.tone", "x")
    assert caught.value.retry_after == "3"


def test_an_unreachable_server_raises_assay_error_with_status_zero():
    def handler(request):
        raise httpx.ConnectError("connection refused", request=request)

    with client_answering(handler) as client, pytest.raises(AssayError) as caught:
        client.health()
    assert (caught.value.status, caught.value.code) == (0, "connection_failed")


def paged_server(total: int, page_size: int):
    """Serves items 0..total-1 with opaque cursors and records every cursor it was asked for."""
    asked: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        asked.append(cursor)
        start = int(cursor[1:]) if cursor else 0
        items = [{"id": i} for i in range(start, min(start + page_size, total))]
        more = start + page_size < total
        return httpx.Response(200, json={"items": items, "next_cursor": f"c{start + page_size}" if more else None,
                                         "limit": page_size})

    return handler, asked


def test_iteration_follows_cursors_until_null():
    handler, asked = paged_server(total=7, page_size=3)
    with client_answering(handler) as client:
        ids = [item["id"] for item in client.iter_samples("acme.tone", trait="warmth", page_size=3)]
    assert ids == list(range(7))
    assert asked == [None, "c3", "c6"]


def test_iteration_of_an_empty_list_makes_one_request():
    handler, asked = paged_server(total=0, page_size=50)
    with client_answering(handler) as client:
        assert list(client.iter_models()) == []
    assert asked == [None]


def test_a_server_repeating_its_cursor_does_not_loop_forever():
    def handler(request):
        return httpx.Response(200, json={"items": [{"id": 1}], "next_cursor": "same", "limit": 1})

    with client_answering(handler) as client, pytest.raises(AssayError) as caught:
        list(client.iter_versions("acme.tone"))
    assert caught.value.code == "invalid_response"


async def test_async_iteration_follows_cursors():
    handler, asked = paged_server(total=5, page_size=2)
    async with AsyncAssayClient("http://assay.test", "k", transport=httpx.MockTransport(handler)) as client:
        ids = [item["id"] async for item in client.iter_versions("acme.tone", page_size=2)]
    assert ids == [0, 1, 2, 3, 4]
    assert asked == [None, "c2", "c4"]


def test_wait_until_settled_polls_until_the_model_leaves_busy():
    states = iter(["busy", "busy", "ready"])

    def handler(request):
        return httpx.Response(200, json={"handle": "acme.tone", "state": next(states)})

    seen: list[str] = []
    with client_answering(handler) as client:
        final = client.wait_until_settled("acme.tone", poll_interval=0, on_update=lambda m: seen.append(m["state"]))
    assert final["state"] == "ready"
    assert seen == ["busy", "busy", "ready"]
