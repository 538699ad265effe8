"""A webhook receiver on 127.0.0.1 for the webhook tests: it checks every delivery with the
independent `standardwebhooks` package and answers each path from a script of status codes."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from dataclasses import dataclass

from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Delivery:
    path: str
    webhook_id: str
    verified: bool
    payload: dict | None
    answered: int
    at: float  # time.monotonic() when it arrived


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server API)
        receiver: WebhookReceiver = self.server.receiver  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        status = receiver.record(self.path, headers, body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class WebhookReceiver:
    def __init__(self) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.receiver = self  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        self.secrets: dict[str, str] = {}
        self.scripts: dict[str, list[int]] = {}  # status per attempt; the last one repeats
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def allow_entry(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def record(self, path: str, headers: dict, body: bytes) -> int:
        payload, verified = None, False
        secret = self.secrets.get(path)
        if secret is not None:
            try:
                payload = StandardWebhook(secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                pass
        with self._lock:
            seen = sum(1 for d in self.deliveries if d.path == path)
            script = self.scripts.get(path, [200])
            status = script[min(seen, len(script) - 1)]
            self.deliveries.append(Delivery(path, headers.get("webhook-id", ""), verified,
                                            payload if verified else json.loads(body or b"null"), status,
                                            time.monotonic()))
        return status

    def at(self, path: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.path == path]

    async def wait_for(self, path: str, count: int, limit: float = 120.0) -> list[Delivery]:
        deadline = asyncio.get_running_loop().time() + limit
        while len(found := self.at(path)) < count:
            assert asyncio.get_running_loop().time() < deadline, f"{len(found)} of {count} deliveries to {path}"
            await asyncio.sleep(0.05)
        return found

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
