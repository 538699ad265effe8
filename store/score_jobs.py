"""SQL for score jobs (SPEC §9.2): jobs, their items in input order, results and retention.

Every function takes a sync ``Session``: activities call them directly, the API through
``AsyncSession.run_sync``, so each rule is written once.

Decisions (SPEC is silent):
- A job's state words are the run statuses (``queued, running, succeeded, failed, cancelled``); it
  moves only forward, by conditional UPDATEs here.
- A chunk's results are written in one transaction with a marker row ``(job, chunk_no)``: a retried
  chunk finds the marker and writes nothing, so no item is ever written twice. The same
  transaction adds the chunk's counts to the job only while the job is ``running``: once a job is
  cancelled (or finished) nothing more is written.
- Under zero-data retention an item's content is dropped in the transaction that writes its result;
  results never hold content (a card has none).
- Retention: a finished job is readable for ``ASSAY_JOB_RETENTION_DAYS`` after it finished; reads
  treat an older one as gone at once, and ``delete_expired`` removes it with its items (run when a
  job is created, so the sweep needs no process of its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from contracts.states import OPEN_STATUSES, RunStatus
from store.db import INSERT_BATCH, insert_batched, upsert_insert
from store.tables import ScoreJob, ScoreJobChunk, ScoreJobItem, ScoreJobNamespace, utcnow

FINISHED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class JobClosed(Exception):
    """The job is no longer running: a chunk's results are not written."""


@dataclass(frozen=True)
class NewItem:
    item_id: str
    content: str | None
    error: dict | None = None  # an item refused at intake (a URL) is failed from the start


@dataclass(frozen=True)
class ChunkItem:
    seq: int
    content: str | None
    error: dict | None


@dataclass(frozen=True)
class ItemOutcome:
    seq: int
    result: str | None  # the card's JSON text
    error: dict | None


@dataclass(frozen=True)
class ChunkWrite:
    written: bool  # False: this chunk had been written before (a retry), or the job is closed
    scored: int
    failed: int


def create_job(session: Session, *, job_id: str, model_id: int, handle: str, version_id: int, version_no: int,
               traits: list[str] | None, max_depth: int, zero_data_retention: bool, namespaces: Iterable[str],
               items: Iterable[NewItem]) -> ScoreJob:
    job = ScoreJob(job_id=job_id, model_id=model_id, handle=handle, version_id=version_id, version_no=version_no,
                   traits=traits, max_depth=max_depth, zero_data_retention=zero_data_retention,
                   state=RunStatus.QUEUED, total=0, scored=0, failed=0)
    session.add(job)
    session.flush()
    session.execute(insert(ScoreJobNamespace), [{"job_pk": job.id, "namespace": n} for n in sorted(set(namespaces))])
    job.total = insert_batched(session, ScoreJobItem, (
        {"job_pk": job.id, "seq": seq, "item_id": item.item_id, "content": item.content, "error": item.error}
        for seq, item in enumerate(items)))
    session.flush()
    return job


def _visible(namespaces: Iterable[str], retention: timedelta):
    """Jobs a key with ``namespaces`` may see: shares a namespace, and not past retention."""
    shared = exists().where(ScoreJobNamespace.job_pk == ScoreJob.id,
                            ScoreJobNamespace.namespace.in_(sorted(set(namespaces))))
    return shared, or_(ScoreJob.finished_at.is_(None), ScoreJob.finished_at >= utcnow() - retention)


def get_job(session: Session, job_id: str, namespaces: Iterable[str], retention: timedelta) -> ScoreJob | None:
    return session.scalar(select(ScoreJob).where(ScoreJob.job_id == job_id, *_visible(namespaces, retention)))


def job_namespaces(session: Session, job_pk: int) -> list[str]:
    """The namespaces a job belongs to (those of the key that started it)."""
    return list(session.scalars(select(ScoreJobNamespace.namespace).where(ScoreJobNamespace.job_pk == job_pk)
                                .order_by(ScoreJobNamespace.namespace)))


def job_by_id(session: Session, job_id: str) -> ScoreJob | None:
    """For the workers, which act for the job whoever started it."""
    return session.scalar(select(ScoreJob).where(ScoreJob.job_id == job_id))


def list_jobs(session: Session, model_id: int, namespaces: Iterable[str], retention: timedelta, limit: int,
              below_id: int | None = None) -> list[ScoreJob]:
    """Newest first, up to ``limit`` rows with a row id below ``below_id`` (the cursor)."""
    query = select(ScoreJob).where(ScoreJob.model_id == model_id, *_visible(namespaces, retention))
    if below_id is not None:
        query = query.where(ScoreJob.id < below_id)
    return list(session.scalars(query.order_by(ScoreJob.id.desc()).limit(limit)))


def open_job_ids(session: Session, model_id: int) -> list[str]:
    return list(session.scalars(select(ScoreJob.job_id).where(ScoreJob.model_id == model_id,
                                                              ScoreJob.state.in_(OPEN_STATUSES))))


def mark_running(session: Session, job_id: str) -> bool:
    changed = session.execute(update(ScoreJob).where(ScoreJob.job_id == job_id, ScoreJob.state == RunStatus.QUEUED)
                              .values(state=RunStatus.RUNNING, started_at=utcnow())).rowcount
    return bool(changed)


def finish(session: Session, job_id: str, state: RunStatus, *, summary: dict | None = None,
           error: dict | None = None) -> bool:
    """queued/running → a final state; False when the job was already closed (a retry, or cancelled)."""
    values = {"state": state, "finished_at": utcnow(), "summary": summary, "error": error}
    changed = session.execute(update(ScoreJob).where(ScoreJob.job_id == job_id, ScoreJob.state.in_(OPEN_STATUSES))
                              .values(**values)).rowcount
    return bool(changed)


def chunk_items(session: Session, job_pk: int, first_seq: int, count: int) -> list[ChunkItem]:
    rows = session.execute(select(ScoreJobItem.seq, ScoreJobItem.content, ScoreJobItem.error).where(
        ScoreJobItem.job_pk == job_pk, ScoreJobItem.seq >= first_seq, ScoreJobItem.seq < first_seq + count,
    ).order_by(ScoreJobItem.seq))
    return [ChunkItem(seq, content, error) for seq, content, error in rows]


def written_chunk(session: Session, job_pk: int, chunk_no: int) -> ChunkWrite | None:
    marker = session.get(ScoreJobChunk, (job_pk, chunk_no))
    return None if marker is None else ChunkWrite(False, marker.scored, marker.failed)


def write_chunk(session: Session, job_pk: int, chunk_no: int, outcomes: list[ItemOutcome], *,
                drop_content: bool) -> ChunkWrite:
    """Writes a chunk's results once, inside the caller's transaction; raises JobClosed (the caller
    rolls back) when the job is no longer running."""
    scored = sum(1 for o in outcomes if o.result is not None)
    failed = len(outcomes) - scored
    marked = session.execute(upsert_insert(session)(ScoreJobChunk).values(
        job_pk=job_pk, chunk_no=chunk_no, scored=scored, failed=failed).on_conflict_do_nothing()).rowcount
    if not marked:
        return written_chunk(session, job_pk, chunk_no) or ChunkWrite(False, 0, 0)
    counted = session.execute(update(ScoreJob).where(ScoreJob.id == job_pk, ScoreJob.state == RunStatus.RUNNING)
                              .values(scored=ScoreJob.scored + scored, failed=ScoreJob.failed + failed)).rowcount
    if not counted:
        raise JobClosed(job_pk)  # cancelled or finished meanwhile: the caller's rollback keeps nothing
    values = [{"s": o.seq, "r": o.result, "e": o.error} for o in outcomes]
    statement = update(ScoreJobItem.__table__).where(
        ScoreJobItem.__table__.c.job_pk == job_pk, ScoreJobItem.__table__.c.seq == bindparam("s"))
    changes = {"result": bindparam("r"), "error": bindparam("e", type_=ScoreJobItem.__table__.c.error.type)}
    if drop_content:
        changes["content"] = None
    session.connection().execute(statement.values(**changes), values)
    return ChunkWrite(True, scored, failed)


def result_rows(session: Session, job_pk: int, after_seq: int, limit: int) -> list[tuple[int, str, str | None, dict | None]]:
    """(seq, item id, result JSON text, error) in input order, after ``after_seq``."""
    rows = session.execute(select(ScoreJobItem.seq, ScoreJobItem.item_id, ScoreJobItem.result, ScoreJobItem.error)
                           .where(ScoreJobItem.job_pk == job_pk, ScoreJobItem.seq > after_seq)
                           .order_by(ScoreJobItem.seq).limit(limit))
    return [tuple(row) for row in rows]


def iter_results(session: Session, job_pk: int, batch: int = INSERT_BATCH) -> Iterator[tuple]:
    after = -1
    while True:
        rows = result_rows(session, job_pk, after, batch)
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def delete_job(session: Session, job_pk: int) -> None:
    _delete_jobs(session, [job_pk])


def _delete_jobs(session: Session, job_pks: list[int]) -> None:
    # Children first: the cascade needs SQLite's foreign_keys pragma, which a raw connection may lack.
    for table in (ScoreJobItem, ScoreJobChunk, ScoreJobNamespace):
        session.execute(delete(table).where(table.job_pk.in_(job_pks)))
    session.execute(delete(ScoreJob).where(ScoreJob.id.in_(job_pks)))


def delete_expired(session: Session, retention: timedelta, *, limit: int = 100) -> int:
    """Deletes up to ``limit`` jobs finished longer than ``retention`` ago, with their items."""
    cutoff: datetime = utcnow() - retention
    expired = list(session.scalars(select(ScoreJob.id).where(ScoreJob.finished_at < cutoff).limit(limit)))
    if not expired:
        return 0
    _delete_jobs(session, expired)
    return len(expired)
