"""SQL for evaluations (SPEC §9.5): the evaluation, who may see it, its labels, its report.

Every function takes a sync ``Session`` (activities call them directly, the API through
``AsyncSession.run_sync``). The items and their scores live in the evaluation's score jobs
(``store.score_jobs``, one job per version); here only what a score job does not hold.

Decisions (SPEC is silent):
- States are the run statuses and only move forward, by conditional UPDATEs here.
- Labels are kept until the report is written, then deleted in the same transaction: the report is
  the product, and it is kept as long as the model (score jobs, and so the per-item scores, go after
  ``ASSAY_JOB_RETENTION_DAYS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.orm import Session

from contracts.states import OPEN_STATUSES, RunStatus
from store.db import INSERT_BATCH, insert_batched
from store.tables import Evaluation, EvaluationLabel, EvaluationNamespace, utcnow


def create_evaluation(session: Session, *, evaluation_id: str, model_id: int, handle: str, version_nos: list[int],
                      version_ids: list[int], job_ids: list[str], traits: list[str], numeric_traits: list[str],
                      namespaces: Iterable[str], labels: Iterable[dict]) -> Evaluation:
    """``labels``: one ``{trait key: quality}`` per item, in the order of the jobs' items."""
    evaluation = Evaluation(evaluation_id=evaluation_id, model_id=model_id, handle=handle, version_nos=version_nos,
                            version_ids=version_ids, job_ids=job_ids, traits=traits, numeric_traits=numeric_traits,
                            state=RunStatus.QUEUED, total=0)
    session.add(evaluation)
    session.flush()
    session.execute(insert(EvaluationNamespace),
                    [{"evaluation_pk": evaluation.id, "namespace": n} for n in sorted(set(namespaces))])
    evaluation.total = insert_batched(session, EvaluationLabel, (
        {"evaluation_pk": evaluation.id, "seq": seq, "labels": item_labels} for seq, item_labels in enumerate(labels)))
    session.flush()
    return evaluation


def _shared(namespaces: Iterable[str]):
    return exists().where(EvaluationNamespace.evaluation_pk == Evaluation.id,
                          EvaluationNamespace.namespace.in_(sorted(set(namespaces))))


def get_evaluation(session: Session, evaluation_id: str, namespaces: Iterable[str]) -> Evaluation | None:
    return session.scalar(select(Evaluation).where(Evaluation.evaluation_id == evaluation_id, _shared(namespaces)))


def evaluation_by_id(session: Session, evaluation_id: str) -> Evaluation | None:
    """For the workers, which act for the evaluation whoever started it."""
    return session.scalar(select(Evaluation).where(Evaluation.evaluation_id == evaluation_id))


def list_evaluations(session: Session, model_id: int, namespaces: Iterable[str], limit: int,
                     below_id: int | None = None) -> list[Evaluation]:
    """Newest first, up to ``limit`` rows with a row id below ``below_id`` (the cursor)."""
    query = select(Evaluation).where(Evaluation.model_id == model_id, _shared(namespaces))
    if below_id is not None:
        query = query.where(Evaluation.id < below_id)
    return list(session.scalars(query.order_by(Evaluation.id.desc()).limit(limit)))


def latest_of_version(session: Session, model_id: int, version_no: int, namespaces: Iterable[str],
                      scan: int = 50) -> Evaluation | None:
    """The newest succeeded evaluation visible to ``namespaces`` that scored ``version_no``, among the
    model's ``scan`` newest succeeded ones (for the model card)."""
    rows = session.scalars(select(Evaluation).where(Evaluation.model_id == model_id, _shared(namespaces),
                                                    Evaluation.state == RunStatus.SUCCEEDED)
                           .order_by(Evaluation.id.desc()).limit(scan))
    return next((row for row in rows if version_no in row.version_nos), None)


def mark_running(session: Session, evaluation_id: str) -> bool:
    changed = session.execute(update(Evaluation).where(Evaluation.evaluation_id == evaluation_id,
                                                       Evaluation.state == RunStatus.QUEUED)
                              .values(state=RunStatus.RUNNING, started_at=utcnow())).rowcount
    return bool(changed)


def finish(session: Session, evaluation_id: str, state: RunStatus, *, report: dict | None = None,
           error: dict | None = None) -> bool:
    """queued/running → a final state, dropping the labels; False when it was closed already."""
    evaluation = evaluation_by_id(session, evaluation_id)
    if evaluation is None:
        return False
    changed = session.execute(update(Evaluation).where(Evaluation.id == evaluation.id,
                                                       Evaluation.state.in_(OPEN_STATUSES))
                              .values(state=state, finished_at=utcnow(), report=report, error=error)).rowcount
    if changed:
        session.execute(delete(EvaluationLabel).where(EvaluationLabel.evaluation_pk == evaluation.id))
    return bool(changed)


def iter_labels(session: Session, evaluation_pk: int, batch: int = INSERT_BATCH) -> Iterator[tuple[int, dict]]:
    """(seq, labels) in input order."""
    after = -1
    while True:
        rows = list(session.execute(select(EvaluationLabel.seq, EvaluationLabel.labels)
                                    .where(EvaluationLabel.evaluation_pk == evaluation_pk,
                                           EvaluationLabel.seq > after)
                                    .order_by(EvaluationLabel.seq).limit(batch)))
        if not rows:
            return
        yield from ((seq, labels) for seq, labels in rows)
        after = rows[-1][0]


def delete_evaluation(session: Session, evaluation_pk: int) -> None:
    # Children first: the cascade needs SQLite's foreign_keys pragma, which a raw connection may lack.
    for table in (EvaluationLabel, EvaluationNamespace):
        session.execute(delete(table).where(table.evaluation_pk == evaluation_pk))
    session.execute(delete(Evaluation).where(Evaluation.id == evaluation_pk))
