"""What every `assay` command shares: which data dir and which database it works on."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from settings import Settings
from store.db import is_sqlite, make_async_engine, make_sessionmaker

DEFAULT_DATA_DIR = ".assay"
T = TypeVar("T")


class CliError(Exception):
    """A failure the user can act on: printed without a traceback, exit status `exit_code`."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def default_data_dir() -> str:
    return os.environ.get("ASSAY_DATA_DIR") or DEFAULT_DATA_DIR


def load_settings(data_dir: str | Path) -> Settings:
    """Settings from ASSAY_* variables, with the data dir from the command line.

    ASSAY_DATABASE_URL still wins over the SQLite file in the data dir, so `assay keys` can reach
    a PostgreSQL deployment too."""
    try:
        return Settings(data_dir=Path(data_dir).expanduser().resolve())
    except ValidationError as exc:
        problems = "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
        raise CliError(f"invalid configuration: {problems}") from None


def display_url(url: str) -> str:
    """The database URL with any password masked, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def run_with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Runs `work` in one session that is committed when it returns normally."""

    async def _run() -> T:
        engine = make_async_engine(settings.resolved_database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(_run())


def ensure_schema(settings: Settings) -> None:
    """Brings the database to the newest schema (a no-op when it already is)."""
    from store.migrate import upgrade

    if is_sqlite(settings.resolved_database_url):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)


def note(message: str) -> None:
    """Human-facing remarks go to stderr so stdout stays scriptable."""
    print(message, file=sys.stderr, flush=True)
