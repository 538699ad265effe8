"""Deterministic feature-hashing embedder (words + character n-grams) for fast unit tests only."""

from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np

from engine.embedders.base import embed_each, l2_normalise, split_by_word_spans

_WORD = re.compile(r"\w+", re.UNICODE)
_SPECIAL_TOKENS = 2  # counted like an encoder's begin/end markers so window budgets behave alike


def hashed_features(text: str, dim: int, char_ngrams: tuple[int, ...] = (3, 4)) -> np.ndarray:
    """Signed hashed counts of lowercase words and their character n-grams (crc32: stable across runs)."""
    vector = np.zeros(dim, dtype=np.float64)
    for word in _WORD.findall(text.lower()):
        grams = ["w:" + word]
        padded = f" {word} "
        for n in char_ngrams:
            grams.extend("c:" + padded[i:i + n] for i in range(len(padded) - n + 1))
        for gram in grams:
            h = zlib.crc32(gram.encode("utf-8"))
            vector[h % dim] += 1.0 if (h >> 31) & 1 else -1.0
    return vector


class HashingEmbedder:
    id = "hashing"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.model_hash = hashlib.sha256(f"hashing-v1:dim={dim}:crc32:words+c3+c4".encode()).hexdigest()

    def embed(self, text: str) -> np.ndarray:
        return l2_normalise(hashed_features(text, self.dim))

    def embed_many(self, texts: list[str]) -> np.ndarray:
        return embed_each(self, texts)

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + _SPECIAL_TOKENS

    def split_windows(self, text: str, max_tokens: int) -> list[tuple[str, int]]:
        windows = split_by_word_spans(text, max_tokens, lambda _word: 1, _SPECIAL_TOKENS)
        return windows or [(text, self.count_tokens(text))]
