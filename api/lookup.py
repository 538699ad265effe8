"""Finding a model by handle with the caller's rights applied (SPEC §1.1).

The handle grammar is `domain.handles`; this module turns its errors into the API's 422.
"""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.errors import ApiError, not_found
from api.lookup_cache import CachedModel, model_cache
from domain import handles
from domain.handles import Handle
from store import catalog
from store.tables import Model


def invalid_handle(handle: str) -> ApiError:
    return ApiError(
        422,
        "invalid_handle",
        f"A handle is '<namespace>.<name>' in lowercase: namespace {handles.NAMESPACE_RE.pattern}, "
        f"name {handles.MODEL_NAME_RE.pattern}.",
        {"handle": handle[:200]},
    )


def parse_handle(raw: str, *, allow_pin: bool = False) -> Handle:
    try:
        return handles.parse_handle(raw, allow_pin=allow_pin)
    except handles.InvalidHandle:
        raise invalid_handle(raw) from None


async def load_model(session: AsyncSession, principal: Principal, handle: Handle | str,
                     *, for_update: bool = False) -> Model:
    """The model if the key may read it; 404 otherwise (existence is never revealed)."""
    if isinstance(handle, str):
        handle = parse_handle(handle)
    principal.require_read(handle.namespace)
    cache = model_cache()
    generation, read_at = cache.generation, time.monotonic()
    model = await catalog.model_by_handle(session, handle.full, for_update=for_update)
    if model is None:
        raise not_found("model")
    cache.put(handle.full, CachedModel.of(model), generation, read_at)  # every fresh read refreshes it
    return model


async def load_model_for_scoring(session: AsyncSession, principal: Principal, handle: Handle) -> Model | CachedModel:
    """``load_model`` for the scoring hot path: a row read less than a second ago is reused
    (``api.lookup_cache``), so a score costs no database round trip."""
    principal.require_read(handle.namespace)
    cached = model_cache().get(handle.full)
    return cached if cached is not None else await load_model(session, principal, handle)


async def load_model_for_write(session: AsyncSession, principal: Principal, handle: Handle | str) -> Model:
    """Readable first (404), then owned with the authoring scope (403)."""
    model = await load_model(session, principal, handle)
    principal.require_author(model.namespace)
    return model
