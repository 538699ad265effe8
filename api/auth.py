"""Who is calling, and what they may touch (SPEC §1.1–1.2)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiError, forbidden, not_found
from api.lookup_cache import key_cache
from store import keys as key_store


@dataclass(frozen=True)
class Principal:
    key_id: int
    scope: str
    namespaces: frozenset[str]
    public_namespaces: frozenset[str]

    @property
    def is_authoring(self) -> bool:
        return self.scope == "authoring"

    def owns(self, namespace: str) -> bool:
        return namespace in self.namespaces

    def can_read(self, namespace: str) -> bool:
        return namespace in self.namespaces or namespace in self.public_namespaces

    def require_read(self, namespace: str, what: str = "model") -> None:
        """Unreadable things are reported as missing, never as forbidden."""
        if not self.can_read(namespace):
            raise not_found(what)

    def require_author(self, namespace: str) -> None:
        if not self.is_authoring:
            raise forbidden("This key has the scoring scope; authoring needs an authoring key.")
        if not self.owns(namespace):
            raise forbidden(f"This key does not own namespace '{namespace}'.")

    def require_owner(self, namespace: str) -> None:
        if not self.owns(namespace):
            raise forbidden(f"Only keys that own namespace '{namespace}' may read this.")


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def principal_from_request(request: Request, session: AsyncSession) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
    token = token.strip()
    cache = key_cache()
    digest = key_store.hash_secret(token)
    record = cache.get(digest)
    if record is None:
        generation, read_at = cache.generation, time.monotonic()
        record = await key_store.verify(session, token)
        if record is None:
            raise unauthorized("The API key is unknown or revoked.")
        cache.put(digest, record, generation, read_at)
    limiter = request.app.state.rate_limiter
    if limiter is not None:
        await limiter.check(record.prefix)
    settings = request.app.state.settings
    return Principal(
        key_id=record.id,
        scope=record.scope,
        namespaces=frozenset(record.namespaces),
        public_namespaces=frozenset(settings.public_namespace_list),
    )
