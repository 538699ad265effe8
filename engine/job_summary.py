"""The per-trait summary of a score job's results (SPEC §9.2), computed once when the job ends.

Decisions (SPEC is silent): ``mean`` and the percentiles are over the integer trait scores of the
scored items (numpy's ``linear`` percentile, as the card's breaks), rounded to 2 decimals; ``tiers``
counts each card label, ``null`` for the labels that low confidence hides; failed items count
nowhere, so a job whose items all failed has an empty summary.
"""

from __future__ import annotations

import math

import numpy as np

from engine.card import CONFIDENCE_ORDER, TIER_DEVELOPING, TIER_SOLID, TIER_STRONG, TIER_WEAK

TIER_KEYS = (TIER_WEAK, TIER_DEVELOPING, TIER_SOLID, TIER_STRONG, "null")


class JobSummary:
    """Accumulates cards one at a time; memory is one small int per item and trait."""

    def __init__(self) -> None:
        self._scores: dict[str, list[int]] = {}
        self._tiers: dict[str, dict[str, int]] = {}
        self._confidence: dict[str, dict[str, int]] = {}

    def add(self, card: dict) -> None:
        for key, detail in card["detail"].items():
            if key not in self._scores:
                self._scores[key] = []
                self._tiers[key] = dict.fromkeys(TIER_KEYS, 0)
                self._confidence[key] = dict.fromkeys(CONFIDENCE_ORDER, 0)
            self._scores[key].append(int(detail["score"]))
            self._tiers[key][detail["label"] or "null"] += 1
            self._confidence[key][detail["confidence"]] += 1

    def result(self) -> dict:
        out = {}
        for key, scores in self._scores.items():
            values = np.asarray(scores, dtype=np.float64)
            out[key] = {
                "mean": round(math.fsum(scores) / len(scores), 2),
                "p10": round(float(np.percentile(values, 10)), 2),
                "p50": round(float(np.percentile(values, 50)), 2),
                "p90": round(float(np.percentile(values, 90)), 2),
                "tiers": self._tiers[key],
                "confidence": self._confidence[key],
            }
        return out
