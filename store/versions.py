"""SQL for versions, their tags and activation (SPEC §1.6)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.states import OperationKind
from store.db import upsert_insert
from store.tables import Model, Version, VersionTag


async def list_versions(session: AsyncSession, model_id: int, limit: int,
                        below_version_no: int | None = None) -> list[Version]:
    """Newest first; up to ``limit`` rows strictly below ``below_version_no`` (the cursor)."""
    query = select(Version).where(Version.model_id == model_id)
    if below_version_no is not None:
        query = query.where(Version.version_no < below_version_no)
    query = query.order_by(Version.version_no.desc()).limit(limit)
    return list(await session.scalars(query))


async def tags_by_version(session: AsyncSession, version_ids: Sequence[int]) -> dict[int, list[str]]:
    """Tag names per version id (every id asked for, untagged ones with []), each list sorted by name."""
    tags: dict[int, list[str]] = {version_id: [] for version_id in version_ids}
    if not tags:
        return tags
    rows = await session.execute(
        select(VersionTag.version_id, VersionTag.tag)
        .where(VersionTag.version_id.in_(list(tags)))
        .order_by(VersionTag.version_id, VersionTag.tag)
    )
    for version_id, tag in rows:
        tags[version_id].append(tag)
    return tags


async def tags_of(session: AsyncSession, version_id: int) -> list[str]:
    return (await tags_by_version(session, [version_id]))[version_id]


async def get_by_number(session: AsyncSession, model_id: int, version_no: int) -> Version | None:
    return await session.scalar(
        select(Version).where(Version.model_id == model_id, Version.version_no == version_no)
    )


async def get_by_tag(session: AsyncSession, model_id: int, tag: str) -> Version | None:
    return await session.scalar(
        select(Version)
        .join(VersionTag, VersionTag.version_id == Version.id)
        .where(VersionTag.model_id == model_id, VersionTag.tag == tag)
    )


async def get_by_id(session: AsyncSession, version_id: int) -> Version | None:
    return await session.get(Version, version_id)


async def latest_retrain(session: AsyncSession, model_id: int) -> Version | None:
    """The newest version a background retrain produced, activated or not."""
    return await session.scalar(select(Version).where(Version.model_id == model_id,
                                                      Version.triggered_by == OperationKind.RETRAIN)
                                .order_by(Version.version_no.desc()).limit(1))


async def version_no_of(session: AsyncSession, version_id: int) -> int | None:
    return await session.scalar(select(Version.version_no).where(Version.id == version_id))


async def set_tag(session: AsyncSession, model_id: int, tag: str, version_id: int) -> None:
    """Point ``tag`` at ``version_id``, moving it if it already named another version (one upsert)."""
    statement = upsert_insert(session)(VersionTag).values(model_id=model_id, tag=tag, version_id=version_id)
    await session.execute(statement.on_conflict_do_update(
        index_elements=[VersionTag.model_id, VersionTag.tag], set_={"version_id": statement.excluded.version_id}))


async def delete_tag(session: AsyncSession, model_id: int, tag: str) -> bool:
    result = await session.execute(
        delete(VersionTag).where(VersionTag.model_id == model_id, VersionTag.tag == tag)
    )
    return (result.rowcount or 0) > 0


def activate(model: Model, version: Version) -> None:
    """An explicit activation: serve ``version`` and pin it against background retrains."""
    model.active_version_id = version.id
    model.pinned = True
