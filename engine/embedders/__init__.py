"""Embedder backends behind one small protocol, and the process-wide singleton ``get_embedder``.

The backend name comes from the argument or ``ASSAY_EMBEDDER`` (default ``minilm``). Each backend is
loaded once per process: loading checks model hashes and builds an inference session.
"""

from __future__ import annotations

import os
import threading

from engine.embedders.base import (
    Embedder,
    EmbedderError,
    ModelIntegrityError,
    UnknownEmbedder,
    l2_normalise,
)

DEFAULT_EMBEDDER = "minilm"
BACKENDS = ("minilm", "use", "hashing")

_loaded: dict[str, Embedder] = {}
_lock = threading.Lock()


def _load(name: str) -> Embedder:
    if name == "minilm":
        from engine.embedders.minilm import MiniLMEmbedder

        return MiniLMEmbedder()
    if name == "use":
        from engine.embedders.use import USEEmbedder

        return USEEmbedder()
    if name == "hashing":
        from engine.embedders.hashing import HashingEmbedder

        return HashingEmbedder()
    raise UnknownEmbedder(f"unknown embedder {name!r}; expected one of {', '.join(BACKENDS)}")


def get_embedder(name: str | None = None) -> Embedder:
    """The shared embedder for ``name`` (or ``$ASSAY_EMBEDDER``, default minilm), loaded on first use."""
    name = (name or os.environ.get("ASSAY_EMBEDDER") or DEFAULT_EMBEDDER).strip().lower()
    embedder = _loaded.get(name)
    if embedder is None:
        with _lock:
            embedder = _loaded.get(name)
            if embedder is None:
                embedder = _load(name)
                _loaded[name] = embedder
    return embedder


__all__ = [
    "BACKENDS",
    "DEFAULT_EMBEDDER",
    "Embedder",
    "EmbedderError",
    "ModelIntegrityError",
    "UnknownEmbedder",
    "get_embedder",
    "l2_normalise",
]
