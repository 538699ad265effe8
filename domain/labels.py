"""Quality labels: a number in [0, 1] or a word (SPEC §1.8).

Used by sample uploads, score feedback and the authoring files (`assay build`).

Decisions where the spec is silent:
- The trait's own `positive_label` / `negative_label` are checked before the shared word lists, so a
  trait whose positive pole is called "low" (say, "risk: low") means what its author meant.
- Only real JSON numbers count as numbers: the string "0.7" is not a word on the lists and is
  rejected, as are booleans, NaN and infinities.
- Surrounding whitespace in a word is ignored; matching is case-insensitive.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

POSITIVE_WORDS = frozenset({"positive", "good", "yes", "high", "strong", "excellent"})
MIDDLE_WORDS = frozenset({"fair", "moderate", "mixed", "medium"})
NEGATIVE_WORDS = frozenset({"poor", "no", "low", "weak", "bad", "negative"})


class LabelledTrait(Protocol):
    positive_label: str
    negative_label: str


class InvalidLabel(ValueError):
    """A quality that is neither a number in [0, 1] nor a known label word."""

    def __init__(self, value: Any) -> None:
        super().__init__("quality must be a number in [0, 1] or a label word")
        self.value = value


def parse_quality(value: Any, trait: LabelledTrait) -> float:
    """The quality in [0, 1] that `value` stands for; raises InvalidLabel otherwise."""
    if isinstance(value, bool):
        raise InvalidLabel(value)
    if isinstance(value, (int, float)):
        number = float(value)
        if not math.isfinite(number) or not 0.0 <= number <= 1.0:
            raise InvalidLabel(value)
        return number
    if isinstance(value, str):
        word = value.strip().lower()
        if word and word == (trait.positive_label or "").strip().lower():
            return 1.0
        if word and word == (trait.negative_label or "").strip().lower():
            return 0.0
        if word in POSITIVE_WORDS:
            return 1.0
        if word in MIDDLE_WORDS:
            return 0.5
        if word in NEGATIVE_WORDS:
            return 0.0
    raise InvalidLabel(value)
