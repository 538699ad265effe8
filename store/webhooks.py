"""Webhooks and their delivery log (SPEC §9.4). Sync functions: the API calls them through
``AsyncSession.run_sync``, the delivery activities in their own transactions.

Decisions (SPEC is silent):
- The secret is ``whsec_`` + base64 of 24 random bytes (Standard Webhooks' form). It is stored in
  clear: signing needs it, so a hash cannot replace it, and encrypting it with a key that every API
  and worker process must hold anyway would only move the secret next to the database URL. It is
  never put in a Temporal payload (histories are kept and shown in the Web UI); the delivery
  activity reads it from here. Deleting a webhook blanks it.
- Deleting is a soft delete: deliveries in flight find the webhook gone at their next attempt and
  stop; the webhook and its log then read as 404.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from ulid import ULID

from store.tables import Webhook, WebhookDelivery, utcnow

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def create_webhook(session: Session, namespace: str, url: str, events: list[str]) -> Webhook:
    webhook = Webhook(id=f"wh_{ULID()}", namespace=namespace, url=url, events=list(events),
                      secret=new_secret(), created_at=utcnow())
    session.add(webhook)
    session.flush()
    return webhook


def live_webhook(session: Session, webhook_id: str) -> Webhook | None:
    """The webhook unless it is deleted (or never existed)."""
    webhook = session.get(Webhook, webhook_id)
    return webhook if webhook is not None and webhook.deleted_at is None else None


def list_webhooks(session: Session, namespaces: Collection[str], limit: int, after: str | None) -> list[Webhook]:
    """Live webhooks of these namespaces, oldest first (ids are ULIDs), up to ``limit`` rows."""
    query = select(Webhook).where(Webhook.namespace.in_(sorted(namespaces)), Webhook.deleted_at.is_(None))
    if after is not None:
        query = query.where(Webhook.id > after)
    return list(session.scalars(query.order_by(Webhook.id).limit(limit)))


def delete_webhook(session: Session, webhook_id: str) -> bool:
    changed = session.execute(
        update(Webhook).where(Webhook.id == webhook_id, Webhook.deleted_at.is_(None))
        .values(deleted_at=utcnow(), secret="")
    ).rowcount
    return bool(changed)


def subscribers(session: Session, namespace: str, event: str) -> list[str]:
    """Ids of the live webhooks of ``namespace`` that subscribe to ``event``."""
    rows = session.execute(select(Webhook.id, Webhook.events)
                           .where(Webhook.namespace == namespace, Webhook.deleted_at.is_(None))
                           .order_by(Webhook.id))
    # Filtered here: JSON containment is spelt differently on SQLite and PostgreSQL, and a
    # namespace has few webhooks.
    return [webhook_id for webhook_id, events in rows if event in (events or [])]


@dataclass(frozen=True)
class Target:
    url: str
    secret: str


def delivery_target(session: Session, webhook_id: str) -> Target | None:
    """Where and with what secret to deliver now; None once the webhook is deleted."""
    webhook = live_webhook(session, webhook_id)
    return Target(webhook.url, webhook.secret) if webhook is not None else None


def record_attempt(session: Session, webhook_id: str, event_id: str, event: str, attempt: int,
                   status_code: int | None, error: str | None) -> None:
    session.add(WebhookDelivery(webhook_id=webhook_id, event_id=event_id, event=event, attempt=attempt,
                                status_code=status_code, error=error, at=utcnow()))


def deliveries(session: Session, webhook_id: str, limit: int, before: int | None) -> list[WebhookDelivery]:
    """Attempts of one webhook, newest first, up to ``limit`` rows."""
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))
