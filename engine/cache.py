"""Embedding cache keyed by (embedder id, sha256 of the text), so retraining skips unchanged samples.

``EmbeddingCache`` is the protocol a store-backed cache implements too; ``MemoryEmbeddingCache`` is
the in-process LRU one. ``embed_documents`` defines what a training sample's embedding *is*: the
embedding of its text when it fits one encoder window, else the L2-normalised mean of its window
embeddings (the same windows scoring uses), so long samples are not silently cut at 256 tokens.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from engine.embedders.base import l2_normalise



def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@runtime_checkable
class EmbeddingCache(Protocol):
    def get_many(self, embedder_id: str, hashes: list[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, embedder_id: str, vectors: dict[str, np.ndarray]) -> None: ...


class MemoryEmbeddingCache:
    """Thread-safe LRU of float32 vectors, bounded by entry count."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, embedder_id: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for h in hashes:
                key = (embedder_id, h)
                vector = self._entries.get(key)
                if vector is not None:
                    self._entries.move_to_end(key)
                    found[h] = vector
        return found

    def put_many(self, embedder_id: str, vectors: dict[str, np.ndarray]) -> None:
        with self._lock:
            for h, vector in vectors.items():
                key = (embedder_id, h)
                stored = np.array(vector, dtype=np.float32)  # own copy: callers may mutate theirs
                stored.setflags(write=False)
                self._entries[key] = stored
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def embed_document(embedder, text: str) -> np.ndarray:
    """A sample's training embedding: one window → its vector; several → normalised window mean.

    The windows are exactly the ones scoring uses (``engine.segment``, 50 KB cut included).
    """
    from engine.segment import segment  # deferred: segment is a sibling module with its own imports

    windows = segment(text, embedder)
    if len(windows) == 1:
        return embedder.embed(windows[0].text)
    vectors = embedder.embed_many([w.text for w in windows]).astype(np.float64)
    return l2_normalise(vectors.mean(axis=0))


def embed_with_cache(embedder, texts: list[str], cache: EmbeddingCache | None = None, *,
                     on_embedded: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(len(texts), dim) float32 document embeddings, embedding each distinct uncached text once.

    ``on_embedded(done, total)`` reports progress over the texts that actually need embedding.
    """
    hashes = [text_hash(t) for t in texts]
    known = cache.get_many(embedder.id, sorted(set(hashes))) if cache is not None else {}
    missing: dict[str, str] = {}
    for text, h in zip(texts, hashes):
        if h not in known and h not in missing:
            missing[h] = text
    if on_embedded is not None:
        on_embedded(0, len(missing))
    fresh: dict[str, np.ndarray] = {}
    for h, text in missing.items():
        fresh[h] = embed_document(embedder, text)
        if on_embedded is not None:
            on_embedded(len(fresh), len(missing))
    if cache is not None and fresh:
        cache.put_many(embedder.id, fresh)
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for row, h in enumerate(hashes):
        out[row] = known[h] if h in known else fresh[h]
    return out
