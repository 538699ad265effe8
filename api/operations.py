"""The `last_operation` view of a model (SPEC §1.5).

Minimal form: reads the stored operation row. The operations work makes it live (workflow
describe + progress query with a short timeout, reconciliation of runs closed from outside).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.temporal import TemporalGateway
from store.tables import Model, Operation


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def operation_view(op: Operation) -> dict:
    view = {
        "kind": op.kind,
        "status": op.status,
        "started_at": _iso(op.started_at),
        "run_id": op.run_id,
    }
    if op.progress is not None:
        view["progress"] = op.progress
    if op.error is not None:
        view["error"] = op.error
    if op.finished_at is not None:
        view["finished_at"] = _iso(op.finished_at)
    return view


async def last_operation(session: AsyncSession, temporal: TemporalGateway | None, model: Model) -> dict | None:
    if model.last_operation_id is None:
        return None
    op = await session.get(Operation, model.last_operation_id)
    return operation_view(op) if op is not None else None
