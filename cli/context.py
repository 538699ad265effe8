"""What every `assay` command shares: which data dir and which database it works on."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from dotenv import dotenv_values
from pydantic import ValidationError
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from cli.stack import DEFAULT_DATA_DIR, nearest_running_stack
from settings import Settings
from store.db import is_sqlite, make_async_engine, make_sessionmaker, make_sync_engine

T = TypeVar("T")


class CliError(Exception):
    """A failure the user can act on: printed without a traceback, exit status `exit_code`."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def default_data_dir() -> str:
    """The data dir when `--data-dir` is not given: ASSAY_DATA_DIR (environment, then `.env`), else
    the `.assay` of a stack running here or in a directory above, else `.assay` here.

    Read without building the settings: a command must find its data dir even when another
    setting is invalid (the error then names that setting)."""
    configured = os.environ.get("ASSAY_DATA_DIR") or dotenv_values(".env").get("ASSAY_DATA_DIR")
    if configured:
        return configured
    running = nearest_running_stack(Path.cwd())
    return str(running) if running is not None else DEFAULT_DATA_DIR


def load_settings(data_dir: str | Path) -> Settings:
    """Settings from ASSAY_* variables, with the data dir from the command line.

    ASSAY_DATABASE_URL still wins over the SQLite file in the data dir, so `assay keys` can reach
    a PostgreSQL deployment too."""
    try:
        return Settings(data_dir=Path(data_dir).expanduser().resolve())
    except ValidationError as exc:
        problems = "; ".join(
            (f"ASSAY_{str(error['loc'][0]).upper()}: " if error["loc"] else "") + error["msg"].removeprefix("Value error, ")
            for error in exc.errors())
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


def database_exists(settings: Settings) -> bool:
    """True when the configured database already holds Assay's schema (a SQLite file is not created)."""
    url = settings.resolved_database_url
    if is_sqlite(url):
        path = make_url(url).database
        if not path or not Path(path).is_file():
            return False
    engine = make_sync_engine(url)
    try:
        with engine.connect() as connection:
            return inspect(connection).has_table("alembic_version")
    finally:
        engine.dispose()


def ensure_schema(settings: Settings) -> None:
    """Brings the database to the newest schema (a no-op when it already is)."""
    from store.migrate import upgrade

    if is_sqlite(settings.resolved_database_url):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)


def assay_command() -> str:
    """This `assay` as the user's shell can run it: the installed script, relative to the current
    directory when it lies below it (`.venv/bin/assay`), else absolute; plain `assay` if not found."""
    script = Path(sys.executable).parent / "assay"
    if not script.is_file():
        return "assay"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def note(message: str) -> None:
    """Human-facing remarks go to stderr so stdout stays scriptable."""
    print(message, file=sys.stderr, flush=True)
