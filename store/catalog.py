"""SQL for the catalog: models, traits and samples. Routers call these; nothing else writes SQL here.

Edits are guarded by a conditional UPDATE on the model row (`claim_for_edit`): it only succeeds
while the model is in an allowed state, and it holds the row (PostgreSQL) or the write lock (SQLite)
until the caller commits, so a training run cannot start half-way through a batch.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.states import ARCHIVABLE_STATES, ModelState
from store import runs
from store.tables import Model, Sample, Trait, Version, utcnow

# The states whose metadata may change: no run holds the model and it is not archived.
EDITABLE_STATES = ARCHIVABLE_STATES


class HandleTaken(Exception):
    """Another model (archived ones included) already has this handle."""


# ---------------------------------------------------------------- models


async def list_models(
    session: AsyncSession,
    namespaces: Sequence[str],
    *,
    state: str | None,
    kind: str | None,
    after_handle: str | None,
    limit: int,
) -> list[Model]:
    """Up to limit+1 models ordered by handle; archived ones only when state='archived' is asked."""
    if not namespaces:
        return []
    query = select(Model).where(Model.namespace.in_(list(namespaces)))
    if state is None:
        query = query.where(Model.state != ModelState.ARCHIVED)
    else:
        query = query.where(Model.state == state)
    if kind is not None:
        query = query.where(Model.kind == kind)
    if after_handle is not None:
        query = query.where(Model.handle > after_handle)
    return list((await session.scalars(query.order_by(Model.handle).limit(limit + 1))).all())


async def model_by_handle(session: AsyncSession, handle: str, *, for_update: bool = False) -> Model | None:
    query = select(Model).where(Model.handle == handle)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def handle_in_use(session: AsyncSession, handle: str) -> bool:
    return (await session.scalar(select(Model.id).where(Model.handle == handle))) is not None


async def insert_model(session: AsyncSession, **fields) -> Model:
    """Adds a draft model; raises HandleTaken if a concurrent create won the handle."""
    now = utcnow()
    model = Model(state=ModelState.DRAFT, created_at=now, updated_at=now, **fields)
    session.add(model)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise HandleTaken(fields.get("handle")) from exc
    return model


async def claim_for_edit(session: AsyncSession, model_id: int, allowed: Collection[str]) -> str | None:
    """Touches the model row if its state is allowed. None on success, else the current state."""
    result = await session.execute(
        update(Model)
        .where(Model.id == model_id, Model.state.in_(list(allowed)))
        .values(updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount == 1:
        return None
    return await session.scalar(select(Model.state).where(Model.id == model_id)) or "missing"


class FeedbackRefused(Exception):
    """The model stopped taking feedback after the request checked it; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "zero_data_retention" or "archived"


async def claim_for_feedback(session: AsyncSession, model_id: int) -> None:
    """Starts a feedback write by claiming the model row while it still takes feedback.

    The check and the lock are one conditional UPDATE, so it is ordered against a concurrent switch
    to zero-data retention (which purges samples under the same row lock): either the switch comes
    first and this refuses, or this commits first and the switch purges what it wrote.
    """
    result = await session.execute(
        update(Model)
        .where(Model.id == model_id, Model.zero_data_retention.is_(False), Model.state != ModelState.ARCHIVED)
        .values(zero_data_retention=False)  # a no-op write that takes the row (or SQLite's write) lock
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        return
    state = await session.scalar(select(Model.state).where(Model.id == model_id))
    raise FeedbackRefused("archived" if state in (ModelState.ARCHIVED, None) else "zero_data_retention")


async def archive_model(session: AsyncSession, model_id: int) -> str | None:
    """Archives the model (the transition lives in store.runs). None if it is archived now (or
    already was), else the blocking state."""
    return await session.run_sync(lambda sync_session: runs.archive(sync_session, model_id))


async def purge_samples(session: AsyncSession, model_id: int) -> int:
    """ZDR switched on: the same purge as at every training completion (store.runs)."""
    return await session.run_sync(lambda sync_session: runs.purge_samples(sync_session, model_id))


async def trait_names_by_model(session: AsyncSession, model_ids: Sequence[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {model_id: [] for model_id in model_ids}
    if not model_ids:
        return names
    rows = await session.execute(
        select(Trait.model_id, Trait.name)
        .where(Trait.model_id.in_(list(model_ids)))
        .order_by(Trait.model_id, Trait.created_at, Trait.id)
    )
    for model_id, name in rows:
        names[model_id].append(name)
    return names


async def version_numbers(session: AsyncSession, version_ids: Sequence[int]) -> dict[int, int]:
    if not version_ids:
        return {}
    rows = await session.execute(select(Version.id, Version.version_no).where(Version.id.in_(list(version_ids))))
    return {version_id: number for version_id, number in rows}


# ---------------------------------------------------------------- traits


@dataclass(frozen=True)
class TraitFields:
    """The authored part of a trait: what an upsert writes."""

    key: str
    name: str
    description: str
    positive_label: str
    negative_label: str
    aggregation: str


@dataclass(frozen=True)
class TraitCounts:
    total: int = 0
    positive: int = 0
    negative: int = 0


async def list_traits(session: AsyncSession, model_id: int, *, by_id: bool = False) -> list[Trait]:
    """In creation order; `by_id` orders by id alone (the order the model card and feedback use)."""
    order = (Trait.id,) if by_id else (Trait.created_at, Trait.id)
    query = select(Trait).where(Trait.model_id == model_id).order_by(*order)
    return list((await session.scalars(query)).all())


def match_trait(traits: Sequence[Trait], key_or_name: str) -> Trait | None:
    """A key match wins over a name match; among equal names the oldest trait wins."""
    for trait in traits:
        if trait.key == key_or_name:
            return trait
    for trait in traits:
        if trait.name == key_or_name:
            return trait
    return None


async def find_trait(session: AsyncSession, model_id: int, key_or_name: str) -> Trait | None:
    return match_trait(await list_traits(session, model_id), key_or_name)


async def sample_counts(session: AsyncSession, model_id: int) -> dict[int, TraitCounts]:
    """Per trait: all samples, positives (quality > 0.5) and negatives (quality < 0.5)."""
    rows = await session.execute(
        select(
            Sample.trait_id,
            func.count(Sample.id),
            func.sum(case((Sample.quality > 0.5, 1), else_=0)),
            func.sum(case((Sample.quality < 0.5, 1), else_=0)),
        )
        .where(Sample.model_id == model_id)
        .group_by(Sample.trait_id)
    )
    return {trait_id: TraitCounts(int(total), int(pos or 0), int(neg or 0)) for trait_id, total, pos, neg in rows}


async def upsert_traits(session: AsyncSession, model_id: int, batch: Sequence[TraitFields]) -> None:
    """Same key replaces the authored fields (discovery results are kept); a new key adds a trait."""
    existing = {trait.key: trait for trait in await list_traits(session, model_id)}
    for fields in batch:
        trait = existing.get(fields.key)
        if trait is None:
            # Distinct timestamps are not guaranteed; the id breaks ties in creation order.
            session.add(Trait(model_id=model_id, kind="extrinsic", created_at=utcnow(), **asdict(fields)))
        else:
            for name, value in asdict(fields).items():
                setattr(trait, name, value)
    await session.flush()


async def update_trait(session: AsyncSession, trait: Trait, changes: dict) -> None:
    for name, value in changes.items():
        setattr(trait, name, value)
    await session.flush()


async def delete_trait(session: AsyncSession, trait: Trait) -> None:
    """Removes the trait and its samples (explicitly, not relying on ON DELETE CASCADE)."""
    await session.execute(delete(Sample).where(Sample.trait_id == trait.id))
    await session.execute(delete(Trait).where(Trait.id == trait.id))


# ---------------------------------------------------------------- samples


@dataclass(frozen=True)
class NewSample:
    trait_id: int
    text: str
    quality: float
    source_url: str | None = None
    content_sha256: str | None = None
    provenance: str = "authored"


async def insert_samples(session: AsyncSession, model_id: int, batch: Sequence[NewSample]) -> list[int]:
    """Appends the batch; returns the new ids in input order."""
    now = utcnow()
    rows = [Sample(model_id=model_id, created_at=now, **asdict(new)) for new in batch]
    session.add_all(rows)
    await session.flush()
    return [row.id for row in rows]


async def list_samples(
    session: AsyncSession, model_id: int, *, trait_id: int | None, after_id: int | None, limit: int
) -> list[tuple[Sample, str]]:
    """Up to limit+1 (sample, trait key) pairs in id order; ids only grow, so appends never reshuffle."""
    query = (
        select(Sample, Trait.key)
        .join(Trait, Trait.id == Sample.trait_id)
        .where(Sample.model_id == model_id)
    )
    if trait_id is not None:
        query = query.where(Sample.trait_id == trait_id)
    if after_id is not None:
        query = query.where(Sample.id > after_id)
    rows = await session.execute(query.order_by(Sample.id).limit(limit + 1))
    return [(sample, key) for sample, key in rows]


async def get_sample(session: AsyncSession, model_id: int, sample_id: int) -> Sample | None:
    return await session.scalar(select(Sample).where(Sample.id == sample_id, Sample.model_id == model_id))


async def delete_sample(session: AsyncSession, sample_id: int) -> None:
    await session.execute(delete(Sample).where(Sample.id == sample_id))
