"""API keys: the secret is shown once; only its SHA-256 is stored (secrets are high-entropy)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import upsert_insert
from store.tables import ApiKey, KeyNamespace, Namespace, utcnow

SCOPES = ("scoring", "authoring")
KEY_PREFIX = "assay"


@dataclass(frozen=True)
class KeyRecord:
    id: int
    prefix: str
    scope: str
    namespaces: tuple[str, ...]
    label: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedKey:
    record: KeyRecord
    secret: str


class KeyError_(Exception):
    """Base for key management errors."""


class InvalidScope(KeyError_):
    pass


class UnknownKey(KeyError_):
    pass


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_secret(token: str) -> tuple[str, str] | None:
    """`assay_<prefix>_<secret>` → (prefix, token); None if the shape is wrong."""
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], token


async def ensure_namespaces(session: AsyncSession, names: list[str]) -> None:
    """Creates the namespaces that do not exist yet; safe when another key creation races for them."""
    if names:
        await session.execute(upsert_insert(session)(Namespace)
                              .values([{"name": name, "created_at": utcnow()} for name in names])
                              .on_conflict_do_nothing(index_elements=[Namespace.name]))


async def create_key(
    session: AsyncSession, namespaces: list[str], scope: str, label: str = ""
) -> IssuedKey:
    if scope not in SCOPES:
        raise InvalidScope(f"scope must be one of {', '.join(SCOPES)}")
    names = sorted(set(namespaces))
    await ensure_namespaces(session, names)
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32).replace('_', 'x')}"
    row = ApiKey(prefix=prefix, secret_hash=hash_secret(secret), scope=scope, label=label, created_at=utcnow())
    session.add(row)
    await session.flush()
    for name in names:
        session.add(KeyNamespace(key_id=row.id, namespace=name))
    await session.flush()
    return IssuedKey(record=_record(row, names), secret=secret)


def _record(row: ApiKey, namespaces: list[str]) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        prefix=row.prefix,
        scope=row.scope,
        namespaces=tuple(sorted(namespaces)),
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


async def verify(session: AsyncSession, token: str) -> KeyRecord | None:
    """The key for a bearer token, or None if unknown, malformed or revoked."""
    parts = split_secret(token)
    if parts is None:
        return None
    # One round trip: the key row with each of its namespaces (every key owns at least one).
    rows = (await session.execute(
        select(ApiKey, KeyNamespace.namespace)
        .outerjoin(KeyNamespace, KeyNamespace.key_id == ApiKey.id)
        .where(ApiKey.prefix == parts[0])
    )).all()
    row = rows[0][0] if rows else None
    # Compare hashes in constant time even when the prefix is unknown.
    expected = row.secret_hash if row is not None else "0" * 64
    if not hmac.compare_digest(expected, hash_secret(token)) or row is None or row.revoked_at:
        return None
    return _record(row, [name for _, name in rows if name is not None])


async def list_keys(session: AsyncSession) -> list[KeyRecord]:
    rows = (await session.scalars(select(ApiKey).order_by(ApiKey.id))).all()
    links = (await session.execute(select(KeyNamespace.key_id, KeyNamespace.namespace))).all()
    by_key: dict[int, list[str]] = {}
    for key_id, name in links:
        by_key.setdefault(key_id, []).append(name)
    return [_record(row, by_key.get(row.id, [])) for row in rows]


async def revoke(session: AsyncSession, prefix: str) -> KeyRecord:
    """Revokes by the key's public prefix (or the whole secret). Idempotent."""
    parts = split_secret(prefix)
    lookup = parts[0] if parts else prefix
    row = await session.scalar(select(ApiKey).where(ApiKey.prefix == lookup))
    if row is None:
        raise UnknownKey(f"no key with prefix {lookup!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    names = (await session.scalars(select(KeyNamespace.namespace).where(KeyNamespace.key_id == row.id))).all()
    return _record(row, list(names))
