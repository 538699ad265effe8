"""Helpers shared by the operation tests: small real training sets, model setup through the API,
polling until a state is reached, and out-of-process workers / Temporal servers for fault tests."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from cli.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]

_WARM = ["Thanks so much for reaching out", "I'm really glad you asked", "Happy to help with this",
         "What a lovely question", "I completely understand how frustrating that is", "Thank you for your patience"]
_COLD = ["Read the manual", "Your request is noted", "That is not our problem", "Ticket closed",
         "We do not handle that", "Submit the form again"]
_CLEAR = ["Click Settings, then Billing, then Download invoice", "Restart the router and wait thirty seconds",
          "Your refund of 20 euros will arrive on Friday", "Open the app and tap Reset password",
          "Update to version 4.2 to fix the crash", "Send the receipt to billing@example.com"]
_VAGUE = ["It might work at some point maybe", "Things could possibly be different somehow",
          "There may be some options somewhere", "Perhaps someone will look into stuff",
          "It depends on various factors in general", "Something should happen eventually I guess"]
_TAILS = ["", " today.", " for your order.", " regarding the account.", " about the delivery.", " this week.",
          " on the new plan.", " with the subscription.", " for the team.", " and the invoice."]


def _texts(heads: list[str], count: int, salt: str) -> list[str]:
    pairs = itertools.islice(itertools.cycle(itertools.product(_TAILS, heads)), count)
    return [f"{head}{tail} ({salt}{n})" if n >= len(heads) * len(_TAILS) else f"{head}{tail}"
            for n, (tail, head) in enumerate(pairs)]


def training_samples(per_pole: int, salt: str = "") -> list[dict]:
    """Two traits (warmth, clarity), `per_pole` positives and negatives each. A `salt` makes every
    text new, so nothing comes from the embedding cache and the fit really embeds."""
    samples = []
    suffix = f" [{salt}]" if salt else ""
    for trait, good, bad in (("warmth", _WARM, _COLD), ("clarity", _CLEAR, _VAGUE)):
        samples += [{"trait": trait, "text": t + suffix, "quality": 1.0} for t in _texts(good, per_pole, "p")]
        samples += [{"trait": trait, "text": t + suffix, "quality": 0.0} for t in _texts(bad, per_pole, "n")]
    return samples


async def make_model(http: httpx.AsyncClient, headers: dict, handle: str, *, per_pole: int = 6,
                     traits: bool = True, salt: str = "", **fields) -> None:
    response = await http.post("/v1/models", json={"handle": handle, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    if not traits:
        return
    response = await http.post(f"/v1/models/{handle}/traits", headers=headers, json={"traits": [
        {"key": "warmth", "name": "Warmth", "positive_label": "warm", "negative_label": "cold"},
        {"key": "clarity", "name": "Clarity", "positive_label": "clear", "negative_label": "vague"},
    ]})
    assert response.status_code == 200, response.text
    if per_pole:
        samples = training_samples(per_pole, salt)
        for start in range(0, len(samples), 500):
            response = await http.post(f"/v1/models/{handle}/samples", headers=headers,
                                       json={"samples": samples[start:start + 500]})
            assert response.status_code == 200, response.text


async def wait_for_state(http: httpx.AsyncClient, headers: dict, handle: str, states: set[str],
                         *, limit: float = 180.0, seen: list | None = None) -> dict:
    """Polls GET model until its state is in `states`; `seen` collects every body observed."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        response = await http.get(f"/v1/models/{handle}", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        if seen is not None:
            seen.append(body)
        if body["state"] in states:
            return body
        assert asyncio.get_running_loop().time() < deadline, f"still {body['state']}: {body['last_operation']}"
        await asyncio.sleep(0.1)


async def wait_for_operation(http: httpx.AsyncClient, headers: dict, handle: str, predicate, *,
                             limit: float = 180.0) -> dict:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        body = (await http.get(f"/v1/models/{handle}", headers=headers)).json()
        if predicate(body):
            return body
        assert asyncio.get_running_loop().time() < deadline, f"gave up waiting: {body}"
        await asyncio.sleep(0.1)



def worker_process(settings, task_queue: str, temporal_address: str | None = None,
                   extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m worker` as a real process on its own task queue (``extra_env``: more ASSAY_* values)."""
    env = {**os.environ,
           "ASSAY_ENVIRONMENT": "test",
           "ASSAY_DATABASE_URL": settings.resolved_database_url,
           "ASSAY_TEMPORAL_ADDRESS": temporal_address or settings.temporal_address,
           "ASSAY_TASK_QUEUE": task_queue,
           "ASSAY_EMBEDDER": settings.embedder,
           "ASSAY_WORKER_CONCURRENCY": "2",
           **(extra_env or {})}
    return subprocess.Popen([sys.executable, "-m", "worker"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, wait: float = 30.0) -> int | None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(wait)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(10)
    return process.returncode


@asynccontextmanager
async def app_client(settings, temporal_client=None):
    """An app (and HTTP client) of its own, e.g. bound to another task queue or Temporal server."""
    from api.app import create_app

    application = create_app(settings, temporal_client=temporal_client)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://assay.test", timeout=60) as client:
            yield application, client


class DevServer:
    """A Temporal dev server of a test's own, persisted to a SQLite file so it can be restarted."""

    def __init__(self, db_file: Path) -> None:
        self.db_file = db_file
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from settings import temporal_cli_path

        self.process = subprocess.Popen(
            [temporal_cli_path(), "server", "start-dev", "--db-filename", str(self.db_file), "--ip", "127.0.0.1",
             "--port", str(self.port), "--headless", "--log-level", "error",
             "--search-attribute", "ModelHandle=Keyword", "--search-attribute", "OperationKind=Keyword"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, signal.SIGTERM)
            self.process = None

    async def connect(self, limit: float = 60.0):
        from temporalio.client import Client

        deadline = asyncio.get_running_loop().time() + limit
        while True:
            try:
                return await Client.connect(self.address)
            except Exception:
                assert asyncio.get_running_loop().time() < deadline, "dev server did not come up"
                await asyncio.sleep(0.3)


# Recorded histories of every workflow path, one folder per generation (see histories/README.md).
HISTORIES = REPO_ROOT / "tests" / "workflows" / "histories"


def workflow_type(history) -> str:
    """The workflow type name a recorded `WorkflowHistory` belongs to."""
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name
