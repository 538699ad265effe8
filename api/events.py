"""Publishing webhook events from the API (the worker publishes through ``activities.webhooks``).

Decision (SPEC is silent): an event the API causes (an explicit activation, a run the API closes
itself) is published after the change is committed. If Temporal does not take it, the change still
stands and the request still succeeds; the event is logged as lost. Events of runs that their
workflows close are published by the activities, which retry until Temporal takes them.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from activities.webhooks import EventMessage, run_events
from api.temporal import TemporalGateway
from store import webhooks as webhook_store
from workflows.webhooks import start_deliveries

log = logging.getLogger("assay.api")


async def publish_event(temporal: TemporalGateway, session: AsyncSession, event: EventMessage) -> None:
    """Starts the delivery of ``event`` to every webhook of its namespace that subscribes to it."""
    ids = await session.run_sync(webhook_store.subscribers, event.namespace, event.type)
    if not ids:
        return
    try:
        await start_deliveries(await temporal.client(), temporal.task_queue, temporal.webhook_retry_delays,
                               temporal.webhook_give_up_after, temporal.rpc_timeout, ids, event)
    except Exception:  # Temporal unreachable or refusing: the committed change stands
        log.warning("webhook event %s (%s) was not published", event.event_id, event.type, exc_info=True)


async def publish_run_events(temporal: TemporalGateway, session: AsyncSession, run_id: str) -> None:
    """``run.*`` of a run the API closed itself (reconciliation, a cancel that reached no worker);
    the same event ids as the activities use, so a run closed twice is announced once."""
    for event in await session.run_sync(run_events, run_id):
        await publish_event(temporal, session, event)
