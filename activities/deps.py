"""What every activity class holds: settings, a sync SQLAlchemy engine and a CPU thread pool."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterator

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from settings import Settings
from store.db import make_sync_engine


@dataclass
class ActivityDeps:
    settings: Settings
    engine: Engine
    # Fitting, discovery and synthesis run here so the worker's event loop keeps heartbeating.
    cpu_executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, "assay-cpu"))
    # Set by the worker: workflows.webhooks.start_deliveries bound to the worker's Temporal client,
    # run on the worker's event loop where that client lives (see activities.webhooks.publish).
    start_deliveries: Callable[..., Awaitable[Any]] | None = None
    worker_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "ActivityDeps":
        return cls(settings, make_sync_engine(settings.resolved_database_url),
                   ThreadPoolExecutor(max(1, settings.worker_concurrency), "assay-cpu"))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        self.cpu_executor.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()
