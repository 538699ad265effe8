"""Staging fitted snapshots and publishing them as versions (SPEC §1.6), with auto-prune.

A fitted snapshot can be megabytes, so it never travels through Temporal: the fit activity stages
it here keyed by run id and the publish activity turns it into a version in ONE transaction.

Decisions (SPEC is silent):
- ``max_sample_id`` of a version is the highest sample id the fit read; feedback samples above every
  version's watermark count as buffered for the background retrain.
- Pruning runs after each new version; "first of each calendar month" is judged in UTC.
- A retried publish finds the version by its unique run id and only re-asserts the bookkeeping.
- A background retrain the retrain gate refused (``metrics.gate.activate`` false, written by the fit
  activity) is stored but not activated, unless the model turned the gate off since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from contracts.states import OPEN_STATUSES, OperationKind
from store import runs
from store.tables import Model, StagedFit, Version, VersionTag, utcnow

DEFAULT_KEEP_UNNAMED = 100
DEFAULT_KEEP_FIRST_OF_MONTH = True


class PublishRefused(Exception):
    """The run can no longer publish (closed from outside, model gone, or nothing staged)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Published:
    version_id: int
    version_no: int
    activated: bool


def stage_fit(session: Session, run_id: str, model_id: int, snapshot_json: str, param_hash: str,
              metrics: dict, sample_count: int, max_sample_id: int | None) -> None:
    """Idempotent: a retried fit replaces what an earlier attempt staged."""
    session.execute(delete(StagedFit).where(StagedFit.run_id == run_id))
    session.add(StagedFit(run_id=run_id, model_id=model_id, snapshot=snapshot_json, param_hash=param_hash,
                          metrics=metrics, sample_count=sample_count, max_sample_id=max_sample_id))


def publish(session: Session, run_id: str) -> Published:
    op = runs.run_by_id(session, run_id)
    if op is None:
        raise PublishRefused("operation_closed", "The run is unknown to the store.")
    existing = session.scalar(select(Version).where(Version.run_id == run_id))
    if existing is not None:  # a retry after a commit whose reply was lost
        model = session.get(Model, op.model_id)
        return Published(existing.id, existing.version_no, model is not None and model.active_version_id == existing.id)
    if op.status not in OPEN_STATUSES:
        raise PublishRefused("operation_closed", "The run was closed before its version could be stored.")
    model = session.get(Model, op.model_id, with_for_update=True)
    if model is None:
        raise PublishRefused("model_gone", "The model no longer exists.")
    staged = session.get(StagedFit, run_id)
    if staged is None:
        raise PublishRefused("operation_closed", "No fitted snapshot was staged for this run.")

    version_no = (session.scalar(select(func.max(Version.version_no)).where(Version.model_id == model.id)) or 0) + 1
    version = Version(model_id=model.id, version_no=version_no, triggered_by=op.kind, run_id=run_id,
                      param_hash=staged.param_hash, sample_count=staged.sample_count,
                      max_sample_id=staged.max_sample_id, metrics=staged.metrics, snapshot=staged.snapshot,
                      created_at=utcnow())
    session.add(version)
    session.flush()

    # A pinned model keeps serving its chosen version when the background retrain lands.
    activate = not (op.kind == OperationKind.RETRAIN and (model.pinned or gate_refused(model, staged.metrics)))
    if activate:
        model.active_version_id = version.id
    if op.kind in (OperationKind.TRAIN, OperationKind.RETUNE):
        model.pinned = False
    model.updated_at = utcnow()
    prune_versions(session, model)
    if model.zero_data_retention:
        runs.purge_samples(session, model.id)
    if not runs.finish_ready(session, op, version.id, version_no):  # the API reconciled it meanwhile
        raise PublishRefused("operation_closed", "The run was closed before its version could be stored.")
    session.delete(staged)
    session.flush()
    return Published(version.id, version_no, activate)


def gate_refused(model: Model, metrics: dict | None) -> bool:
    """Whether the retrain gate's verdict in a retrain's metrics keeps it from being activated."""
    gate = (metrics or {}).get("gate") or {}
    return bool(model.retrain_gate) and gate.get("activate") is False


def _policy(model: Model) -> tuple[int, bool]:
    policy = model.version_retention_policy or {}
    keep_unnamed = policy.get("keep_unnamed")
    keep_first = policy.get("keep_first_of_month")
    return (DEFAULT_KEEP_UNNAMED if keep_unnamed is None else int(keep_unnamed),
            DEFAULT_KEEP_FIRST_OF_MONTH if keep_first is None else bool(keep_first))


def prune_versions(session: Session, model: Model) -> list[int]:
    """Deletes versions the retention policy no longer keeps; returns their ids."""
    keep_unnamed, keep_first_of_month = _policy(model)
    versions = session.execute(
        select(Version.id, Version.created_at).where(Version.model_id == model.id)
        .order_by(Version.version_no.desc())
    ).all()
    tagged = set(session.scalars(select(VersionTag.version_id).where(VersionTag.model_id == model.id)))
    keep = set(tagged)
    if model.active_version_id is not None:
        keep.add(model.active_version_id)
    untagged = [vid for vid, _ in versions if vid not in tagged]
    keep.update(untagged[:max(keep_unnamed, 0)])
    if keep_first_of_month:
        first_of_month: dict[tuple[int, int], tuple[datetime, int]] = {}
        for vid, created in versions:
            created = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
            month = (created.astimezone(timezone.utc).year, created.astimezone(timezone.utc).month)
            if month not in first_of_month or (created, vid) < first_of_month[month]:
                first_of_month[month] = (created, vid)
        keep.update(vid for _, vid in first_of_month.values())
    doomed = [vid for vid, _ in versions if vid not in keep]
    if doomed:
        session.execute(delete(Version).where(Version.id.in_(doomed)).execution_options(synchronize_session=False))
    return doomed
