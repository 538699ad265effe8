"""Shared pieces of the embedder backends: the protocol, errors, and window splitting by word spans."""

from __future__ import annotations

import re
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from engine.errors import EngineError


class EmbedderError(EngineError):
    """An embedder could not be loaded or used."""


class ModelIntegrityError(EmbedderError):
    """A model file's sha256 differs from the pinned value (corrupt or swapped weights)."""


class UnknownEmbedder(EmbedderError):
    """No backend is registered under the requested name."""


@runtime_checkable
class Embedder(Protocol):
    id: str
    model_hash: str
    dim: int

    def embed(self, text: str) -> np.ndarray: ...

    def embed_many(self, texts: list[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...

    def split_windows(self, text: str, max_tokens: int) -> list[tuple[str, int]]: ...


def embed_each(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """``embed_many`` for backends that embed one text at a time: rows in input order.

    Each text is its own inference, so a text's vector never depends on what it was batched with
    (padding in a shared batch could change the last bits, and scores must be a function of the text)."""
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for row, text in enumerate(texts):
        out[row] = embedder.embed(text)
    return out


def l2_normalise(vector: np.ndarray) -> np.ndarray:
    """Unit-length float32 copy; the norm is a numpy pairwise sum (never BLAS) so it is thread-safe-deterministic."""
    v = np.asarray(vector, dtype=np.float64)
    norm = float(np.sqrt(np.sum(v * v)))
    if norm > 0.0:
        v = v / norm
    return v.astype(np.float32)


_WORD_SPAN = re.compile(r"\S+")


def split_by_word_spans(
    text: str, max_tokens: int, tokens_of: Callable[[str], int], overhead: int
) -> list[tuple[str, int]]:
    """Greedy windows of whole whitespace-separated words, each costing at most ``max_tokens``.

    ``tokens_of(word)`` is a word's token cost without special tokens, ``overhead`` the per-sequence
    special tokens. A single word longer than the budget becomes its own window. Window texts are
    slices of the original text, so the embedder sees the original spacing.
    """
    budget = max(1, max_tokens - overhead)
    windows: list[tuple[str, int]] = []
    start = end = None
    used = 0
    for match in _WORD_SPAN.finditer(text):
        cost = tokens_of(match.group())
        if start is not None and used + cost > budget:
            windows.append((text[start:end], used + overhead))
            start, used = None, 0
        if start is None:
            start = match.start()
        end = match.end()
        used += cost
    if start is not None:
        windows.append((text[start:end], used + overhead))
    return windows
