"""Readiness checks used by `assay up`: free ports, Temporal health, worker polling, API health."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

PROBE_TIMEOUT = 3.0


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on (host, port) or we may not bind it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Same option servers use, so a port in TIME_WAIT after our own last run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def temporal_healthy(address: str, namespace: str) -> bool:
    async def _check() -> bool:
        client = await Client.connect(address, namespace=namespace)
        return await client.service_client.check_health(timeout=_seconds())

    return _run_bounded(_check())


def polling_pids(address: str, namespace: str, task_queue: str) -> set[int]:
    """Pids of processes polling the task queue, read from the default worker identity `pid@host`."""

    async def _pollers() -> set[int]:
        client = await Client.connect(address, namespace=namespace)
        pids: set[int] = set()
        for queue_type in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=queue_type
                ),
                timeout=_seconds(),
            )
            for poller in response.pollers:
                head = poller.identity.split("@", 1)[0]
                if head.isdigit():
                    pids.add(int(head))
        return pids

    return _run_bounded(_pollers()) or set()


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=PROBE_TIMEOUT).status_code == 200
    except httpx.HTTPError:
        return False


def _seconds() -> timedelta:
    return timedelta(seconds=PROBE_TIMEOUT)


def _run_bounded(coro):
    """Runs one probe to completion within PROBE_TIMEOUT; any failure reads as 'not ready'."""

    async def _bounded():
        return await asyncio.wait_for(coro, timeout=PROBE_TIMEOUT)

    try:
        return asyncio.run(_bounded())
    except Exception:
        return False
