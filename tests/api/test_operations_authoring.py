"""Discovery and synthesis runs end to end (real Temporal, real worker, real MiniLM), including the
chat-completions writer against a local stub HTTP server."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from activities import ActivityDeps
from tests.workflows.support import app_client, make_model, wait_for_state
from worker import build_worker

pytestmark = pytest.mark.usefixtures("worker")


async def _samples(http, headers, handle) -> list[dict]:
    response = await http.get(f"/v1/models/{handle}/samples", params={"limit": 500}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_discovery_attaches_intrinsic_traits_and_returns_to_draft(http, owner, namespace):
    handle = f"{namespace}.disc"
    headers = owner["headers"]
    await make_model(http, headers, handle, per_pole=8)

    started = await http.post(f"/v1/models/{handle}/traits/discover", json={"effort": "low"}, headers=headers)
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "busy"
    repeat = await http.post(f"/v1/models/{handle}/traits/discover", json={"effort": "low"}, headers=headers)
    assert repeat.status_code == 409 and repeat.json()["error"]["code"] == "run_exists"
    assert repeat.headers["x-run-id"] == started.json()["run_id"]
    body = await wait_for_state(http, headers, handle, {"draft", "failed", "ready"})
    assert body["state"] == "draft"
    assert body["last_operation"]["kind"] == "discover" and body["last_operation"]["status"] == "succeeded"

    traits = (await http.get(f"/v1/models/{handle}/traits", headers=headers)).json()["traits"]
    intrinsic = {t["key"]: t for t in traits if t["kind"] == "intrinsic"}
    assert {"warmth_intrinsic", "clarity_intrinsic"} <= set(intrinsic)
    sample_ids = {s["id"] for s in await _samples(http, headers, handle)}
    for trait in intrinsic.values():
        assert 0.0 <= trait["explained_variance"] <= 1.0
        assert set(trait["anchor_sample_ids"]) == {"positive", "negative"}
        assert set(trait["anchor_sample_ids"]["positive"]) <= sample_ids
    assert intrinsic["warmth_intrinsic"]["discrimination"] > 0.5


async def test_discovery_and_synthesis_are_draft_only(http, owner, namespace):
    handle = f"{namespace}.ready"
    headers = owner["headers"]
    await make_model(http, headers, handle, per_pole=3)
    assert (await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers)).status_code == 202
    await wait_for_state(http, headers, handle, {"ready"})
    for path, body in (("traits/discover", {}), ("samples/synthesize", {"synth_type": "from_traits"})):
        response = await http.post(f"/v1/models/{handle}/{path}", json=body, headers=headers)
        assert response.status_code == 409 and response.json()["error"]["code"] == "not_draft"


async def test_offline_synthesis_adds_synthesized_samples(http, owner, namespace):
    handle = f"{namespace}.synth"
    headers = owner["headers"]
    await make_model(http, headers, handle, per_pole=2)
    before = len(await _samples(http, headers, handle))

    enrich = await http.post(f"/v1/models/{handle}/samples/synthesize", json={"synth_type": "enrich"}, headers=headers)
    assert enrich.status_code == 422 and enrich.json()["error"]["code"] == "validation_error"

    started = await http.post(f"/v1/models/{handle}/samples/synthesize",
                              json={"synth_type": "from_traits", "effort": "low"}, headers=headers)
    assert started.status_code == 202, started.text
    body = await wait_for_state(http, headers, handle, {"draft", "failed"})
    assert body["state"] == "draft" and body["last_operation"]["status"] == "succeeded"
    samples = await _samples(http, headers, handle)
    synthesized = [s for s in samples if s["provenance"] == "synthesized"]
    assert len(samples) == before + len(synthesized)
    assert len(synthesized) > 0
    assert any(s["quality"] > 0.5 for s in synthesized) and any(s["quality"] < 0.5 for s in synthesized)


class _ChatStub:
    """An OpenAI-compatible /chat/completions endpoint that answers with fixed JSON samples."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"path": self.path, "json": body})
                nonce = uuid.uuid4().hex[:6]
                items = [{"text": f"We are delighted to help you today ({nonce}-{n}).", "side": "positive"}
                         for n in range(3)]
                items += [{"text": f"Request denied without comment ({nonce}-{n}).", "side": "negative"}
                          for n in range(3)]
                payload = json.dumps({"choices": [{"message": {"role": "assistant",
                                                               "content": json.dumps(items)}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_chat_completions_synthesis_through_a_stub_endpoint(settings, temporal_env, make_key, namespace):
    stub = _ChatStub()
    queue = f"synth-chat-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(update={"task_queue": queue, "synth_base_url": stub.base_url,
                                      "synth_model": "stub-writer", "synth_api_key": "sk-test"})
    deps = ActivityDeps.from_settings(own)
    try:
        async with build_worker(temporal_env.client, own, deps), \
                app_client(own, temporal_env.client) as (_, http):
            headers = (await make_key(namespace))["headers"]
            handle = f"{namespace}.chat"
            await make_model(http, headers, handle, per_pole=1)
            started = await http.post(f"/v1/models/{handle}/samples/synthesize",
                                      json={"synth_type": "from_traits", "effort": "low"}, headers=headers)
            assert started.status_code == 202, started.text
            body = await wait_for_state(http, headers, handle, {"draft", "failed"})
            assert body["state"] == "draft" and body["last_operation"]["status"] == "succeeded", body
            synthesized = [s for s in await _samples(http, headers, handle) if s["provenance"] == "synthesized"]
            assert any("delighted to help" in s["text"] and s["quality"] > 0.5 for s in synthesized)
            assert any("Request denied" in s["text"] and s["quality"] < 0.5 for s in synthesized)
        assert stub.requests and all(r["json"]["model"] == "stub-writer" for r in stub.requests)
    finally:
        deps.close()
        stub.close()
