"""Liveness: is the database reachable, is Temporal reachable."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SessionDep, TemporalDep
from api.errors import ApiError
from store.db import ping

router = APIRouter(tags=["health"])


@router.get("/health", summary="Check that the service and its dependencies are reachable")
async def health(session: SessionDep, temporal: TemporalDep) -> dict:
    checks = {"database": "ok", "temporal": "ok"}
    try:
        await ping(session)
    except Exception:
        checks["database"] = "unreachable"
    if not await temporal.healthy():
        checks["temporal"] = "unreachable"
    if any(value != "ok" for value in checks.values()):
        down = ", ".join(name for name, value in checks.items() if value != "ok")
        raise ApiError(503, "unavailable", f"Not healthy: {down} unreachable.", {"checks": checks})
    return {"status": "ok", "checks": checks}
