"""Synthesis request/response types, effort-scaled counts and the generator protocol (SPEC §5.5).

Counts (decision):
- ``from_traits``: exemplars per trait *per pole* — low 4, medium 8, high 12, xhigh 16, max 24.
- ``diversify``: variations per existing sample — low 1, medium 2, high 2, xhigh 3, max 4 — and at
  most ``DIVERSIFY_MAX_PER_TRAIT`` new samples per trait. Samples with quality exactly 0.5 have no
  pole, so they are neither varied nor used as material.
Generated samples are positives with quality 1.0 / negatives with 0.0 for ``from_traits``; a
variation carries the quality of the sample(s) it came from, so it keeps its label.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Protocol

from domain.effort import DEFAULT_EFFORT
from engine.errors import EngineError

FROM_TRAITS = "from_traits"
DIVERSIFY = "diversify"
SYNTH_TYPES = (FROM_TRAITS, DIVERSIFY)

PER_POLE = {"low": 4, "medium": 8, "high": 12, "xhigh": 16, "max": 24}
PER_SAMPLE = {"low": 1, "medium": 2, "high": 2, "xhigh": 3, "max": 4}
DIVERSIFY_MAX_PER_TRAIT = 200
MAX_TEXT_CHARS = 4000


class SynthesisError(EngineError):
    """Samples could not be generated (bad request, endpoint failure or unusable output)."""


@dataclass(frozen=True)
class TraitSpec:
    key: str
    name: str
    description: str = ""
    positive_label: str = "positive"
    negative_label: str = "negative"


@dataclass(frozen=True)
class ExistingSample:
    trait_key: str
    text: str
    quality: float


@dataclass(frozen=True)
class GeneratedSample:
    trait_key: str
    text: str
    quality: float


@dataclass(frozen=True)
class SynthesisRequest:
    synth_type: str
    traits: tuple[TraitSpec, ...]
    effort: str = DEFAULT_EFFORT
    samples: tuple[ExistingSample, ...] = ()

    def __post_init__(self) -> None:
        if self.synth_type not in SYNTH_TYPES:
            raise SynthesisError(f"unknown synth_type {self.synth_type!r}")
        if self.effort not in PER_POLE:
            raise SynthesisError(f"unknown effort {self.effort!r}")
        # Accept lists from callers but keep the request hashable and immutable.
        object.__setattr__(self, "traits", tuple(self.traits))
        object.__setattr__(self, "samples", tuple(self.samples))

    @property
    def per_pole(self) -> int:
        return PER_POLE[self.effort]

    @property
    def per_sample(self) -> int:
        return PER_SAMPLE[self.effort]

    def samples_of(self, trait_key: str, positive: bool) -> list[ExistingSample]:
        """The trait's samples on one pole, in request order."""
        return [
            s
            for s in self.samples
            if s.trait_key == trait_key and (s.quality > 0.5 if positive else s.quality < 0.5)
        ]

    def diversify_budget(self, trait_key: str) -> int:
        sided = len(self.samples_of(trait_key, True)) + len(self.samples_of(trait_key, False))
        return min(DIVERSIFY_MAX_PER_TRAIT, sided * self.per_sample)

    def fingerprint(self) -> str:
        """Stable digest of the whole request; seeds the offline generator."""
        canonical = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class SampleGenerator(Protocol):
    def generate(self, request: SynthesisRequest) -> list[GeneratedSample]: ...


def normalise_text(text: str) -> str:
    return " ".join(text.split())


class Deduper:
    """Admits a text once, and never one equal (after whitespace normalisation) to an existing sample."""

    def __init__(self, existing: tuple[ExistingSample, ...]):
        self._seen = {normalise_text(s.text) for s in existing}

    def admit(self, text: str) -> bool:
        key = normalise_text(text)
        if not key or key in self._seen:
            return False
        self._seen.add(key)
        return True
