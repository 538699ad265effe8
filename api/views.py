"""Serialisers: database rows to the wire shapes of ModelDetail, TraitDetail and sample records.

`model_detail(session, temporal, model)` is shared with the other routers (train, versions, …).
Decision: ModelDetail also echoes the authored metadata (`additional_terms`, `upstream_sources`,
`readme_markdown`) so a client can read back what it wrote; extra fields are allowed on the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.run_status import last_operation
from api.temporal import TemporalGateway
from store import catalog
from store import versions as version_store
from store.tables import Model, Operation, Sample, Trait


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


async def model_detail(session: AsyncSession, temporal: TemporalGateway | None, model: Model) -> dict:
    return (await model_details(session, temporal, [model]))[0]


async def model_details(session: AsyncSession, temporal: TemporalGateway | None,
                        models: Sequence[Model]) -> list[dict]:
    """Serialises a page of models with a fixed number of queries (plus one per `last_operation`)."""
    model_ids = [model.id for model in models]
    active_ids = [model.active_version_id for model in models if model.active_version_id is not None]
    names = await catalog.trait_names_by_model(session, model_ids)
    numbers = await catalog.version_numbers(session, active_ids)
    tags = await version_store.tags_by_version(session, active_ids)
    details = []
    for model in models:
        # First: reading the operation may reconcile a run closed from outside and move the model
        # out of busy, and everything below must show the reconciled state.
        last = await last_operation(session, temporal, model)
        active = model.active_version_id if model.active_version_id in numbers else None
        details.append({
            "handle": model.handle,
            "description": model.description or "",
            "scoring_method": model.scoring_method,
            "state": model.state,
            "kind": model.kind,
            "traits": names.get(model.id, []),
            "current_version_id": active,
            "version_no": numbers.get(active) if active is not None else None,
            "version_tags": tags.get(active, []) if active is not None else [],
            "zero_data_retention": bool(model.zero_data_retention),
            "retrain_gate": bool(model.retrain_gate),
            "last_operation": operation_view(*last) if last is not None else None,
            "max_depth": model.max_depth,
            "version_retention_policy": model.version_retention_policy,
            "additional_terms": model.additional_terms,
            "upstream_sources": model.upstream_sources,
            "readme_markdown": model.readme_markdown,
            "created_at": iso(model.created_at),
            "updated_at": iso(model.updated_at),
        })
    return details


def operation_view(op: Operation, live_progress: dict | None = None) -> dict:
    view = {
        "kind": op.kind,
        "status": op.status,
        "started_at": iso(op.started_at),
        "run_id": op.run_id,
    }
    progress = live_progress if live_progress is not None else op.progress
    if progress is not None:
        view["progress"] = progress
    if op.error is not None:
        view["error"] = op.error
    if op.finished_at is not None:
        view["finished_at"] = iso(op.finished_at)
    return view


def run_summary(op: Operation, handle: str, version_no: int | None) -> dict:
    """A run as `GET …/runs` lists it (SPEC §9.3)."""
    return {
        "run_id": op.run_id,
        "handle": handle,
        "kind": op.kind,
        "status": op.status,
        "started_at": iso(op.started_at),
        "finished_at": iso(op.finished_at),
        "effort": (op.params or {}).get("effort"),
        "version_no": version_no,
        "error": op.error,
    }


def trait_detail(trait: Trait, counts: catalog.TraitCounts | None) -> dict:
    counts = counts or catalog.TraitCounts()
    return {
        "key": trait.key,
        "name": trait.name,
        "description": trait.description or "",
        "positive_label": trait.positive_label,
        "negative_label": trait.negative_label,
        "aggregation": trait.aggregation,
        "sample_count": counts.total,
        "positive_samples": counts.positive,
        "negative_samples": counts.negative,
        "kind": trait.kind,
        "discrimination": trait.discrimination,
        "explained_variance": trait.explained_variance,
        "anchor_sample_ids": trait.anchor_sample_ids,
    }


async def trait_details(session: AsyncSession, model_id: int) -> list[dict]:
    """Every trait of the model in creation order, with its sample counts."""
    traits = await catalog.list_traits(session, model_id)
    counts = await catalog.sample_counts(session, model_id)
    return [trait_detail(trait, counts.get(trait.id)) for trait in traits]


def sample_record(sample: Sample, trait_key: str) -> dict:
    return {
        "id": sample.id,
        "trait": trait_key,
        "text": sample.text,
        "quality": sample.quality,
        "provenance": sample.provenance,
        "source_url": sample.source_url,
        "content_sha256": sample.content_sha256,
        "created_at": iso(sample.created_at),
    }
