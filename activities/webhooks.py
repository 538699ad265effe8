"""Webhook events and their signed delivery (SPEC §9.4).

An event is published by ``publish`` / ``publish_async`` (worker side, from inside a sync or an
async activity) or ``api.events.publish_event`` (API side); both look up the subscribed webhooks here and start one
``WebhookDeliveryWorkflow`` per webhook (``workflows.webhooks.start_deliveries``), whose workflow id
is derived from (webhook, event): publishing the same event twice delivers it once.

Decisions (SPEC is silent):
- Signing follows Standard Webhooks: ``webhook-id`` is the event id (the same on every attempt and
  for every webhook), ``webhook-timestamp`` is the time of the attempt (receivers refuse old
  timestamps, so a retry is stamped and signed anew), ``webhook-signature`` is ``v1,`` + base64
  HMAC-SHA256 of ``{id}.{timestamp}.{body}`` keyed with the base64-decoded part of the secret.
- Event ids of events that come from a run are derived from the run id and the event type, so an
  activity that is retried after its commit publishes the same event again (and is deduplicated).
- An attempt is one POST with a 10 s budget for connecting, sending and the status line; redirects
  are not followed (a 3xx counts as a failed attempt); the response body is not read.
- The target URL obeys the fetch rules of SPEC §6 at every attempt: the connection goes through
  ``api.fetch.GuardedBackend``, which resolves, checks and connects to the checked address.
- ``error`` in the delivery log is a stable reason: ``timeout``, ``connect_failed``, ``dns_failed``,
  ``address_not_allowed``, ``invalid_url``, ``scheme_not_allowed``; a non-2xx answer has its
  ``status_code`` and no error.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import anyio
import httpcore
from sqlalchemy.orm import Session
from temporalio import activity

from activities.deps import ActivityDeps
from api.fetch import FetchError, GuardedBackend, parse_http_url
from contracts.payloads import AttemptOutcome, DeliveryAttempt
from contracts.states import RUN_EVENT_FOR_STATUS, SCORE_JOB_EVENT_FOR_STATE, WebhookEvent
from store import runs, score_jobs
from store import webhooks as webhook_store
from store.tables import Model, Version

USER_AGENT = "Assay-Webhooks/1.0"


@dataclass(frozen=True)
class EventMessage:
    """One event as every subscribed webhook receives it: ``{type, timestamp, data}``."""

    event_id: str
    type: WebhookEvent
    namespace: str
    timestamp: datetime
    data: dict = field(default_factory=dict)

    def body(self) -> str:
        return json.dumps({"type": str(self.type), "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
                           "data": self.data}, separators=(",", ":"))


def event_id_for(source_id: str, event: WebhookEvent) -> str:
    """A stable event id for an event that ``source_id`` (a run, a job) causes once."""
    return "evt_" + hashlib.sha256(f"{event}:{source_id}".encode()).hexdigest()[:32]


def run_events(session: Session, run_id: str, activated: bool = False) -> list[EventMessage]:
    """The events a closed run announces: ``run.succeeded|failed|cancelled``, and
    ``version.activated`` when its new version was activated. Nothing while the run is open."""
    op = runs.run_by_id(session, run_id)
    event = RUN_EVENT_FOR_STATUS.get(op.status) if op is not None else None
    model = session.get(Model, op.model_id) if event is not None else None
    if model is None:
        return []
    at = op.finished_at or op.started_at
    data = {"run_id": op.run_id, "handle": model.handle, "kind": op.kind, "status": op.status,
            "started_at": _iso(op.started_at), "finished_at": _iso(op.finished_at)}
    if op.error:
        data["error"] = {"code": op.error.get("code"), "message": op.error.get("message")}
    version = session.get(Version, op.version_id) if op.version_id is not None else None
    if version is not None:
        data["version_no"] = version.version_no
    events = [EventMessage(event_id_for(op.run_id, event), event, model.namespace, at, data)]
    if activated and version is not None:
        events.append(version_activated_event(model, version, event_id_for(op.run_id, WebhookEvent.VERSION_ACTIVATED),
                                              at, op.run_id))
    return events


def score_job_events(session: Session, job_id: str) -> list[EventMessage]:
    """``score_job.succeeded|failed`` of a closed job, once per namespace the job belongs to (all
    with one event id); nothing while it is open or when it was cancelled (SPEC §9.4 names no event)."""
    job = score_jobs.job_by_id(session, job_id)
    event = SCORE_JOB_EVENT_FOR_STATE.get(job.state) if job is not None else None
    if event is None:
        return []
    data = {"job_id": job.job_id, "handle": job.handle, "version_id": f"v{job.version_no}", "state": job.state,
            "counts": {"scored": job.scored, "failed": job.failed}, "finished_at": _iso(job.finished_at)}
    if job.error:
        data["error"] = {"code": job.error.get("code"), "message": job.error.get("message")}
    at = job.finished_at or job.created_at
    return [EventMessage(event_id_for(job.job_id, event), event, namespace, at, data)
            for namespace in score_jobs.job_namespaces(session, job.id)]


def version_activated_event(model: Model, version: Version, event_id: str, at: datetime,
                            run_id: str | None = None) -> EventMessage:
    data = {"handle": model.handle, "version_id": version.id, "version_no": version.version_no, "run_id": run_id}
    return EventMessage(event_id, WebhookEvent.VERSION_ACTIVATED, model.namespace, at, data)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def publish(deps: ActivityDeps, events: Iterable[EventMessage]) -> None:
    """Publishes events from a sync activity (it runs in a thread), after its transaction committed.

    Raises when Temporal does not take a delivery, so the activity is retried and publishes again;
    deliveries already started are not started twice."""
    if deps.start_deliveries is not None and (targets := _targets(deps, events)):
        asyncio.run_coroutine_threadsafe(_start(deps, targets), deps.worker_loop).result(timeout=60)


async def publish_async(deps: ActivityDeps, events: Iterable[EventMessage]) -> None:
    """``publish`` for an async activity (it runs on the worker's event loop)."""
    if deps.start_deliveries is not None and (targets := await asyncio.to_thread(_targets, deps, events)):
        await _start(deps, targets)


def _targets(deps: ActivityDeps, events: Iterable[EventMessage]) -> list[tuple[list[str], EventMessage]]:
    """(subscribed webhook ids, event) for each event that has subscribers."""
    events = list(events)
    if not events:
        return []
    with deps.transaction() as session:
        found = [(webhook_store.subscribers(session, event.namespace, event.type), event) for event in events]
    return [(ids, event) for ids, event in found if ids]


async def _start(deps: ActivityDeps, targets: list[tuple[list[str], EventMessage]]) -> None:
    for ids, event in targets:
        await deps.start_deliveries(ids, event)


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header value (Standard Webhooks, scheme v1)."""
    key = base64.b64decode(secret.removeprefix(webhook_store.SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


async def post_signed(url: str, secret: str, message_id: str, body: str, allow: list[str],
                      timeout: float) -> tuple[int | None, str | None]:
    """(status code, None) when the receiver answered, (None, reason) when it could not be reached."""
    try:
        parsed = parse_http_url(url)
    except FetchError as exc:
        return None, exc.reason
    timestamp = int(time.time())
    headers = [(b"Content-Type", b"application/json"), (b"User-Agent", USER_AGENT.encode()),
               (b"webhook-id", message_id.encode()), (b"webhook-timestamp", str(timestamp).encode()),
               (b"webhook-signature", sign(secret, message_id, timestamp, body).encode())]
    target = httpcore.URL(scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port, target=parsed.raw_path)
    limits = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    pool = httpcore.AsyncConnectionPool(network_backend=GuardedBackend(allow), max_connections=1, retries=0)
    try:
        with anyio.fail_after(timeout):
            async with pool.stream("POST", target, headers=headers, content=body.encode(),
                                   extensions={"timeout": limits}) as response:
                return response.status, None
    except FetchError as exc:
        return None, exc.reason
    except (TimeoutError, httpcore.TimeoutException):
        return None, "timeout"
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol):
        return None, "connect_failed"
    finally:
        await pool.aclose()


class WebhookActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="deliver_webhook")
    async def deliver(self, attempt: DeliveryAttempt) -> AttemptOutcome:
        """One attempt: read the target, POST the signed event, log the attempt."""
        target = await asyncio.to_thread(self._target, attempt.webhook_id)
        if target is None:
            return AttemptOutcome(False, webhook_gone=True)
        status, error = await post_signed(target.url, target.secret, attempt.event_id, attempt.body,
                                          self.deps.settings.fetch_allow_list, attempt.timeout_s)
        await asyncio.to_thread(self._record, attempt, status, error)
        return AttemptOutcome(status is not None and 200 <= status < 300, status, error)

    def _target(self, webhook_id: str) -> webhook_store.Target | None:
        with self.deps.transaction() as session:
            return webhook_store.delivery_target(session, webhook_id)

    def _record(self, attempt: DeliveryAttempt, status: int | None, error: str | None) -> None:
        with self.deps.transaction() as session:
            if webhook_store.live_webhook(session, attempt.webhook_id) is not None:
                webhook_store.record_attempt(session, attempt.webhook_id, attempt.event_id, attempt.event,
                                             attempt.attempt, status, error)
