"""The model/run state machine: every transition of a model's state and of a run's status, one
function per transition. Nothing else in the project writes ``models.state`` or
``operations.status``. Sync functions over a ``Session``; the API calls them through
``AsyncSession.run_sync``, the activities directly.

    draft, failed ──claim (train)──────────────▶ busy      run queued
    ready ─────────claim (retune, retrain)─────▶ busy      run queued
    draft ─────────claim (discover, synthesize)▶ busy      run queued
    busy ──────────undo_claim──────────────────▶ the state before the claim (run forgotten)
                   mark_running                            run queued → running
    busy ──────────finish_ready (publish)──────▶ ready     run succeeded
    busy ──────────finish_draft────────────────▶ draft     run succeeded
    busy ──────────fail_run────────────────────▶ draft (discover, synthesize), else ready if it
                                                           has a version, else failed;
                                                           run failed or cancelled
    draft, ready, failed ──archive─────────────▶ archived  (terminal)

Every transition is one conditional UPDATE: the row is the lock, so of two racing writers (two
start requests, a worker finishing a run and the API reconciling it) exactly one wins. A run only
moves its model out of ``busy`` while the model is busy *for that run* (``last_operation_id``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from contracts.states import (
    ARCHIVABLE_STATES,
    DRAFT_KINDS,
    OPEN_STATUSES,
    REUSABLE_STATUSES,
    TRAINING_KINDS,
    ModelState,
    OperationKind,
    RunStatus,
)
from store.tables import Model, Operation, Sample, Version, utcnow

QUEUED_PROGRESS = {"phase": "queued", "done": 0, "total": 0, "fraction": 0.0, "message": "waiting for a worker"}
MISSING = "missing"  # the state reported for a model that does not exist
FROM_STATE = "from_state"  # key in ``operations.params``: the state the run claimed the model from


class ClaimRefused(Exception):
    """The model is not in a state the run may start from; ``state`` is the state it is in."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


def model_state(session: Session, model_id: int) -> str:
    return session.scalar(select(Model.state).where(Model.id == model_id)) or MISSING


# ---------------------------------------------------------------- claim and start


def claim(session: Session, model_id: int, from_states: Iterable[ModelState], run_id: str, kind: OperationKind,
          fingerprint: str | None, params: dict) -> Operation:
    """→ busy, with a queued run; raises ClaimRefused (with the current state) if another request won.

    Claimed from exactly one state, the run records it (``params["from_state"]``): a cancelled run
    gives the model back in that state. The API claims from the one state it read.

    The conditional UPDATE is the first write of the transaction: on SQLite it takes the write lock
    (waiting for a racing writer), on PostgreSQL it locks the row and re-checks the state.
    """
    from_states = list(from_states)
    claimed = session.execute(
        update(Model)
        .where(Model.id == model_id, Model.state.in_(from_states))
        .values(state=ModelState.BUSY, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise ClaimRefused(model_state(session, model_id))
    if len(from_states) == 1:  # the state a cancelled run gives back (see fail_run)
        params = {**params, FROM_STATE: str(from_states[0])}
    op = Operation(run_id=run_id, model_id=model_id, kind=kind, status=RunStatus.QUEUED, fingerprint=fingerprint,
                   params=params, progress=dict(QUEUED_PROGRESS), started_at=utcnow())
    session.add(op)
    session.flush()
    session.execute(
        update(Model).where(Model.id == model_id).values(last_operation_id=op.id)
        .execution_options(synchronize_session=False)
    )
    return op


def undo_claim(session: Session, run_id: str, previous_state: str, previous_operation_id: int | None) -> None:
    """busy → the state before the claim: the workflow could not be started, so the run is forgotten."""
    op = run_by_id(session, run_id)
    if op is None:
        return
    session.execute(
        update(Model)
        .where(Model.id == op.model_id, Model.state == ModelState.BUSY, Model.last_operation_id == op.id)
        .values(state=previous_state, last_operation_id=previous_operation_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.delete(op)


def mark_running(session: Session, run_id: str) -> bool:
    """queued → running. False if the run is unknown or already closed (it must not go on)."""
    session.execute(
        update(Operation).where(Operation.run_id == run_id, Operation.status == RunStatus.QUEUED)
        .values(status=RunStatus.RUNNING).execution_options(synchronize_session=False)
    )
    return session.scalar(select(Operation.status).where(Operation.run_id == run_id)) == RunStatus.RUNNING


def begin_retrain(session: Session, run_id: str, model_id: int) -> tuple[bool, str]:
    """ready → busy for a background retrain: (began, reason). Idempotent: a retried call for the
    same run id reports it began."""
    if run_by_id(session, run_id) is not None:
        return True, ""
    model = session.get(Model, model_id)
    if (model is None or model.state == ModelState.ARCHIVED or model.zero_data_retention
            or model.active_version_id is None):
        return False, "ineligible"
    try:
        claim(session, model_id, (ModelState.READY,), run_id, OperationKind.RETRAIN, None, {"effort": None})
    except ClaimRefused:
        return False, "busy"
    return True, ""


# ---------------------------------------------------------------- closing a run


def _close(session: Session, op_id: int, status: RunStatus, **values) -> bool:
    """open → status. False if the run was closed already (a retry, or the other side of a race)."""
    return session.execute(
        update(Operation).where(Operation.id == op_id, Operation.status.in_(OPEN_STATUSES))
        .values(status=status, finished_at=utcnow(), **values)
        .execution_options(synchronize_session="fetch")
    ).rowcount == 1


def _release(session: Session, op: Operation, to_state) -> None:
    """busy → to_state, only while the model is busy for this run."""
    session.execute(
        update(Model)
        .where(Model.id == op.model_id, Model.state == ModelState.BUSY, Model.last_operation_id == op.id)
        .values(state=to_state, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )


def finish_ready(session: Session, op: Operation, version_id: int, version_no: int) -> bool:
    """busy → ready, run succeeded with its version (the last step of a publish). False if the run
    was closed meanwhile."""
    if not _close(session, op.id, RunStatus.SUCCEEDED, version_id=version_id, error=None,
                  progress={"phase": "done", "done": 1, "total": 1, "fraction": 1.0,
                            "message": f"v{version_no} stored"}):
        return False
    _release(session, op, ModelState.READY)
    return True


def finish_draft(session: Session, run_id: str, added: int) -> bool:
    """busy → draft, run succeeded (discovery and synthesis). False if the run was closed meanwhile."""
    op = run_by_id(session, run_id)
    if op is None or not _close(session, op.id, RunStatus.SUCCEEDED, progress={
            "phase": "done", "done": 1, "total": 1, "fraction": 1.0, "message": f"{added} added"}):
        return False
    _release(session, op, ModelState.DRAFT)
    return True


def fail_run(session: Session, run_id: str, code: str, message: str,
             status: RunStatus = RunStatus.FAILED) -> bool:
    """busy → draft / ready / failed, run failed or cancelled. False if it was already closed.

    A draft operation leaves the definition intact (draft); a failed training keeps serving the
    version it had (ready) or has none (failed). A cancelled training goes back to the state it was
    claimed from (draft or failed; ready when it has a version); runs recorded before that state was
    kept end as a failure does.
    """
    op = run_by_id(session, run_id)
    if op is None or not _close(session, op.id, status, error={"code": code, "message": message}):
        return False
    from_state = (op.params or {}).get(FROM_STATE)
    if op.kind in DRAFT_KINDS:
        to_state = ModelState.DRAFT
    elif status == RunStatus.CANCELLED and from_state in (ModelState.DRAFT, ModelState.FAILED):
        # A cancelled first training gives the model back as it found it (a version stored meanwhile
        # by nobody else is impossible while it is busy, but the UPDATE still checks).
        to_state = case((Model.active_version_id.is_(None), from_state), else_=ModelState.READY.value)
    else:  # decided in the UPDATE itself, so it reads the version the row has when it is locked
        to_state = case((Model.active_version_id.is_(None), ModelState.FAILED.value), else_=ModelState.READY.value)
    _release(session, op, to_state)
    model = session.get(Model, op.model_id)
    if model is not None and op.kind in TRAINING_KINDS and model.zero_data_retention:
        purge_samples(session, model.id)
    session.flush()
    return True


# ---------------------------------------------------------------- archive


def archive(session: Session, model_id: int) -> str | None:
    """draft / ready / failed → archived. None if it is archived now (or already was), else the
    state that blocks it (``busy``, or ``missing``)."""
    archived = session.execute(
        update(Model)
        .where(Model.id == model_id, Model.state.in_(ARCHIVABLE_STATES))
        .values(state=ModelState.ARCHIVED, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if archived == 1:
        return None
    current = model_state(session, model_id)
    return None if current == ModelState.ARCHIVED else current


# ---------------------------------------------------------------- reading runs


def run_by_id(session: Session, run_id: str) -> Operation | None:
    return session.scalar(select(Operation).where(Operation.run_id == run_id))


def runs_of_model(session: Session, model_id: int, limit: int,
                  below_id: int | None = None) -> list[tuple[Operation, int | None]]:
    """(run, its version's number) of every run of the model, newest first, keyset-paged by row id.
    The number is None for a run without a version, or whose version was pruned."""
    query = (select(Operation, Version.version_no).outerjoin(Version, Version.id == Operation.version_id)
             .where(Operation.model_id == model_id))
    if below_id is not None:
        query = query.where(Operation.id < below_id)
    return [(op, number) for op, number in session.execute(query.order_by(Operation.id.desc()).limit(limit))]


def run_with_model(session: Session, run_id: str) -> tuple[Operation, Model, int | None] | None:
    """(run, its model, its version's number) by run id, or None."""
    row = session.execute(
        select(Operation, Model, Version.version_no).join(Model, Model.id == Operation.model_id)
        .outerjoin(Version, Version.id == Operation.version_id).where(Operation.run_id == run_id)
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None


def reusable_run(session: Session, model_id: int, fingerprint: str) -> Operation | None:
    """A run with these exact inputs that is queued, running or succeeded (→ 409 run_exists)."""
    return session.scalar(
        select(Operation)
        .where(Operation.model_id == model_id, Operation.fingerprint == fingerprint,
               Operation.status.in_(REUSABLE_STATUSES))
        .order_by(Operation.id.desc())
        .limit(1)
    )


def open_run(session: Session, model_id: int) -> Operation | None:
    return session.scalar(
        select(Operation)
        .where(Operation.model_id == model_id, Operation.status.in_(OPEN_STATUSES))
        .order_by(Operation.id.desc())
        .limit(1)
    )


def run_counts(session: Session) -> list[tuple[str, str, int]]:
    """(kind, status, count) over every run, for the metrics endpoint."""
    return [tuple(row) for row in session.execute(
        select(Operation.kind, Operation.status, func.count()).group_by(Operation.kind, Operation.status))]


def record_progress(session: Session, run_id: str, progress: dict) -> None:
    """The last progress a worker saw, shown when Temporal cannot answer; only while the run is open."""
    session.execute(
        update(Operation).where(Operation.run_id == run_id, Operation.status.in_(OPEN_STATUSES))
        .values(progress=progress).execution_options(synchronize_session=False)
    )


def purge_samples(session: Session, model_id: int) -> int:
    """ZDR: samples are removed at every training completion (SPEC §1.9)."""
    return session.execute(
        delete(Sample).where(Sample.model_id == model_id).execution_options(synchronize_session=False)
    ).rowcount
