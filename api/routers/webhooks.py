"""Webhooks: register, list, delete, and read the delivery log (SPEC §9.4).

Decisions (SPEC is silent):
- Registering needs an authoring key that owns the namespace (else ``403 forbidden``, as for
  creating a model). Every other route takes any key that owns the webhook's namespace; a webhook of
  a namespace the key does not own is ``404 not_found``, so its existence is not revealed.
  Deleting needs the authoring scope too.
- The URL is checked at registration by the fetch rules of SPEC §6 (and ``ASSAY_FETCH_ALLOW``): a
  host that does not resolve, or resolves to any non-public address, is ``422 webhook_url_refused``
  with the fetch reason in ``details.reason``. Every delivery checks again at connection time.
- ``events`` must list known event types (``422 validation_error`` otherwise); duplicates collapse.
- ``GET /v1/webhooks`` lists the live webhooks of every namespace the key owns, oldest first; the
  delivery log is newest first. Both page with opaque cursors. The secret is shown only by POST.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import KeyDep, SessionDep, SettingsDep
from api.errors import ApiError, not_found, validation_error
from api.fetch import FetchError, check_target
from api.pagination import decode_cursor, page
from api.schemas.webhooks import DeliveryPage, WebhookCreated, WebhookCreateRequest, WebhookDeleted, WebhookPage
from api.views import iso
from domain.handles import NAMESPACE_RE
from store import webhooks as webhook_store
from store.tables import Webhook, WebhookDelivery

router = APIRouter(tags=["webhooks"])
WEBHOOK_ID_RE = re.compile(r"wh_[0-9A-Z]{26}")


def _out(webhook: Webhook) -> dict:
    return {"id": webhook.id, "namespace": webhook.namespace, "url": webhook.url, "events": webhook.events,
            "created_at": iso(webhook.created_at)}


def _delivery_out(row: WebhookDelivery) -> dict:
    return {"event_id": row.event_id, "event": row.event, "attempt": row.attempt, "status_code": row.status_code,
            "at": iso(row.at), "error": row.error}


def url_refused(error: FetchError) -> ApiError:
    return ApiError(422, "webhook_url_refused", f"The webhook URL cannot be used: {error.message}",
                    {"reason": error.reason, **error.details})


async def _owned(session, principal, webhook_id: str) -> Webhook:
    # An id we could not have issued is missing without a query (PostgreSQL refuses NUL in text).
    webhook = await session.run_sync(webhook_store.live_webhook, webhook_id) \
        if WEBHOOK_ID_RE.fullmatch(webhook_id) else None
    if webhook is None or not principal.owns(webhook.namespace):
        raise not_found("webhook")
    return webhook


@router.post("/webhooks", status_code=201, response_model=WebhookCreated, summary="Register a webhook")
async def create_webhook(body: WebhookCreateRequest, principal: KeyDep, session: SessionDep, settings: SettingsDep):
    """The answer carries the signing secret; it is not shown again."""
    if not NAMESPACE_RE.fullmatch(body.namespace):
        raise validation_error("`namespace` is not a namespace name.", {"namespace": body.namespace})
    principal.require_author(body.namespace)
    try:
        await check_target(body.url, settings.fetch_allow_list)
    except FetchError as error:
        raise url_refused(error) from error
    except TimeoutError as error:
        raise url_refused(FetchError("timeout", "Resolving its host took too long.")) from error
    events = list(dict.fromkeys(str(event) for event in body.events))
    webhook = await session.run_sync(webhook_store.create_webhook, body.namespace, body.url, events)
    created = {**_out(webhook), "secret": webhook.secret}
    await session.commit()
    return JSONResponse(created, status_code=201)


@router.get("/webhooks", response_model=WebhookPage, summary="List the webhooks of the key's namespaces")
async def list_webhooks(principal: KeyDep, session: SessionDep, limit: int = Query(50, ge=1, le=250),
                        cursor: str | None = None):
    after = decode_cursor(cursor, str)
    rows = await session.run_sync(webhook_store.list_webhooks, principal.namespaces, limit + 1, after)
    result = page(rows, limit, lambda row: row.id)
    result["items"] = [_out(row) for row in result["items"]]
    return JSONResponse(result)


@router.delete("/webhooks/{webhook_id}", response_model=WebhookDeleted, summary="Delete a webhook")
async def delete_webhook(webhook_id: str, principal: KeyDep, session: SessionDep):
    """Deliveries in flight stop at their next attempt."""
    webhook = await _owned(session, principal, webhook_id)
    principal.require_author(webhook.namespace)
    if not await session.run_sync(webhook_store.delete_webhook, webhook.id):
        raise not_found("webhook")  # deleted by a concurrent request
    await session.commit()
    return WebhookDeleted(id=webhook.id, deleted=True)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage,
            summary="The delivery attempts of a webhook, newest first")
async def list_deliveries(webhook_id: str, principal: KeyDep, session: SessionDep,
                          limit: int = Query(50, ge=1, le=250), cursor: str | None = None):
    webhook = await _owned(session, principal, webhook_id)
    before = decode_cursor(cursor, int)
    rows = await session.run_sync(webhook_store.deliveries, webhook.id, limit + 1, before)
    result = page(rows, limit, lambda row: row.id)
    result["items"] = [_delivery_out(row) for row in result["items"]]
    return JSONResponse(result)
