"""What the client puts on the wire for each operation, checked at the network boundary (MockTransport)."""

from __future__ import annotations

import json

import httpx
import pytest

from client import UNSET, AssayClient, AsyncAssayClient

H = "acme.support-tone"

# (call, method, path, query, json body or None, accept)
CASES = [
    (lambda c: c.health(), "GET", "/v1/health", {}, None, "application/json"),
    (lambda c: c.list_models(namespace="acme", state="ready", limit=10, cursor="abc"), "GET", "/v1/models",
     {"namespace": "acme", "state": "ready", "limit": "10", "cursor": "abc"}, None, "application/json"),
    (lambda c: c.create_model(H, description="Tone", max_depth=0, upstream_sources=[{"url": "u"}]), "POST",
     "/v1/models", {}, {"handle": H, "description": "Tone", "max_depth": 0, "upstream_sources": [{"url": "u"}]},
     "application/json"),
    (lambda c: c.get_model(H), "GET", f"/v1/models/{H}", {}, None, "application/json"),
    (lambda c: c.model_card(H), "GET", f"/v1/models/{H}", {}, None, "text/markdown"),
    (lambda c: c.update_model(H, readme_markdown="# Hi", version_retention_policy=None), "PATCH",
     f"/v1/models/{H}", {}, {"readme_markdown": "# Hi", "version_retention_policy": None}, "application/json"),
    (lambda c: c.delete_model(H), "DELETE", f"/v1/models/{H}", {}, None, "application/json"),
    (lambda c: c.list_traits(H), "GET", f"/v1/models/{H}/traits", {}, None, "application/json"),
    (lambda c: c.upsert_traits(H, [{"name": "Warmth"}]), "POST", f"/v1/models/{H}/traits", {},
     {"traits": [{"name": "Warmth"}]}, "application/json"),
    (lambda c: c.get_trait(H, "Warm Tone"), "GET", f"/v1/models/{H}/traits/Warm%20Tone", {}, None,
     "application/json"),
    (lambda c: c.update_trait(H, "warmth", negative_label="cold"), "PATCH", f"/v1/models/{H}/traits/warmth", {},
     {"negative_label": "cold"}, "application/json"),
    (lambda c: c.delete_trait(H, "warmth"), "DELETE", f"/v1/models/{H}/traits/warmth", {}, None,
     "application/json"),
    (lambda c: c.discover_traits(H, effort="low"), "POST", f"/v1/models/{H}/traits/discover", {},
     {"effort": "low"}, "application/json"),
    (lambda c: c.add_samples(H, [{"trait": "warmth", "text": "Hi!", "quality": 1.0}]), "POST",
     f"/v1/models/{H}/samples", {}, {"samples": [{"trait": "warmth", "text": "Hi!", "quality": 1.0}]},
     "application/json"),
    (lambda c: c.list_samples(H, trait="warmth", limit=500), "GET", f"/v1/models/{H}/samples",
     {"trait": "warmth", "limit": "500"}, None, "application/json"),
    (lambda c: c.delete_sample(H, 42), "DELETE", f"/v1/models/{H}/samples/42", {}, None, "application/json"),
    (lambda c: c.synthesize_samples(H, synth_type="diversify"), "POST", f"/v1/models/{H}/samples/synthesize", {},
     {"synth_type": "diversify"}, "application/json"),
    (lambda c: c.train(H), "POST", f"/v1/models/{H}/train", {}, {}, "application/json"),
    (lambda c: c.train(H, effort="max", reoptimize_params=True), "POST", f"/v1/models/{H}/train", {},
     {"effort": "max", "reoptimize_params": True}, "application/json"),
    (lambda c: c.score(H + "@v3", "Thanks!", traits=["warmth"], feedback={"warmth": "good"}), "POST",
     f"/v1/models/{H}@v3/score", {}, {"content": "Thanks!", "traits": ["warmth"], "feedback": {"warmth": "good"}},
     "application/json"),
    (lambda c: c.score_rendered(H, "Thanks!"), "POST", f"/v1/models/{H}/score", {}, {"content": "Thanks!"},
     "text/plain"),
    (lambda c: c.score_batch(H + "@v3", ["one", {"id": "b", "content": "two"}], traits=["warmth"]), "POST",
     f"/v1/models/{H}@v3/score/batch", {},
     {"items": [{"content": "one"}, {"id": "b", "content": "two"}], "traits": ["warmth"]}, "application/json"),
    (lambda c: c.compare(H, "a text", "b text"), "POST", f"/v1/models/{H}/compare", {},
     {"a": "a text", "b": "b text"}, "application/json"),
    (lambda c: c.compare_rendered(H + "@stable", "x", "y", traits=["clarity"]), "POST",
     f"/v1/models/{H}@stable/compare", {}, {"a": "x", "b": "y", "traits": ["clarity"]}, "text/plain"),
    (lambda c: c.extract("https://example.org/post"), "POST", "/v1/extract", {},
     {"url": "https://example.org/post"}, "application/json"),
    (lambda c: c.list_versions(H, limit=5), "GET", f"/v1/models/{H}/versions", {"limit": "5"}, None,
     "application/json"),
    (lambda c: c.get_version(H, "v2"), "GET", f"/v1/models/{H}/versions/v2", {}, None, "application/json"),
    (lambda c: c.tag_version(H, "stable"), "POST", f"/v1/models/{H}/versions/stable", {}, None,
     "application/json"),
    (lambda c: c.untag_version(H, "stable"), "DELETE", f"/v1/models/{H}/versions/stable", {}, None,
     "application/json"),
    (lambda c: c.activate_version(H, tag="stable"), "PUT", f"/v1/models/{H}/versions/active", {},
     {"tag": "stable"}, "application/json"),
    (lambda c: c.list_runs(H, limit=2, cursor="abc"), "GET", f"/v1/models/{H}/runs", {"limit": "2", "cursor": "abc"},
     None, "application/json"),
    (lambda c: c.get_run("run_01J0000000000000000000000A"), "GET", "/v1/runs/run_01J0000000000000000000000A", {},
     None, "application/json"),
    (lambda c: c.cancel_run("run_01J0000000000000000000000A"), "POST",
     "/v1/runs/run_01J0000000000000000000000A/cancel", {}, None, "application/json"),
    (lambda c: c.start_evaluation(H, [{"content": "x", "warmth": "good"}], versions=["v1", "v2"]), "POST",
     f"/v1/models/{H}/evaluations", {}, {"items": [{"content": "x", "warmth": "good"}], "versions": ["v1", "v2"]},
     "application/json"),
    (lambda c: c.get_evaluation("eval_01J0000000000000000000000A"), "GET",
     "/v1/evaluations/eval_01J0000000000000000000000A", {}, None, "application/json"),
    (lambda c: c.list_evaluations(H, limit=3), "GET", f"/v1/models/{H}/evaluations", {"limit": "3"}, None,
     "application/json"),
]


class Recorder:
    def __init__(self, response_text: str = "{}", content_type: str = "application/json") -> None:
        self.requests: list[httpx.Request] = []
        self.response_text = response_text
        self.content_type = content_type

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, text=self.response_text, headers={"Content-Type": self.content_type})


def check(request: httpx.Request, method, path, query, body, accept) -> None:
    assert request.method == method
    assert request.url.raw_path.decode().split("?")[0] == path
    assert dict(request.url.params) == query
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["accept"] == accept
    if body is None:
        assert request.content == b""
    else:
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.content) == body


@pytest.mark.parametrize(("call", "method", "path", "query", "body", "accept"), CASES,
                         ids=[f"{c[1]} {c[2]}" for c in CASES])
def test_sync_client_sends(call, method, path, query, body, accept):
    recorder = Recorder()
    with AssayClient("http://assay.test/", "sk-test", transport=httpx.MockTransport(recorder)) as client:
        call(client)
    [request] = recorder.requests
    assert str(request.url).startswith("http://assay.test/v1/")
    check(request, method, path, query, body, accept)


@pytest.mark.parametrize(("call", "method", "path", "query", "body", "accept"), CASES,
                         ids=[f"{c[1]} {c[2]}" for c in CASES])
async def test_async_client_sends_the_same(call, method, path, query, body, accept):
    recorder = Recorder()
    async with AsyncAssayClient("http://assay.test/v1", "sk-test", transport=httpx.MockTransport(recorder)) as client:
        await call(client)
    [request] = recorder.requests
    check(request, method, path, query, body, accept)


def test_an_ndjson_evaluation_sends_the_file_as_it_is_and_each_version_as_a_parameter():
    recorder = Recorder()
    lines = '{"content": "x", "warmth": 1}\n{"content": "y", "warmth": "cold"}\n'
    with AssayClient("http://assay.test", "sk-test", transport=httpx.MockTransport(recorder)) as client:
        client.start_evaluation_ndjson(H, lines, versions=["v1", "stable"])
    [request] = recorder.requests
    assert request.url.raw_path.decode().split("?")[0] == f"/v1/models/{H}/evaluations"
    assert request.headers["content-type"] == "application/x-ndjson"
    assert request.url.params.get_list("versions") == ["v1", "stable"]
    assert request.content.decode("utf-8") == lines


def test_plain_text_body_is_sent_as_text():
    recorder = Recorder()
    with AssayClient("http://assay.test", "sk-test", transport=httpx.MockTransport(recorder)) as client:
        client.score_plain(H, "Fix race in worker shutdown ✓")
    [request] = recorder.requests
    assert request.headers["content-type"].startswith("text/plain")
    assert request.content.decode("utf-8") == "Fix race in worker shutdown ✓"


def test_rendered_and_markdown_calls_return_the_text_unparsed():
    recorder = Recorder("clarity ████ 20 ●●○ Weak\n", "text/plain; charset=utf-8")
    with AssayClient("http://assay.test", "sk-test", transport=httpx.MockTransport(recorder)) as client:
        assert client.score_rendered(H, "x") == "clarity ████ 20 ●●○ Weak\n"


def test_unset_leaves_patch_fields_out_and_none_sends_null():
    recorder = Recorder()
    with AssayClient("http://assay.test", "sk-test", transport=httpx.MockTransport(recorder)) as client:
        client.update_trait(H, "warmth", name="Warmth", description=None, aggregation=UNSET)
    assert json.loads(recorder.requests[0].content) == {"name": "Warmth", "description": None}


def test_without_a_key_no_authorization_header_is_sent():
    recorder = Recorder('{"status": "ok"}')
    with AssayClient("http://assay.test", transport=httpx.MockTransport(recorder)) as client:
        assert client.health() == {"status": "ok"}
    assert "authorization" not in recorder.requests[0].headers
