"""Score-card rules (SPEC §4): universal score, breaks, tiers, headroom, band, confidence, composite.

Everything here is a pure function of its inputs. Numbers that reach the wire are ints computed with
explicit half-up rounding (Python's ``round`` is banker's rounding and would make 12.5 → 12).

Decisions recorded here:
- Percentiles use numpy's ``linear`` method on the *integer* universal scores of the out-of-fold
  predictions, then round half up to an int, so breaks and bands live on the same 0–100 scale as
  the scores they are compared with.
- Confidence model: logistic regression of "correct side" on d = |score − 50| (integer score),
  fitted by Newton's method with an L2 penalty (λ = 0.1 on both coefficients, d scaled to [0, 1]
  inside the fit) so perfectly separated data still yields finite parameters. "Correct side" means
  (score ≥ 50) == (q > 0.5); samples with q == 0.5 carry no side and are left out. The parameters
  are stored on the unscaled d, i.e. P = sigmoid(conf_a + conf_b · d).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from engine.errors import EngineError

TIER_STRONG = "Strong"
TIER_SOLID = "Solid"
TIER_DEVELOPING = "Developing"
TIER_WEAK = "Weak"

CONFIDENCE_LOW = "low"
CONFIDENCE_MODERATE = "moderate"
CONFIDENCE_HIGH = "high"
# Weakest first: the card's top-level confidence is the minimum in this order.
CONFIDENCE_ORDER = (CONFIDENCE_LOW, CONFIDENCE_MODERATE, CONFIDENCE_HIGH)

LOW_BELOW = 0.65  # P(correct) under this → low
HIGH_FROM = 0.85  # P(correct) at or above this → high

_RIDGE = 0.1  # L2 penalty of the confidence fit (on d scaled to [0, 1])
_D_SCALE = 50.0
_NEWTON_MAX_ITER = 100
_NEWTON_TOL = 1e-12


class CardParamsError(EngineError):
    """The out-of-fold data cannot define a score card (e.g. a pole has no samples)."""


@dataclass(frozen=True)
class CardParams:
    """Per-trait card parameters, stored in the version snapshot."""

    developing: int
    solid: int
    strong: int
    pos_band: tuple[int, int]
    neg_band: tuple[int, int]
    conf_a: float
    conf_b: float

    def to_dict(self) -> dict:
        return {
            "developing": self.developing,
            "solid": self.solid,
            "strong": self.strong,
            "pos_band": [self.pos_band[0], self.pos_band[1]],
            "neg_band": [self.neg_band[0], self.neg_band[1]],
            "conf_a": self.conf_a,
            "conf_b": self.conf_b,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "CardParams":
        return cls(
            developing=int(d["developing"]),
            solid=int(d["solid"]),
            strong=int(d["strong"]),
            pos_band=(int(d["pos_band"][0]), int(d["pos_band"][1])),
            neg_band=(int(d["neg_band"][0]), int(d["neg_band"][1])),
            conf_a=float(d["conf_a"]),
            conf_b=float(d["conf_b"]),
        )

    def probability_correct(self, score: int) -> float:
        return _sigmoid(self.conf_a + self.conf_b * abs(score - 50))


def round_half_up(x: float) -> int:
    """Round to the nearest int, .5 going up; the 6-decimal pre-round absorbs float noise."""
    return math.floor(round(x, 6) + 0.5)


def universal_score(p: float) -> int:
    """The 0–100 wire score of a calibrated probability: floor(round(100·p, 6) + 0.5)."""
    return round_half_up(100.0 * float(p))


def _percentile_int(values: np.ndarray, pct: float) -> int:
    return round_half_up(float(np.percentile(values, pct, method="linear")))


def _sigmoid(z: float) -> float:
    # Split by sign so large |z| never overflows exp.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def fit_confidence(scores: np.ndarray, q: np.ndarray) -> tuple[float, float]:
    """Fit P(correct side | d) = sigmoid(a + b·d); returns (a, b) on the unscaled d."""
    scores = np.asarray(scores, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    sided = q != 0.5
    scores, q = scores[sided], q[sided]
    if scores.size == 0:
        raise CardParamsError("confidence fit needs samples with quality other than 0.5")
    y = ((scores >= 50) == (q > 0.5)).astype(np.float64)
    x = np.column_stack([np.ones_like(scores), np.abs(scores - 50.0) / _D_SCALE])
    w = np.zeros(2)
    for _ in range(_NEWTON_MAX_ITER):
        z = np.clip(x @ w, -500.0, 500.0)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = x.T @ (p - y) + _RIDGE * w
        hess = (x.T * (p * (1.0 - p))) @ x + _RIDGE * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w = w - step
        if float(np.max(np.abs(step))) < _NEWTON_TOL:
            break
    return float(w[0]), float(w[1] / _D_SCALE)


def card_params_from_oof(oof_p: np.ndarray, q: np.ndarray) -> CardParams:
    """Card parameters from out-of-fold universal probabilities and the samples' qualities."""
    oof_p = np.asarray(oof_p, dtype=np.float64).ravel()
    q = np.asarray(q, dtype=np.float64).ravel()
    if oof_p.shape != q.shape:
        raise CardParamsError(f"oof_p has {oof_p.size} values but q has {q.size}")
    scores = np.array([universal_score(p) for p in oof_p], dtype=np.float64)
    pos, neg = scores[q > 0.5], scores[q < 0.5]
    if pos.size == 0 or neg.size == 0:
        raise CardParamsError("card parameters need at least one positive and one negative sample")
    pos_p25, pos_p75 = _percentile_int(pos, 25), _percentile_int(pos, 75)
    neg_p25, neg_p75 = _percentile_int(neg, 25), _percentile_int(neg, 75)
    developing = neg_p75
    solid = max(pos_p25, developing)  # overlapping clusters collapse the Developing tier
    strong = max(pos_p75, solid)
    conf_a, conf_b = fit_confidence(scores, q)
    return CardParams(
        developing=developing,
        solid=solid,
        strong=strong,
        pos_band=(pos_p25, pos_p75),
        neg_band=(neg_p25, neg_p75),
        conf_a=conf_a,
        conf_b=conf_b,
    )


def tier_of(score: int, params: CardParams) -> str:
    if score >= params.strong:
        return TIER_STRONG
    if score >= params.solid:
        return TIER_SOLID
    if score >= params.developing:
        return TIER_DEVELOPING
    return TIER_WEAK


def headroom_of(score: int, tier: str, params: CardParams) -> int:
    """Points to the next break up; 0 at Strong; clamped at 0 for safety."""
    next_break = {
        TIER_WEAK: params.developing,
        TIER_DEVELOPING: params.solid,
        TIER_SOLID: params.strong,
        TIER_STRONG: score,
    }[tier]
    return max(0, next_break - score)


def confidence_of(score: int, params: CardParams, in_support: bool) -> str:
    if not in_support:
        return CONFIDENCE_LOW
    p_correct = params.probability_correct(score)
    if p_correct < LOW_BELOW:
        return CONFIDENCE_LOW
    if p_correct >= HIGH_FROM:
        return CONFIDENCE_HIGH
    return CONFIDENCE_MODERATE


def trait_detail(p: float, polarity: float, params: CardParams, in_support: bool) -> dict:
    """One trait's TraitScoreDetail dict from its calibrated probability and native polarity."""
    score = universal_score(p)
    confidence = confidence_of(score, params, in_support)
    tier = tier_of(score, params)
    band = params.pos_band if score >= 50 else params.neg_band
    low = confidence == CONFIDENCE_LOW
    return {
        "score": score,
        "label": None if low else tier,
        "confidence": confidence,
        "band": [band[0], band[1]],
        "headroom": None if low else headroom_of(score, tier, params),
        "breaks": {"developing": params.developing, "solid": params.solid, "strong": params.strong},
        "native": {"polarity": float(polarity)},
    }


def composite_score(scores: list[int]) -> int:
    """Harmonic mean of the positive scores, rounded half up (exact rational arithmetic)."""
    positive = [int(s) for s in scores if s > 0]
    if not positive:
        return 0
    harmonic = Fraction(len(positive)) / sum(Fraction(1, s) for s in positive)
    return math.floor(harmonic + Fraction(1, 2))


def weakest_confidence(levels: list[str]) -> str:
    return min(levels, key=CONFIDENCE_ORDER.index)


def assemble_card(details: dict[str, dict], input_tokens: int) -> dict:
    """The score card (without metadata) from per-trait details, keeping the details' key order."""
    if not details:
        raise EngineError("a score card needs at least one trait")
    scores = {key: d["score"] for key, d in details.items()}
    headrooms = [d["headroom"] for d in details.values() if d["headroom"] is not None]
    return {
        "scores": scores,
        "composite": composite_score(list(scores.values())),
        "confidence": weakest_confidence([d["confidence"] for d in details.values()]),
        "headroom": max(headrooms) if headrooms else None,
        "detail": details,
        "input_tokens": int(input_tokens),
    }


def with_metadata(card: dict, request_id: str, version_label: str, sample_ids: list[int]) -> dict:
    """The ScoreResponse: the card plus its metadata block, last (the wire's key order)."""
    return {**card, "metadata": {"request_id": request_id, "version_id": version_label, "sample_ids": sample_ids}}


def response_json(response: dict) -> str:
    """A response as the API sends it (Starlette's JSONResponse settings), so a stored card can be
    sent again byte for byte."""
    return json.dumps(response, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def compare_cards(a: dict, b: dict) -> dict:
    """Compare two cards of the same model: per-trait deltas over the traits both cards carry."""
    per_trait = {
        key: {"a": a_score, "b": b["scores"][key], "delta": b["scores"][key] - a_score}
        for key, a_score in a["scores"].items()
        if key in b["scores"]
    }
    return {
        "a": a,
        "b": b,
        "improvement": b["composite"] - a["composite"],
        "per_trait": per_trait,
    }
