"""Zero-data retention switched on while a feedback request is still fetching its content (issue 19.1).

The score request's page is held open by a local server until the test has switched ZDR on, so the
interleaving "feedback checked → ZDR on → feedback written" happens every time, not by luck.
Afterwards no sample and no log line may hold the content.
"""

from __future__ import annotations

import asyncio
import http.server
import logging
import threading
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from store.tables import Model, Sample
from tests.api.test_models import assert_error
from tests.lifespan import serving

REPETITIONS = 20


class GatedSite:
    """Serves ``/page/<token>`` only after the test releases that token; records each arrival."""

    def __init__(self) -> None:
        self.arrived: dict[str, threading.Event] = {}
        self.release: dict[str, threading.Event] = {}
        self.bodies: dict[str, bytes] = {}
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server API)
                token = self.path.rsplit("/", 1)[-1]
                site.arrived[token].set()
                site.release[token].wait(60)
                body = site.bodies[token]
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def page(self, text: str) -> tuple[str, str]:
        token = uuid.uuid4().hex
        self.arrived[token], self.release[token] = threading.Event(), threading.Event()
        self.bodies[token] = text.encode()
        return token, f"http://127.0.0.1:{self.port}/page/{token}"


@pytest.fixture(scope="module")
def gated_site():
    site = GatedSite()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    yield site
    for event in site.release.values():
        event.set()
    site.server.shutdown()
    site.server.server_close()


@pytest.fixture(scope="module")
async def gated_http(settings, temporal_env, gated_site):
    from api.app import create_app

    allowed = settings.model_copy(update={"fetch_allow": f"127.0.0.1:{gated_site.port}"})
    application = create_app(allowed, temporal_client=temporal_env.client)
    async with serving(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://assay.test", timeout=60) as client:
            yield client


async def _samples_holding(sessionmaker_, handle: str, secret: str) -> int:
    async with sessionmaker_() as session:
        model = await session.scalar(select(Model).where(Model.handle == handle))
        return await session.scalar(select(func.count()).select_from(Sample).where(
            Sample.model_id == model.id, Sample.text.contains(secret)))


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + repr(record.__dict__))


@pytest.fixture
def every_log_line(caplog):
    """Assay's own loggers at DEBUG (they do not propagate), everything else at the INFO it runs at."""
    caplog.set_level(logging.INFO)
    captured = Captured()
    assay = logging.getLogger("assay")
    level = assay.level
    assay.addHandler(captured)
    assay.setLevel(logging.DEBUG)
    yield lambda: captured.lines + [record.getMessage() + repr(record.__dict__) for record in caplog.records]
    assay.removeHandler(captured)
    assay.setLevel(level)


async def test_zdr_switched_on_during_a_slow_feedback_fetch_keeps_nothing(
        gated_http, gated_site, make_world, sessionmaker_, every_log_line):
    secrets = []
    for _ in range(REPETITIONS):
        world = await make_world()
        secret = f"private-reply-{uuid.uuid4().hex}"
        secrets.append(secret)
        token, url = gated_site.page(f"Thanks for waiting, {secret}. Your refund went out today.")
        scoring = asyncio.create_task(gated_http.post(
            f"/v1/models/{world.ready}/score", json={"content": url, "feedback": {"warmth": 1}},
            headers=world.owner["headers"]))
        arrived = await asyncio.to_thread(gated_site.arrived[token].wait, 60)
        assert arrived, "the score request never fetched its page"

        switched = await gated_http.patch(f"/v1/models/{world.ready}", json={"zero_data_retention": True},
                                          headers=world.owner["headers"])
        assert switched.status_code == 200, switched.text
        gated_site.release[token].set()
        scored = await scoring

        assert_error(scored, 409, "feature_unavailable")
        assert await _samples_holding(sessionmaker_, world.ready, secret) == 0
        listed = await gated_http.get(f"/v1/models/{world.ready}/samples", params={"limit": 500},
                                      headers=world.owner["headers"])
        assert listed.status_code == 200 and listed.json()["items"] == []

    logged = "\n".join(every_log_line())
    assert "assay.access" in logged  # the capture sees the request log lines
    assert not [secret for secret in secrets if secret in logged]


async def test_feedback_written_before_zdr_is_switched_on_is_purged_by_the_switch(
        gated_http, make_world, sessionmaker_):
    """The other order: feedback commits first, then ZDR on removes it."""
    world = await make_world()
    secret = f"private-reply-{uuid.uuid4().hex}"
    scored = await gated_http.post(f"/v1/models/{world.ready}/score",
                                   json={"content": f"Warm thanks, {secret}!", "feedback": {"warmth": 1}},
                                   headers=world.owner["headers"])
    assert scored.status_code == 200, scored.text
    assert await _samples_holding(sessionmaker_, world.ready, secret) == 1
    switched = await gated_http.patch(f"/v1/models/{world.ready}", json={"zero_data_retention": True},
                                      headers=world.owner["headers"])
    assert switched.status_code == 200, switched.text
    assert await _samples_holding(sessionmaker_, world.ready, secret) == 0
