"""Trait keys and aggregations (SPEC §1.7, §7).

- An explicit key matches `[a-z0-9][a-z0-9_-]{0,99}` (checked with `fullmatch`).
- A derived key is the name folded to ASCII (NFKD, accents dropped), lowercased, with every run of
  other characters turned into one `_`, no `_` at either end, and cut to the key length. A name
  that leaves nothing (only punctuation, only non-Latin script) derives the empty string: the
  caller must ask for an explicit key.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal, get_args

MAX_TRAIT_KEY_LENGTH = 100
TRAIT_KEY_RE = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{MAX_TRAIT_KEY_LENGTH - 1}}}")

Aggregation = Literal["mean", "max", "min", "none"]
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)
DEFAULT_AGGREGATION: Aggregation = "mean"


def derive_key(name: str) -> str:
    """'Café Culture' → 'cafe_culture'; '' when nothing usable is left."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", folded.lower()).strip("_")[:MAX_TRAIT_KEY_LENGTH].rstrip("_")
