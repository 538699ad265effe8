"""A synchronous session on the test database, as the activities use the store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from store.db import make_sync_engine


@pytest.fixture
def session(database_url) -> Iterator[Session]:
    engine = make_sync_engine(database_url)
    with Session(engine) as session, session.begin():
        yield session
    engine.dispose()
