"""Finding a model by handle with the caller's rights applied (SPEC §1.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.errors import ApiError, not_found
from store.tables import Model

# Grammars are checked with fullmatch: "$" would also accept a trailing newline.
NAMESPACE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,38}")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
TAG_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# "vN" with ASCII digits only (\d would take any Unicode digit: "v١" read as v1).
_VERSION_REF = re.compile(r"v([0-9]+)")
# More digits than a 64-bit integer holds name no version; they are never parsed (a 5,000-digit int
# is slow to build and would overflow the column).
MAX_VERSION_DIGITS = 18
NO_SUCH_VERSION = 0  # version numbers start at 1


def version_number(ref: str) -> int | None:
    """N for a reference written "vN", else None (it is a tag). Too many digits → NO_SUCH_VERSION."""
    match = _VERSION_REF.fullmatch(ref)
    if match is None:
        return None
    digits = match.group(1)
    return int(digits) if len(digits) <= MAX_VERSION_DIGITS else NO_SUCH_VERSION


@dataclass(frozen=True)
class Handle:
    namespace: str
    name: str
    # `handle@v3` or `handle@stable` on score and compare; None means the active version.
    pin: str | None = None

    @property
    def full(self) -> str:
        return f"{self.namespace}.{self.name}"


def invalid_handle(handle: str) -> ApiError:
    return ApiError(
        422,
        "invalid_handle",
        "A handle is '<namespace>.<name>' in lowercase: namespace [a-z0-9][a-z0-9-]{0,38}, "
        "name [a-z0-9][a-z0-9_-]{0,62}.",
        {"handle": handle[:200]},
    )


def parse_handle(raw: str, *, allow_pin: bool = False) -> Handle:
    base, at, pin = raw.partition("@")
    if at and (not allow_pin or not TAG_RE.fullmatch(pin)):
        raise invalid_handle(raw)
    namespace, dot, name = base.partition(".")
    if not dot or not NAMESPACE_RE.fullmatch(namespace) or not NAME_RE.fullmatch(name):
        raise invalid_handle(raw)
    return Handle(namespace, name, pin or None)


async def load_model(session: AsyncSession, principal: Principal, handle: Handle | str,
                     *, for_update: bool = False) -> Model:
    """The model if the key may read it; 404 otherwise (existence is never revealed)."""
    if isinstance(handle, str):
        handle = parse_handle(handle)
    principal.require_read(handle.namespace)
    query = select(Model).where(Model.handle == handle.full)
    if for_update:
        query = query.with_for_update()
    model = await session.scalar(query)
    if model is None:
        raise not_found("model")
    return model


async def load_model_for_write(session: AsyncSession, principal: Principal, handle: Handle | str) -> Model:
    """Readable first (404), then owned with the authoring scope (403)."""
    model = await load_model(session, principal, handle)
    principal.require_author(model.namespace)
    return model
