"""Request dependencies: settings, database sessions, the Temporal gateway and the caller's key."""

from __future__ import annotations

from typing import Annotated, AsyncIterator

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal, principal_from_request
from api.temporal import TemporalGateway
from settings import Settings


# Every dependency is async: a plain `def` would cost a thread-pool hop on each request.
async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def open_session(request: Request) -> AsyncSession:
    """The request's database session, to be used as ``async with`` (closed when the block ends)."""
    return request.app.state.sessionmaker()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with open_session(request) as session:
        yield session


async def get_temporal(request: Request) -> TemporalGateway:
    return request.app.state.temporal


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TemporalDep = Annotated[TemporalGateway, Depends(get_temporal)]


async def get_principal(request: Request, session: SessionDep) -> Principal:
    """The caller's key, checked on the request's own session (no second connection)."""
    principal = await principal_from_request(request, session)
    # End the read transaction: on SQLite a handler that later writes must not start from an old
    # read snapshot (that fails at once with "database is locked" instead of waiting its turn).
    # A key found in the lookup cache opened none, and the rollback would only cost a thread hop.
    if session.in_transaction():
        await session.rollback()
    return principal


KeyDep = Annotated[Principal, Depends(get_principal)]
