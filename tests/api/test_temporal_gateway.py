"""The API's Temporal gateway: health tolerates one slow answer, not an outage.

The service client here is a stand-in at the network boundary: it answers like a Temporal server
that misses one RPC deadline (busy) or every one (gone)."""

from __future__ import annotations

from types import SimpleNamespace

from temporalio.service import RPCError, RPCStatusCode

from api.temporal import HEALTH_ATTEMPTS, TemporalGateway


class ServiceAnswering:
    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def check_health(self, timeout=None) -> bool:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def gateway(service: ServiceAnswering) -> TemporalGateway:
    return TemporalGateway("127.0.0.1:7233", "default", "assay", 2.0,
                           client=SimpleNamespace(service_client=service))


def deadline() -> RPCError:
    return RPCError("deadline exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b"")


async def test_one_missed_deadline_is_not_an_outage():
    service = ServiceAnswering(deadline(), True)
    probe = gateway(service)
    assert await probe.healthy()
    assert service.calls == 2 and not probe.recently_unreachable


async def test_a_server_that_never_answers_is_unhealthy():
    service = ServiceAnswering(*[deadline()] * HEALTH_ATTEMPTS)
    probe = gateway(service)
    assert not await probe.healthy()
    assert service.calls == HEALTH_ATTEMPTS and probe.recently_unreachable
