"""Webhooks (SPEC §9.4) on the real stack: registration, SSRF rules and access, then real events
(a training run, an explicit activation) delivered through the real delivery workflow to a local
receiver that checks every signature with the independent `standardwebhooks` package.

The stack here is the session's Temporal server with an app and an in-process worker of this
module's own, whose fetch allowlist opens the receiver and whose retry schedule is shortened."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from activities import ActivityDeps
from activities.lifecycle import LifecycleActivities
from activities.webhooks import run_events
from contracts.payloads import FailureInput
from contracts.states import ModelState, OperationKind, RunStatus
from store import runs
from store.db import make_sync_engine
from store.tables import Model
from tests.api.webhook_receiver import WebhookReceiver
from tests.workflows.support import app_client, make_model, wait_for_state
from worker import build_worker
from workflows.webhooks import delivery_workflow_id, start_deliveries

QUICK_RETRIES = "0.2,0.2,0.5"


@pytest.fixture(scope="module")
async def stack(settings, temporal_env):
    """(http client, receiver, own settings) with a worker on a task queue of this module's own."""
    with WebhookReceiver() as receiver:
        own = settings.model_copy(update={"task_queue": f"webhooks-{uuid.uuid4().hex[:8]}",
                                          "fetch_allow": receiver.allow_entry,
                                          "webhook_retry_delays": QUICK_RETRIES})
        deps = ActivityDeps.from_settings(own)
        try:
            async with build_worker(temporal_env.client, own, deps), \
                    app_client(own, temporal_env.client) as (_, http):
                yield http, receiver, own, deps
        finally:
            deps.close()


async def _register(http, key: dict, url: str, events: list[str], namespace: str | None = None):
    return await http.post("/v1/webhooks", headers=key["headers"],
                           json={"url": url, "events": events, "namespace": namespace or key["namespaces"][0]})


async def _deliveries(http, key: dict, webhook_id: str) -> list[dict]:
    response = await http.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=key["headers"])
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_registration_shows_the_secret_once(stack, owner, make_key):
    http, receiver, *_ = stack
    created = await _register(http, owner, receiver.url("/once"), ["run.succeeded", "run.failed", "run.succeeded"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(base64.b64decode(body["secret"][6:])) == 24
    assert body["events"] == ["run.succeeded", "run.failed"] and body["url"] == receiver.url("/once")

    listed = (await http.get("/v1/webhooks", headers=owner["headers"])).json()["items"]
    assert [(item["id"], "secret" in item) for item in listed] == [(body["id"], False)]
    stranger = await make_key(f"x{uuid.uuid4().hex[:10]}")
    assert (await http.get("/v1/webhooks", headers=stranger["headers"])).json()["items"] == []
    assert await _deliveries(http, owner, body["id"]) == []


@pytest.mark.parametrize("url, reason", [
    ("http://10.1.2.3/hook", "address_not_allowed"),
    ("http://169.254.169.254/latest", "address_not_allowed"),
    ("http://localhost:9/hook", "address_not_allowed"),   # loopback, and not the allowlisted port
    ("http://[::ffff:127.0.0.1]:9/hook", "address_not_allowed"),
    ("ftp://example.com/hook", "scheme_not_allowed"),
    ("not a url", "scheme_not_allowed"),
])
async def test_a_private_or_malformed_url_is_refused_and_nothing_is_stored(stack, owner, url, reason):
    http, *_ = stack
    response = await _register(http, owner, url, ["run.succeeded"])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["reason"]) == ("webhook_url_refused", reason)
    assert (await http.get("/v1/webhooks", headers=owner["headers"])).json()["items"] == []


async def test_unknown_events_and_fields_are_refused(stack, owner):
    http, receiver, *_ = stack
    for body in ({"url": receiver.url("/x"), "events": ["run.exploded"], "namespace": owner["namespaces"][0]},
                 {"url": receiver.url("/x"), "events": [], "namespace": owner["namespaces"][0]},
                 {"url": receiver.url("/x"), "events": ["run.failed"], "namespace": owner["namespaces"][0],
                  "secret": "whsec_mine"}):
        response = await http.post("/v1/webhooks", json=body, headers=owner["headers"])
        assert (response.status_code, response.json()["error"]["code"]) == (422, "validation_error"), body
    assert (await http.get("/v1/webhooks", headers=owner["headers"])).json()["items"] == []


async def test_access_rules(stack, owner, namespace, make_key):
    http, receiver, *_ = stack
    scoring = await make_key(namespace, scope="scoring")
    stranger = await make_key(f"x{uuid.uuid4().hex[:10]}")

    refused = await _register(http, scoring, receiver.url("/authz"), ["run.failed"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    foreign = await _register(http, stranger, receiver.url("/authz"), ["run.failed"], namespace=namespace)
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (403, "forbidden")
    assert (await http.post("/v1/webhooks", json={}, headers={})).status_code == 401

    webhook_id = (await _register(http, owner, receiver.url("/authz"), ["run.failed"])).json()["id"]
    for method, path in (("GET", f"/v1/webhooks/{webhook_id}/deliveries"), ("DELETE", f"/v1/webhooks/{webhook_id}")):
        other = await http.request(method, path, headers=stranger["headers"])
        assert (other.status_code, other.json()["error"]["code"]) == (404, "not_found"), path
    assert (await http.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=scoring["headers"])).status_code == 200
    assert (await http.delete(f"/v1/webhooks/{webhook_id}", headers=scoring["headers"])).status_code == 403
    for unknown in ("wh_00000000000000000000000000", "wh_%00"):
        assert (await http.get(f"/v1/webhooks/{unknown}/deliveries", headers=owner["headers"])).status_code == 404

    deleted = await http.delete(f"/v1/webhooks/{webhook_id}", headers=owner["headers"])
    assert deleted.status_code == 200 and deleted.json() == {"id": webhook_id, "deleted": True}
    assert (await http.delete(f"/v1/webhooks/{webhook_id}", headers=owner["headers"])).status_code == 404
    assert (await http.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=owner["headers"])).status_code == 404
    assert (await http.get("/v1/webhooks", headers=owner["headers"])).json()["items"] == []


async def test_events_of_a_run_and_an_activation_arrive_signed_and_retried(stack, owner, namespace, make_key,
                                                                         temporal_env):
    http, receiver, own, _ = stack
    runs_hook = (await _register(http, owner, receiver.url("/runs"), ["run.succeeded", "run.failed"])).json()
    versions_hook = (await _register(http, owner, receiver.url("/versions"), ["version.activated"])).json()
    stranger = await make_key(f"x{uuid.uuid4().hex[:10]}")
    foreign_hook = (await _register(http, stranger, receiver.url("/foreign"), ["run.succeeded"])).json()
    for hook in (runs_hook, versions_hook, foreign_hook):
        receiver.secrets[hook["url"].rsplit(str(receiver.port), 1)[1]] = hook["secret"]
    receiver.scripts["/runs"] = [500, 500, 500, 200]

    handle = f"{namespace}.hooked"
    await make_model(http, owner["headers"], handle)
    started = await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=owner["headers"])
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    assert (await wait_for_state(http, owner["headers"], handle, {"ready", "failed"}))["state"] == "ready"

    # run.succeeded: three 500s, then 200; the same webhook-id and a valid signature every time.
    arrived = await receiver.wait_for("/runs", 4)
    assert all(d.verified for d in arrived), "a delivery failed standardwebhooks verification"
    assert len({d.webhook_id for d in arrived}) == 1 and arrived[0].webhook_id.startswith("evt_")
    assert [d.answered for d in arrived] == [500, 500, 500, 200]
    payload = arrived[-1].payload
    assert payload["type"] == "run.succeeded" and payload["timestamp"].endswith("Z")
    assert {k: payload["data"][k] for k in ("run_id", "handle", "kind", "status", "version_no")} == \
        {"run_id": run_id, "handle": handle, "kind": "train", "status": "succeeded", "version_no": 1}
    log = await _deliveries(http, owner, runs_hook["id"])
    assert [(d["attempt"], d["status_code"], d["event"], d["event_id"]) for d in reversed(log)] == \
        [(n, status, "run.succeeded", arrived[0].webhook_id) for n, status in ((1, 500), (2, 500), (3, 500), (4, 200))]

    # version.activated: once from the run's publish, once from an explicit activation.
    from_run = (await receiver.wait_for("/versions", 1))[0]
    assert from_run.verified and from_run.payload["type"] == "version.activated"
    assert from_run.payload["data"] == {"handle": handle, "version_id": from_run.payload["data"]["version_id"],
                                        "version_no": 1, "run_id": run_id}
    activated = await http.put(f"/v1/models/{handle}/versions/active", json={"version": "v1"},
                               headers=owner["headers"])
    assert activated.status_code == 200, activated.text
    explicit = (await receiver.wait_for("/versions", 2))[1]
    assert explicit.verified and explicit.payload["data"]["run_id"] is None
    assert explicit.webhook_id != from_run.webhook_id

    # Publishing the run's events again (a retried activity) starts no second delivery.
    engine = make_sync_engine(own.resolved_database_url)
    try:
        with Session(engine) as session:
            events = run_events(session, run_id, activated=True)
    finally:
        engine.dispose()
    assert [e.event_id for e in events] == [arrived[0].webhook_id, from_run.webhook_id]
    await start_deliveries(temporal_env.client, own.task_queue, [0.2], 1.0, timedelta(seconds=5),
                           [runs_hook["id"]], events[0])
    workflow_id = delivery_workflow_id(runs_hook["id"], events[0].event_id)
    runs = [w async for w in temporal_env.client.list_workflows(f'WorkflowId="{workflow_id}"')]
    assert len(runs) == 1
    assert receiver.at("/foreign") == []  # another namespace's webhook hears nothing of this model


async def test_a_cancelled_run_announces_run_cancelled(stack, owner, namespace, temporal_env):
    """The real finalize_failure activity closes a claimed run as cancelled and publishes the event."""
    http, receiver, _, deps = stack
    hook = (await _register(http, owner, receiver.url("/cancelled"), ["run.cancelled"])).json()
    ignored = (await _register(http, owner, receiver.url("/ignored"), ["run.failed"])).json()
    receiver.secrets["/cancelled"] = hook["secret"]
    handle = f"{namespace}.cancelled"
    await make_model(http, owner["headers"], handle)
    run_id = f"run_{uuid.uuid4().hex}"
    with deps.transaction() as session:
        model_id = session.scalar(select(Model.id).where(Model.handle == handle))
        runs.claim(session, model_id, [ModelState.DRAFT], run_id, OperationKind.TRAIN, None, {})
    failure = FailureInput(run_id, model_id, OperationKind.TRAIN, "cancelled", "The run was cancelled.",
                           status=RunStatus.CANCELLED)
    # A sync activity runs in a thread; a second call is the retry of one whose reply was lost.
    for _ in range(2):
        await asyncio.to_thread(LifecycleActivities(deps).finalize_failure, failure)
    delivery = (await receiver.wait_for("/cancelled", 1))[0]
    assert delivery.verified and delivery.payload["type"] == "run.cancelled"
    assert delivery.payload["data"]["run_id"] == run_id
    assert delivery.payload["data"]["error"] == {"code": "cancelled", "message": "The run was cancelled."}
    workflow_id = delivery_workflow_id(hook["id"], delivery.webhook_id)
    assert len([w async for w in temporal_env.client.list_workflows(f'WorkflowId="{workflow_id}"')]) == 1
    assert await _deliveries(http, owner, ignored["id"]) == []


async def test_a_discovery_run_announces_run_succeeded(stack, owner, namespace):
    http, receiver, *_ = stack
    hook = (await _register(http, owner, receiver.url("/discover"), ["run.succeeded"])).json()
    receiver.secrets["/discover"] = hook["secret"]
    handle = f"{namespace}.discover"
    await make_model(http, owner["headers"], handle, per_pole=8)
    started = await http.post(f"/v1/models/{handle}/traits/discover", json={"effort": "low"}, headers=owner["headers"])
    assert started.status_code == 202, started.text
    delivery = (await receiver.wait_for("/discover", 1))[0]
    assert delivery.verified
    assert {k: delivery.payload["data"][k] for k in ("run_id", "handle", "kind", "status")} == \
        {"run_id": started.json()["run_id"], "handle": handle, "kind": "discover", "status": "succeeded"}


async def test_a_score_job_announces_score_job_succeeded_once(stack, owner, namespace):
    """The job's closing activity publishes score_job.succeeded after its commit (SPEC §9.4)."""
    http, receiver, *_ = stack
    hook = (await _register(http, owner, receiver.url("/jobs"), ["score_job.succeeded", "score_job.failed"])).json()
    receiver.secrets["/jobs"] = hook["secret"]
    handle = f"{namespace}.jobbed"
    await make_model(http, owner["headers"], handle)
    trained = await http.post(f"/v1/models/{handle}/train", json={"effort": "low"}, headers=owner["headers"])
    assert trained.status_code == 202, trained.text
    assert (await wait_for_state(http, owner["headers"], handle, {"ready", "failed"}))["state"] == "ready"
    items = [{"id": f"i{n}", "content": f"Thanks for writing in, item {n} is on its way."} for n in range(5)]
    started = await http.post(f"/v1/models/{handle}/score-jobs", json={"items": items}, headers=owner["headers"])
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]

    delivery = (await receiver.wait_for("/jobs", 1))[0]
    assert delivery.verified and delivery.webhook_id.startswith("evt_")
    assert delivery.payload["type"] == "score_job.succeeded"
    data = delivery.payload["data"]
    assert (data["job_id"], data["handle"], data["version_id"], data["state"], data["counts"]) == \
        (job_id, handle, "v1", "succeeded", {"scored": 5, "failed": 0})
    job = (await http.get(f"/v1/score-jobs/{job_id}", headers=owner["headers"])).json()
    assert job["state"] == "succeeded" and job["counts"] == data["counts"]
    await asyncio.sleep(1.0)  # a second publish (none is expected) would have arrived by now
    assert len(receiver.at("/jobs")) == 1
