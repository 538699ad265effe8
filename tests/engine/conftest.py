"""Shared fixtures for the engine tests that train models: the hashing embedder and small corpora."""

from __future__ import annotations

import pytest

from engine.embedders.hashing import HashingEmbedder
from engine.training import LabelledSample, TraitSpec

POSITIVE_WORDS = ["great", "wonderful", "excellent", "lovely", "friendly", "helpful", "fantastic", "superb",
                  "delightful", "brilliant", "kind", "quick"]
NEGATIVE_WORDS = ["terrible", "awful", "rude", "slow", "useless", "horrible", "dreadful", "nasty",
                  "broken", "poor", "unpleasant", "disappointing"]
NEUTRAL_WORDS = ["the", "staff", "service", "order", "table", "visit", "meal", "room", "call", "team"]


class CountingEmbedder(HashingEmbedder):
    """The real hashing embedder, counting how many texts it embeds."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__(dim)
        self.embedded = 0

    def embed(self, text):
        self.embedded += 1
        return super().embed(text)


def sentence(words: list[str], i: int, length: int = 5) -> str:
    picked = [words[(i * 7 + j * 3) % len(words)] for j in range(length)]
    filler = [NEUTRAL_WORDS[(i + j) % len(NEUTRAL_WORDS)] for j in range(3)]
    return " ".join(filler[:2] + picked + filler[2:]) + f" #{i}"


def polar_samples(key: str, n_pos: int, n_neg: int, start: int = 0) -> list[LabelledSample]:
    pos = [LabelledSample(key, sentence(POSITIVE_WORDS, start + i), 0.75 + 0.25 * ((i % 3) / 2)) for i in range(n_pos)]
    neg = [LabelledSample(key, sentence(NEGATIVE_WORDS, start + i), 0.25 * ((i % 3) / 2)) for i in range(n_neg)]
    return pos + neg


@pytest.fixture
def hashing():
    return HashingEmbedder(256)


@pytest.fixture
def tone_model(hashing):
    from engine.training import train_model

    traits = [TraitSpec("tone", "Tone"), TraitSpec("warmth", "Warmth", aggregation="max")]
    samples = polar_samples("tone", 30, 30) + polar_samples("warmth", 20, 25, start=100)
    return train_model(traits, samples, hashing, "medium")
