"""SQL for operations: fingerprints, claiming a model (the row is the lock), progress, closing runs,
ZDR purges and the buffered-feedback count. Sync functions over a ``Session``; the API calls them
through ``AsyncSession.run_sync`` so the same code serves both sides.

Decisions (SPEC is silent):
- The fingerprint hashes the kind, effort, reoptimize flag and synth type with the model id and the
  content of its traits (key, name, description, labels, aggregation, kind, frozen direction) and
  samples (trait key, sha256 of text, quality), in id order.
- Closing a run is a conditional UPDATE on ``operations.status`` (open → closed), so a worker's own
  finalization and the API's reconciliation can race safely: exactly one of them wins.
- The model only leaves ``busy`` if it is still busy *for this run* (``last_operation_id``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from store.tables import Model, Operation, Sample, Trait, Version

OPEN_STATUSES = ("queued", "running")
REUSABLE_STATUSES = ("queued", "running", "succeeded")
TRAINING_KINDS = ("train", "retune", "retrain_buffered")
DRAFT_KINDS = ("discover", "synthesize")
FEEDBACK = "score_feedback"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def fingerprint(session: Session, model_id: int, kind: str, effort: str, reoptimize: bool = False,
                synth_type: str | None = None) -> str:
    digest = hashlib.sha256()
    header = {"model": model_id, "kind": kind, "effort": effort, "reoptimize": bool(reoptimize),
              "synth_type": synth_type}
    digest.update(json.dumps(header, sort_keys=True).encode())
    keys: dict[int, str] = {}
    traits = session.execute(select(Trait).where(Trait.model_id == model_id).order_by(Trait.id)).scalars()
    for trait in traits:
        keys[trait.id] = trait.key
        row = [trait.key, trait.name, trait.description, trait.positive_label, trait.negative_label,
               trait.aggregation, trait.kind, trait.frozen_direction]
        digest.update(b"T" + json.dumps(row, sort_keys=True).encode())
    rows = session.execute(
        select(Sample.trait_id, Sample.text, Sample.quality).where(Sample.model_id == model_id).order_by(Sample.id)
    )
    for trait_id, text, quality in rows:
        text_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
        digest.update(f"S{keys.get(trait_id, '')}\x00{text_hash}\x00{float(quality)!r}".encode())
    return digest.hexdigest()


def reusable_run(session: Session, model_id: int, fingerprint_: str) -> Operation | None:
    """A run with these exact inputs that is queued, running or succeeded (→ 409 run_exists)."""
    return session.scalar(
        select(Operation)
        .where(Operation.model_id == model_id, Operation.fingerprint == fingerprint_,
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


def claim_model(session: Session, model_id: int, from_states: tuple[str, ...], run_id: str, kind: str,
                fingerprint_: str | None, params: dict) -> Operation | None:
    """Moves the model to busy and records a queued run — or returns None if another request won.

    The conditional UPDATE is the first write of the transaction: on SQLite it takes the write lock
    (waiting for a racing writer), on PostgreSQL it locks the row and re-checks the state.
    """
    claimed = session.execute(
        update(Model)
        .where(Model.id == model_id, Model.state.in_(from_states))
        .values(state="busy", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return None
    op = Operation(run_id=run_id, model_id=model_id, kind=kind, status="queued", fingerprint=fingerprint_,
                   params=params, progress={"phase": "queued", "done": 0, "total": 0, "fraction": 0.0,
                                            "message": "waiting for a worker"},
                   started_at=utcnow())
    session.add(op)
    session.flush()
    session.execute(
        update(Model).where(Model.id == model_id).values(last_operation_id=op.id)
        .execution_options(synchronize_session=False)
    )
    return op


def undo_claim(session: Session, run_id: str, previous_state: str, previous_operation_id: int | None) -> None:
    """The workflow could not be started: put the model back and forget the run."""
    op = session.scalar(select(Operation).where(Operation.run_id == run_id))
    if op is None:
        return
    session.execute(
        update(Model)
        .where(Model.id == op.model_id, Model.last_operation_id == op.id)
        .values(state=previous_state, last_operation_id=previous_operation_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.delete(op)


def mark_running(session: Session, run_id: str) -> bool:
    """queued → running. False if the run is unknown or already closed (it must not go on)."""
    session.execute(
        update(Operation).where(Operation.run_id == run_id, Operation.status == "queued")
        .values(status="running").execution_options(synchronize_session=False)
    )
    return session.scalar(select(Operation.status).where(Operation.run_id == run_id)) == "running"


def record_progress(session: Session, run_id: str, progress: dict) -> None:
    session.execute(
        update(Operation).where(Operation.run_id == run_id, Operation.status.in_(OPEN_STATUSES))
        .values(progress=progress).execution_options(synchronize_session=False)
    )


def purge_samples(session: Session, model_id: int) -> int:
    """ZDR: samples are removed at every training completion (SPEC §1.9)."""
    return session.execute(
        delete(Sample).where(Sample.model_id == model_id).execution_options(synchronize_session=False)
    ).rowcount


def state_after_failure(kind: str, has_version: bool) -> str:
    if kind in DRAFT_KINDS:
        return "draft"  # the definition is intact
    return "ready" if has_version else "failed"


def close_failed(session: Session, run_id: str, code: str, message: str, status: str = "failed") -> bool:
    """Closes an open run as failed/cancelled and releases the model. False if it was already closed."""
    op = session.scalar(select(Operation).where(Operation.run_id == run_id))
    if op is None:
        return False
    closed = session.execute(
        update(Operation).where(Operation.id == op.id, Operation.status.in_(OPEN_STATUSES))
        .values(status=status, error={"code": code, "message": message}, finished_at=utcnow())
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if closed != 1:
        return False
    model = session.get(Model, op.model_id)
    if model is None:
        return True
    if model.state == "busy" and model.last_operation_id == op.id:
        model.state = state_after_failure(op.kind, model.active_version_id is not None)
        model.updated_at = utcnow()
    if op.kind in TRAINING_KINDS and model.zero_data_retention:
        purge_samples(session, model.id)
    session.flush()
    return True


@dataclass
class Buffered:
    eligible: bool
    count: int = 0
    first_at: datetime | None = None
    busy: bool = False


def feedback_watermark(session: Session, model_id: int) -> int:
    """Highest sample id already folded into some version of the model."""
    return session.scalar(select(func.max(Version.max_sample_id)).where(Version.model_id == model_id)) or 0


def buffered_feedback(session: Session, model_id: int) -> Buffered:
    model = session.get(Model, model_id)
    if (model is None or model.state == "archived" or model.zero_data_retention
            or model.active_version_id is None):
        return Buffered(eligible=False)
    watermark = feedback_watermark(session, model_id)
    count, first_at = session.execute(
        select(func.count(Sample.id), func.min(Sample.created_at))
        .where(Sample.model_id == model_id, Sample.provenance == FEEDBACK, Sample.id > watermark)
    ).one()
    if isinstance(first_at, str):  # aggregates bypass the column type on SQLite
        first_at = datetime.fromisoformat(first_at)
    if first_at is not None and first_at.tzinfo is None:
        first_at = first_at.replace(tzinfo=timezone.utc)
    return Buffered(eligible=True, count=int(count or 0), first_at=first_at, busy=model.state != "ready")


def begin_retrain(session: Session, run_id: str, model_id: int) -> tuple[bool, str]:
    """(began, reason). Idempotent: a retried call for the same run id reports it began."""
    if session.scalar(select(Operation.id).where(Operation.run_id == run_id)) is not None:
        return True, ""
    model = session.get(Model, model_id)
    if model is None or model.state == "archived" or model.zero_data_retention or model.active_version_id is None:
        return False, "ineligible"
    op = claim_model(session, model_id, ("ready",), run_id, "retrain_buffered", None, {"effort": None})
    return (True, "") if op is not None else (False, "busy")
