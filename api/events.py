"""Publishing webhook events from the API (the worker publishes through ``activities.webhooks``).

Decision (SPEC is silent): an event the API causes (an explicit activation) is published after the
change is committed. If Temporal does not take it, the change still stands and the request still
succeeds; the event is logged as lost. Events of runs are published by their activities, which
retry until Temporal takes them.
"""

from __future__ import annotations

import logging

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from activities.webhooks import EventMessage
from store import webhooks as webhook_store
from workflows.webhooks import start_deliveries

log = logging.getLogger("assay.api")


async def publish_event(request: Request, session: AsyncSession, event: EventMessage) -> None:
    """Starts the delivery of ``event`` to every webhook of its namespace that subscribes to it."""
    ids = await session.run_sync(webhook_store.subscribers, event.namespace, event.type)
    if not ids:
        return
    settings = request.app.state.settings
    gateway = request.app.state.temporal
    try:
        await start_deliveries(await gateway.client(), gateway.task_queue, settings.webhook_retry_delay_list,
                               settings.webhook_give_up_after, gateway.rpc_timeout, ids, event)
    except Exception:  # Temporal unreachable or refusing: the committed change stands
        log.warning("webhook event %s (%s) was not published", event.event_id, event.type, exc_info=True)
