"""Database engines and sessions. SQLite (WAL) by default, PostgreSQL when configured."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_MS = 30_000
INSERT_BATCH = 1000  # rows per INSERT when a stream of rows is written (job items, evaluation labels)


def insert_batched(session, table, rows: Iterable[dict], batch: int = INSERT_BATCH) -> int:
    """Inserts a stream of rows ``batch`` at a time (never all of them in memory); returns how many."""
    total, pending = 0, []
    for row in rows:
        pending.append(row)
        total += 1
        if len(pending) >= batch:
            session.execute(insert(table), pending)
            pending = []
    if pending:
        session.execute(insert(table), pending)
    return total


def _driver_url(url: str, *, asynchronous: bool) -> str:
    """Maps a plain URL (sqlite:///…, postgresql://…) to the driver we ship."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        driver = "aiosqlite" if asynchronous else "pysqlite"
    elif backend == "postgresql":
        driver = "psycopg"
    else:
        raise ValueError(f"unsupported database back end: {backend}")
    return parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_async_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(
            _driver_url(url, asynchronous=True),
            connect_args={"timeout": SQLITE_BUSY_MS / 1000},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        _driver_url(url, asynchronous=True), pool_pre_ping=True, pool_size=10, max_overflow=20
    )


def make_sync_engine(url: str) -> Engine:
    engine = create_engine(_driver_url(url, asynchronous=False))
    if is_sqlite(url):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def upsert_insert(session):
    """The ``insert`` of the session's dialect, which has ``on_conflict_do_*``.

    Creates that two requests may make at once (a tag, a namespace) are one statement with ON
    CONFLICT rather than read-then-insert, which lets the second insert break the unique key.
    """
    return postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def ping(session: AsyncSession) -> None:
    """Raises if the database cannot answer a trivial query."""
    await session.execute(text("SELECT 1"))
