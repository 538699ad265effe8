"""The open-loop load generator counts queueing time, so a slow server cannot hide behind it."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.open_loop import arrival_offsets, open_loop

SERVICE_SECONDS = 0.05


class SlowScorer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(SERVICE_SECONDS)
        status = 200 if self.path == "/ok" else 503
        body = json.dumps({"ok": status == 200}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowScorer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_arrivals_are_a_seeded_poisson_process():
    offsets = arrival_offsets(200, 20, seed=3)
    assert offsets == arrival_offsets(200, 20, seed=3)
    assert 3800 < len(offsets) < 4200  # 4,000 expected
    assert offsets == sorted(offsets) and offsets[-1] < 20


async def test_light_load_sees_the_service_time(slow_server):
    summary = await open_loop(f"{slow_server}/ok", {}, {"content": "x"}, rate=10, seconds=2, connections=4)
    assert summary["errors"] == 0 and summary["requests"] > 5
    assert 45 <= summary["service_p50_ms"] <= 150
    assert summary["p50_ms"] < 150


async def test_an_overloaded_connection_pool_shows_queueing_in_latency(slow_server):
    # One connection serving 50 ms requests can answer 20/s; offered 40/s the backlog grows, and the
    # latency from each request's scheduled time shows it while the service time does not.
    summary = await open_loop(f"{slow_server}/ok", {}, {"content": "x"}, rate=40, seconds=2, connections=1)
    assert summary["service_p50_ms"] < 150
    assert summary["p99_ms"] > 500


async def test_non_200_answers_are_counted_as_errors(slow_server):
    summary = await open_loop(f"{slow_server}/busy", {}, {}, rate=20, seconds=0.5, connections=2)
    assert summary["errors"] == summary["requests"] > 0
    assert summary["error_statuses"] == {"503": summary["requests"]}
