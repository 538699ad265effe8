"""The app factory: settings, database, Temporal gateway, error envelope and routers."""

from __future__ import annotations

import gc
import hmac
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from temporalio.client import Client

from api.docs import mount_docs
from api import lookup_cache
from api.errors import API_ERRORS, HEALTH_ERRORS, ApiError, install_error_handlers
from api.extractor import close_extractor_pool
from api.mcp import mount_mcp
from api.middleware import RequestContextMiddleware, UnicodeBodyGuard
from api.observability import OPERATIONS, MetricsMiddleware, configure_logging, render_metrics
from api.ratelimit import KeyRateLimiter
from api.routers import ROUTERS, health
from api.scoring_service import configure_embedding_slots, configure_inline_scoring, scorer_cache
from api.temporal import TemporalGateway
from engine.heap import release_large_allocations
from settings import Settings, get_settings
from store.db import make_async_engine, make_sessionmaker
from store.runs import run_counts

API_DESCRIPTION = """\
Assay scores text against trait models that you define from labelled examples.
Scores are deterministic: the same text and the same model version always give the same card.
Authenticate with `Authorization: Bearer <key>`.
"""


def create_app(settings: Settings | None = None, *, temporal_client: Client | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()
    release_large_allocations()  # long texts' embeddings must not ratchet an API process's memory up
    scorer_cache().configure(max_bytes=settings.scorer_cache_mb * 1024 * 1024)
    lookup_cache.configure(settings.lookup_cache_seconds)
    configure_embedding_slots(settings.embedding_slots)
    configure_inline_scoring(settings.inline_score_chars)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_async_engine(settings.resolved_database_url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.temporal = TemporalGateway(
            settings.temporal_address,
            settings.temporal_namespace,
            settings.task_queue,
            settings.temporal_rpc_timeout,
            client=temporal_client,
            webhook_retry_delays=settings.webhook_retry_delay_list,
            webhook_give_up_after=settings.webhook_give_up_after,
        )
        app.state.rate_limiter = (
            KeyRateLimiter(settings.rate_limit, settings.redis_url) if settings.rate_limit else None
        )
        # A full (generation 2) collection walks every tracked object, and the loaded modules alone
        # are ~200k of them: ~100 ms with the GIL held, a pause for every request of the process.
        # Freezing what startup leaves alive keeps those out of every later collection.
        gc.collect()
        gc.freeze()
        try:
            async with app.state.mcp.running():
                yield
        finally:
            await close_extractor_pool()
            await engine.dispose()

    app = FastAPI(
        title="Assay",
        version="1.0.0",
        description=API_DESCRIPTION,
        openapi_url="/v1/openapi.json",
        docs_url=None,  # served below from packaged assets instead of a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    for router in ROUTERS:
        # Every error answer is documented with the envelope, so the schema matches what is sent.
        app.include_router(router, prefix="/v1", responses=HEALTH_ERRORS if router is health.router else API_ERRORS)
    app.state.mcp = mount_mcp(app)
    mount_docs(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if settings.metrics_token:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                     settings.metrics_token.encode()):
                raise ApiError(401, "unauthorized", "Metrics need 'Authorization: Bearer <ASSAY_METRICS_TOKEN>'.")
        async with app.state.sessionmaker() as session:
            rows = await session.run_sync(run_counts)
        for kind, status, count in rows:
            OPERATIONS.labels(kind, status).set(count)
        body, content_type = render_metrics()
        return Response(body, media_type=content_type)

    # Outermost last: request ids exist before metrics and logs read them.
    app.add_middleware(UnicodeBodyGuard)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes,
                       upload_body_bytes=settings.job_max_bytes)
    return app
