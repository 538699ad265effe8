"""Temporal stopped while a real API process takes traffic, then started again (SPEC §2: 503
`unavailable` when Temporal is unreachable; ARCHITECTURE: scoring makes no Temporal call, a GET
never hangs on Temporal, a train that Temporal does not take changes nothing).

The test runs its own dev server (a SQLite file, so it can be restarted with its history) and its
own task queue. The open run is made deterministic: it is started while no worker polls the queue,
so it is still open whatever the machine's speed when Temporal goes away."""

from __future__ import annotations

import asyncio
import signal
import uuid

import httpx

from tests.faults.api_process import ApiProcess
from tests.workflows.support import DevServer, make_model, stop, wait_for_state, worker_process

BOUND = 15.0  # seconds: far above the 2 s RPC timeout; only a hang would reach it
OTHER_OPEN_RUNS = 7  # with the `busy` model, a page of 8 open runs


async def _bounded(call):
    return await asyncio.wait_for(call, BOUND)


async def _train(client: httpx.AsyncClient, headers: dict, handle: str) -> httpx.Response:
    return await client.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers)


async def _version_numbers(client: httpx.AsyncClient, headers: dict, handle: str) -> list[int]:
    response = await client.get(f"/v1/models/{handle}/versions", headers=headers)
    assert response.status_code == 200, response.text
    return [item["version_no"] for item in response.json()["items"]]


async def _healthy_again(client: httpx.AsyncClient, limit: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while (await client.get("/v1/health")).status_code != 200:
        assert asyncio.get_running_loop().time() < deadline, "the API did not see Temporal come back"
        await asyncio.sleep(0.3)


async def test_temporal_down_scoring_and_reads_go_on_and_a_refused_train_changes_nothing(
        settings, owner, namespace, tmp_path):
    server = DevServer(tmp_path / "temporal.db")
    server.start()
    queue = f"fault-down-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(update={"task_queue": queue, "temporal_address": server.address})
    api = ApiProcess(own, tmp_path)
    worker = None
    headers = owner["headers"]
    scored, busy, draft = (f"{namespace}.{name}" for name in ("scored", "busy", "draft"))
    try:
        await server.connect()
        worker = worker_process(own, queue, server.address)
        await api.start()
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
            await make_model(client, headers, scored, per_pole=6)
            assert (await _train(client, headers, scored)).status_code == 202
            await wait_for_state(client, headers, scored, {"ready"}, limit=120)

            # No worker while `busy` is trained: its run stays open through the outage.
            assert stop(worker) == 0
            await make_model(client, headers, busy, per_pole=6, salt=uuid.uuid4().hex)
            open_run = await _train(client, headers, busy)
            assert open_run.status_code == 202, open_run.text
            others = [f"{namespace}.queued-{n}" for n in range(OTHER_OPEN_RUNS)]
            for handle in others:
                await make_model(client, headers, handle, per_pole=2, salt=uuid.uuid4().hex)
                assert (await _train(client, headers, handle)).status_code == 202
            await make_model(client, headers, draft, per_pole=6, salt=uuid.uuid4().hex)

            server.stop()

            health = await _bounded(client.get("/v1/health"))
            assert health.status_code == 503
            assert health.json()["error"]["code"] == "unavailable"
            assert health.json()["error"]["details"]["checks"]["temporal"] == "unreachable"

            for text in ("Thanks so much, happy to help today.", "Read the manual."):
                card = await _bounded(client.post(f"/v1/models/{scored}/score", json={"content": text},
                                                  headers=headers))
                assert card.status_code == 200, card.text
            feedback = await _bounded(client.post(
                f"/v1/models/{scored}/score", headers=headers,
                json={"content": "Happy to help with the invoice.", "feedback": {"warmth": "warm"}}))
            assert feedback.status_code == 200, feedback.text
            feedback_ids = feedback.json()["metadata"]["sample_ids"]

            during = await _bounded(client.get(f"/v1/models/{busy}", headers=headers))
            assert during.status_code == 200
            assert during.json()["state"] == "busy"
            assert during.json()["last_operation"]["run_id"] == open_run.json()["run_id"]

            # A page full of open runs still answers within the bound: Temporal being gone is not
            # paid again for every model on the page.
            listing = await _bounded(client.get("/v1/models", params={"namespace": namespace}, headers=headers))
            assert listing.status_code == 200
            assert {item["handle"] for item in listing.json()["items"] if item["state"] == "busy"} == {busy, *others}

            refused = await _bounded(_train(client, headers, draft))
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "unavailable"
            after_refusal = (await client.get(f"/v1/models/{draft}", headers=headers)).json()
            assert after_refusal["state"] == "draft" and after_refusal["last_operation"] is None

            server.start()
            await server.connect()
            worker = worker_process(own, queue, server.address)
            await _healthy_again(client)

            body = await wait_for_state(client, headers, busy, {"ready", "failed"}, limit=120)
            assert body["state"] == "ready", body["last_operation"]
            assert body["last_operation"]["run_id"] == open_run.json()["run_id"]
            assert await _version_numbers(client, headers, busy) == [1]
            for handle in others:
                assert (await wait_for_state(client, headers, handle, {"ready", "failed"}, limit=120))["state"] == "ready"

            retried = await _train(client, headers, draft)
            assert retried.status_code == 202, retried.text
            body = await wait_for_state(client, headers, draft, {"ready", "failed"}, limit=120)
            assert body["state"] == "ready", body["last_operation"]
            assert await _version_numbers(client, headers, draft) == [1]

            samples = await client.get(f"/v1/models/{scored}/samples", params={"limit": 500}, headers=headers)
            assert set(feedback_ids) <= {item["id"] for item in samples.json()["items"]}
            listing = await client.get("/v1/models", params={"namespace": namespace}, headers=headers)
            assert {item["handle"]: item["state"] for item in listing.json()["items"]} == {
                scored: "ready", busy: "ready", draft: "ready", **{handle: "ready" for handle in others}}
    finally:
        api.kill()
        if worker is not None:
            stop(worker, signal.SIGTERM)
        server.stop()
