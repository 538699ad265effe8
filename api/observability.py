"""Operational signals: Prometheus metrics and structured JSON logs.

Request bodies are never logged (content may fall under zero-data retention); a log line carries
the request id, the route template, the status and the model handle when the path has one.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess
from pythonjsonlogger.json import JsonFormatter

REQUESTS = Counter("assay_http_requests_total", "HTTP requests served", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "assay_http_request_duration_seconds",
    "Time to serve an HTTP request",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12),
)
SCORING_SECONDS = Histogram(
    "assay_scoring_duration_seconds",
    "Time to build one score card (embedding included)",
    buckets=(0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024),
)
# Filled from the database at scrape time, so every API process reports the same truth.
OPERATIONS = Gauge(
    "assay_operations", "Operations recorded, by kind and status", ["kind", "status"], multiprocess_mode="max"
)

# Per process, summed over live API processes: what the decoded-version caches hold.
SCORER_CACHE_BYTES = Gauge("assay_scorer_cache_bytes", "Bytes of decoded versions cached for scoring",
                           multiprocess_mode="livesum")
SCORER_CACHE_VERSIONS = Gauge("assay_scorer_cache_versions", "Decoded versions cached for scoring",
                              multiprocess_mode="livesum")

access_log = logging.getLogger("assay.access")


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for every assay.* logger (idempotent)."""
    root = logging.getLogger("assay")
    if any(getattr(h, "_assay_json", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", timestamp=False))
    handler._assay_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts and times requests by route template (never by raw path: bounded label values)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            REQUESTS.labels(method, route, str(status)).inc()
            REQUEST_SECONDS.labels(method, route).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                handle = (scope.get("path_params") or {}).get("handle")
                access_log.info(
                    "request",
                    extra={
                        "request_id": scope.get("state", {}).get("request_id"),
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "handle": handle,
                    },
                )
