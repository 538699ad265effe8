"""The app factory: settings, database, Temporal gateway, error envelope and routers."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api.errors import install_error_handlers
from api.middleware import RequestContextMiddleware
from api.routers import ROUTERS
from api.temporal import TemporalGateway
from settings import Settings, get_settings
from store.db import make_async_engine, make_sessionmaker

API_DESCRIPTION = """\
Assay scores text against trait models that you define from labelled examples.
Scores are deterministic: the same text and the same model version always give the same card.
Authenticate with `Authorization: Bearer <key>`.
"""


def create_app(settings: Settings | None = None, *, temporal_client: Client | None = None) -> FastAPI:
    settings = settings or get_settings()

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
        )
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Assay",
        version="1.0.0",
        description=API_DESCRIPTION,
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix="/v1")
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
