"""A webhook delivery outlives a restart of the whole Assay stack (API and worker processes, both
SIGKILLed between two attempts): the receiver answers 500 three times, then 200; the event arrives
with the same webhook-id every time, each delivery passes `standardwebhooks` verification, and the
delivery log read through the new API shows the four attempts.

The kill waits until the workflow has recorded the third failure and started its wait (a timer in
its history), so the fourth attempt can only come from the new worker."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import httpx
from temporalio.api.enums.v1 import EventType

from tests.api.webhook_receiver import WebhookReceiver
from tests.faults.api_process import ApiProcess
from tests.workflows.support import make_model, stop, wait_for_state, worker_process
from workflows.webhooks import delivery_workflow_id

# The wait before the fourth attempt outlasts the restart by far; the first two are short.
RETRY_DELAYS = "0.5,0.5,10"


async def _timers_started(client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return sum(1 for event in history.events if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED)


async def test_a_delivery_survives_a_restart_of_api_and_worker(settings, temporal_env, make_key, namespace,
                                                              tmp_path):
    queue = f"fault-webhook-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(update={"task_queue": queue})
    processes = []
    with WebhookReceiver() as receiver:
        extra = {"ASSAY_FETCH_ALLOW": receiver.allow_entry, "ASSAY_WEBHOOK_RETRY_DELAYS": RETRY_DELAYS}
        worker = worker_process(own, queue, extra_env=extra)
        api = ApiProcess(own, tmp_path, extra_env=extra)
        processes += [worker, api]
        try:
            await api.start()
            key = await make_key(namespace)
            handle = f"{namespace}.restart-hook"
            async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
                created = await http.post("/v1/webhooks", headers=key["headers"], json={
                    "url": receiver.url("/restart"), "events": ["run.succeeded"], "namespace": namespace})
                assert created.status_code == 201, created.text
                webhook = created.json()
                receiver.secrets["/restart"] = webhook["secret"]
                receiver.scripts["/restart"] = [500, 500, 500, 200]
                await make_model(http, key["headers"], handle)
                started = await http.post(f"/v1/models/{handle}/train", json={"effort": "low"},
                                          headers=key["headers"])
                assert started.status_code == 202, started.text
                assert (await wait_for_state(http, key["headers"], handle, {"ready", "failed"}, limit=240))[
                    "state"] == "ready"

            first_three = await receiver.wait_for("/restart", 3)
            workflow_id = delivery_workflow_id(webhook["id"], first_three[0].webhook_id)
            deadline = time.monotonic() + 60
            while await _timers_started(temporal_env.client, workflow_id) < 3:
                assert time.monotonic() < deadline, "the third failure was never recorded"
                await asyncio.sleep(0.05)

            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            api.kill()
            killed_at = time.monotonic()
            assert len(receiver.at("/restart")) == 3, "the fourth attempt came before the restart"

            worker = worker_process(own, queue, extra_env=extra)
            api = ApiProcess(own, tmp_path, extra_env=extra)
            processes += [worker, api]
            await api.start()
            arrived = await receiver.wait_for("/restart", 4, limit=120)
            async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
                deadline = time.monotonic() + 30
                while True:  # the attempt is logged just after the receiver answered it
                    log = (await http.get(f"/v1/webhooks/{webhook['id']}/deliveries",
                                          headers=key["headers"])).json()["items"]
                    if len(log) >= 4 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.1)
        finally:
            for process in processes:
                if isinstance(process, ApiProcess):
                    process.kill()
                else:
                    stop(process, signal.SIGKILL)

    assert arrived[3].at > killed_at
    assert all(d.verified for d in arrived), "a delivery failed standardwebhooks verification"
    assert len({d.webhook_id for d in arrived}) == 1
    assert [d.answered for d in arrived] == [500, 500, 500, 200]
    assert arrived[3].payload["type"] == "run.succeeded"
    assert arrived[3].payload["data"]["run_id"] == started.json()["run_id"]
    assert [(d["attempt"], d["status_code"], d["event_id"]) for d in reversed(log)] == \
        [(1, 500, arrived[0].webhook_id), (2, 500, arrived[0].webhook_id), (3, 500, arrived[0].webhook_id),
         (4, 200, arrived[0].webhook_id)]
