"""WebhookDeliveryWorkflow: delivers one event to one webhook, at least once (SPEC §9.4).

Each attempt is an activity that POSTs the signed event and logs the attempt; a non-2xx answer or
no answer waits ``retry_delays_s`` (1 s, 5 s, 30 s, 2 min, 10 min, then hourly) and tries again,
until the next attempt would be due more than ``give_up_after_s`` (24 h) after the first. "Due" counts the
schedule's waits, not the clock: the number of attempts is fixed by the schedule (attempts take at
most 10 s each, so the last one still starts within 24 h), and a delivery whose workers were all
down for a while resumes with its remaining attempts instead of giving up unseen. Being a
workflow, a delivery outlives API and worker restarts. The workflow id is derived from (webhook,
event) and duplicates are rejected even after the run closed, so publishing an event twice
delivers it once. A webhook deleted meanwhile ends the delivery at its next attempt.

With the production schedule a receiver that never answers 2xx gets 29 attempts: at 0, 1, 6, 36,
156 and 756 s, then hourly up to 23.2 h.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy

with workflow.unsafe.imports_passed_through():
    from temporalio.client import Client
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from activities.webhooks import EventMessage, WebhookActivities
    from contracts.payloads import DeliveryAttempt, DeliveryInput, DeliveryResult

# Infrastructure faults of an attempt (the database, a lost worker) are retried by Temporal; the
# receiver's own failures are answers, handled by the schedule below.
ATTEMPT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                            maximum_attempts=20)


def delivery_workflow_id(webhook_id: str, event_id: str) -> str:
    return f"webhook/{webhook_id}/{event_id}"


def next_delay(delays: list[float], failed_attempts: int) -> float:
    """Seconds to wait after the ``failed_attempts``-th failure; the last delay repeats."""
    return delays[min(failed_attempts, len(delays)) - 1]


def attempt_offsets(delays: list[float], give_up_after: float) -> list[float]:
    """When each attempt is due, in seconds after the first, by the schedule alone."""
    offsets = [0.0]
    while offsets[-1] + next_delay(delays, len(offsets)) <= give_up_after:
        offsets.append(offsets[-1] + next_delay(delays, len(offsets)))
    return offsets


@workflow.defn
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, inp: DeliveryInput) -> DeliveryResult:
        due = 0.0  # when the current attempt was due by the schedule, in seconds after the first
        attempt = 0
        while True:
            attempt += 1
            workflow.set_current_details(f"{inp.event} → {inp.webhook_id} · attempt {attempt}")
            outcome = await workflow.execute_activity_method(
                WebhookActivities.deliver,
                DeliveryAttempt(inp.webhook_id, inp.event_id, inp.event, inp.body, attempt, inp.attempt_timeout_s),
                start_to_close_timeout=timedelta(seconds=inp.attempt_timeout_s + 30),
                retry_policy=ATTEMPT_RETRY,
                summary=f"attempt {attempt}",
            )
            if outcome.delivered:
                return DeliveryResult(inp.webhook_id, inp.event_id, "delivered", attempt)
            if outcome.webhook_gone:
                return DeliveryResult(inp.webhook_id, inp.event_id, "webhook_deleted", attempt)
            delay = next_delay(inp.retry_delays_s, attempt)
            if due + delay > inp.give_up_after_s:
                return DeliveryResult(inp.webhook_id, inp.event_id, "gave_up", attempt)
            due += delay
            await workflow.sleep(timedelta(seconds=delay))


async def start_deliveries(client: Client, task_queue: str, retry_delays_s: list[float], give_up_after_s: float,
                           rpc_timeout: timedelta, webhook_ids: list[str], event: EventMessage) -> None:
    """Starts the delivery of ``event`` to each webhook; one already started (or finished) is left alone."""
    body = event.body()
    for webhook_id in webhook_ids:
        try:
            await client.start_workflow(
                WebhookDeliveryWorkflow.run,
                DeliveryInput(webhook_id, event.event_id, str(event.type), body, list(retry_delays_s), give_up_after_s),
                id=delivery_workflow_id(webhook_id, event.event_id),
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                rpc_timeout=rpc_timeout,
            )
        except WorkflowAlreadyStartedError:
            pass
