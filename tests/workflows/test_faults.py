"""Fault tolerance with real processes: a worker SIGKILLed mid-fit, the Temporal server restarted
mid-run, and a run terminated from the Temporal CLI. Each test uses its own task queue (and, for the
restart, its own dev server), so the session's in-process worker never picks its runs up."""

from __future__ import annotations

import signal
import subprocess
import uuid

import pytest

from settings import temporal_cli_path
from tests.workflows.support import (
    DevServer,
    app_client,
    make_model,
    stop,
    wait_for_operation,
    wait_for_state,
    worker_process,
)

PER_POLE = 60  # 240 fresh texts: the fit takes long enough to be interrupted


def _running(body: dict) -> bool:
    operation = body.get("last_operation") or {}
    return body["state"] == "busy" and operation.get("status") == "running"


async def _versions(http, headers, handle) -> list[dict]:
    return (await http.get(f"/v1/models/{handle}/versions", headers=headers)).json()["items"]


async def test_worker_killed_mid_fit_the_run_completes_on_another_worker(settings, temporal_env, make_key,
                                                                        namespace):
    queue = f"fault-kill-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(update={"task_queue": queue})
    first = worker_process(own, queue)
    second = None
    try:
        async with app_client(own, temporal_env.client) as (_, http):
            headers = (await make_key(namespace))["headers"]
            handle = f"{namespace}.kill"
            await make_model(http, headers, handle, per_pole=PER_POLE, salt=uuid.uuid4().hex)
            started = await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers)
            assert started.status_code == 202, started.text
            await wait_for_operation(http, headers, handle, _running)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            assert (await http.get(f"/v1/models/{handle}", headers=headers)).json()["state"] == "busy"

            second = worker_process(own, queue)
            body = await wait_for_state(http, headers, handle, {"ready", "failed"}, limit=240)
            assert body["state"] == "ready", body["last_operation"]
            assert body["last_operation"]["status"] == "succeeded"
            assert body["last_operation"]["run_id"] == started.json()["run_id"]
            assert [v["version_no"] for v in await _versions(http, headers, handle)] == [1]

            # The run's events show the lost attempt and why it was retried (SPEC §9.3).
            run = (await http.get(f"/v1/runs/{started.json()['run_id']}", headers=headers)).json()
            retries = [e for e in run["events"] if e["type"] == "retry"]
            assert retries and retries[0]["attempt"] == 2 and retries[0]["reason"] == "worker_lost", run["events"]
            assert "heartbeat" in retries[0]["message"]
            assert run["events"][-1]["type"] == "succeeded" and run["status"] == "succeeded"
    finally:
        stop(first, signal.SIGKILL)
        if second is not None:
            assert stop(second) == 0  # graceful shutdown on SIGTERM exits 0


async def test_temporal_restart_mid_run_the_run_completes(settings, make_key, namespace, tmp_path):
    server = DevServer(tmp_path / "temporal.db")
    server.start()
    worker = None
    try:
        await server.connect()
        queue = f"fault-restart-{uuid.uuid4().hex[:8]}"
        own = settings.model_copy(update={"task_queue": queue, "temporal_address": server.address})
        worker = worker_process(own, queue, server.address)
        async with app_client(own) as (_, http):  # the app connects lazily, like in production
            headers = (await make_key(namespace))["headers"]
            handle = f"{namespace}.restart"
            await make_model(http, headers, handle, per_pole=PER_POLE, salt=uuid.uuid4().hex)
            started = await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers)
            assert started.status_code == 202, started.text
            await wait_for_operation(http, headers, handle, _running)

            server.stop()
            # With Temporal down the GET still answers, from what the store recorded.
            during = await http.get(f"/v1/models/{handle}", headers=headers)
            assert during.status_code == 200 and during.json()["last_operation"]["run_id"] == started.json()["run_id"]
            server.start()
            await server.connect()

            body = await wait_for_state(http, headers, handle, {"ready", "failed"}, limit=300)
            assert body["state"] == "ready", body["last_operation"]
            assert body["last_operation"]["status"] == "succeeded"
            assert [v["version_no"] for v in await _versions(http, headers, handle)] == [1]
    finally:
        if worker is not None:
            stop(worker)
        server.stop()


async def test_run_terminated_from_the_cli_is_reconciled(settings, temporal_env, make_key, namespace):
    # No worker polls this queue: the run stays queued until it is terminated.
    queue = f"fault-terminate-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(update={"task_queue": queue})
    async with app_client(own, temporal_env.client) as (_, http):
        headers = (await make_key(namespace))["headers"]
        handle = f"{namespace}.term"
        await make_model(http, headers, handle, per_pole=3)
        started = await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers)
        assert started.status_code == 202
        run_id = started.json()["run_id"]

        # No worker can answer the progress query: the GET falls back to the recorded progress.
        waiting = (await http.get(f"/v1/models/{handle}", headers=headers)).json()
        assert waiting["state"] == "busy"
        assert waiting["last_operation"]["status"] == "queued"
        assert waiting["last_operation"]["progress"]["phase"] == "queued"

        subprocess.run([temporal_cli_path(), "workflow", "terminate", "--workflow-id", run_id,
                        "--address", own.temporal_address, "--namespace", own.temporal_namespace,
                        "--reason", "operator stopped it"], check=True, capture_output=True)

        body = await wait_for_state(http, headers, handle, {"failed", "draft", "ready"}, limit=30)
        assert body["state"] == "failed"  # a first training that never produced a version
        operation = body["last_operation"]
        assert operation["status"] == "failed" and operation["error"]["code"] == "terminated"
        assert operation["finished_at"] is not None

        retry = await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=headers)
        assert retry.status_code == 202  # a failed run may be retried with the same inputs
