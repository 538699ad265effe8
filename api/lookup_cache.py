"""Short-lived per-process caches of the two lookups every scoring request makes: the caller's key
and the model row. Without them each score costs two database round trips before any embedding.

Decisions (SPEC is silent; see docs/decisions.md "Lookup caches"):
- An entry lives at most ``ASSAY_LOOKUP_CACHE_SECONDS`` (default 1 s, at most 1 s), then the next
  request reads the database again. A key revoked by `assay keys revoke` (another process) or a
  model archived or re-activated through another API process is therefore seen by every process
  within that time plus one request, well inside the 2 s the product promises; 0 turns caching off.
- The process that makes a change sees it at once: every request that may write (any method but
  GET/HEAD/OPTIONS, scoring routes excepted) empties the model cache when it ends, and every fresh
  read of a model row (GET, writes) replaces the cached one. A generation counter keeps a lookup
  that started before such a change from putting its older row back afterwards.
- Only successful key checks are cached: an unknown key is looked up every time, so a key created
  a moment ago works at once. Cached keys are found by the SHA-256 of the token, never the token.
- Only plain values are cached (``KeyRecord``, ``CachedModel``), never ORM rows bound to a session.
- Both caches are bounded (``MAX_ENTRIES`` each, oldest out first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, Hashable, TypeVar

from store.keys import KeyRecord
from store.tables import Model

MAX_TTL_SECONDS = 1.0
MAX_ENTRIES = 10_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A bounded map whose entries expire ``ttl`` seconds after they were read from the database.

    Used from the event loop only (no lock): every get and put runs between two awaits.
    """

    def __init__(self, ttl: float = MAX_TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = 0
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() >= entry[0]:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V, generation: int, read_at: float) -> None:
        """Cache ``value`` read at ``read_at`` (monotonic) unless the cache was emptied since ``generation``."""
        if self.ttl <= 0 or generation != self.generation:
            return
        self._entries.pop(key, None)
        self._entries[key] = (read_at + self.ttl, value)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class CachedModel:
    """The fields of a model row that scoring reads (the same names as on ``store.tables.Model``)."""

    id: int
    handle: str
    namespace: str
    state: str
    active_version_id: int | None
    max_depth: int

    @classmethod
    def of(cls, row: Model) -> CachedModel:
        return cls(row.id, row.handle, row.namespace, row.state, row.active_version_id, row.max_depth)


_keys: TtlCache[str, KeyRecord] = TtlCache()
_models: TtlCache[str, CachedModel] = TtlCache()


def key_cache() -> TtlCache[str, KeyRecord]:
    return _keys


def model_cache() -> TtlCache[str, CachedModel]:
    return _models


def configure(ttl: float) -> None:
    for cache in (_keys, _models):
        cache.ttl = min(ttl, MAX_TTL_SECONDS)
        cache.clear()


def forget_all() -> None:
    """Drop every cached key and model (after a change made outside the API, e.g. by a test helper)."""
    _keys.clear()
    _models.clear()
