"""Evaluation statistics of one trait's scores against labels (SPEC §9.5), and the retrain gate rule.

Inputs are universal scores (0–100, as on the card; the gate passes probabilities before rounding,
since only their order matters) and qualities in [0, 1] (SPEC §1.8: positive words 1.0, negative 0.0,
middle 0.5). As in training, a label is a positive when q > 0.5 and a
negative when q < 0.5; q = 0.5 counts toward ``n`` and Spearman's ρ but on neither pole.

- AUC is the concordance of scores with the poles (ties ½). Its standard error is DeLong's, from the
  structural components per positive and per negative (computed by sorting: O(n log n)); the 95 %
  interval is ``auc ± 1.96·se`` clipped to [0, 1]. Paired ΔAUC of two versions scored on the same
  items uses the covariance of their components (DeLong, DeLong & Clarke-Pearson 1988).
- Spearman's ρ is the Pearson correlation of mid-ranks (ties share their average rank); it is
  undefined (None) when either side is constant.
- Break shares: for each break (developing, solid, strong) the share of positives scoring at or
  above it and the share of negatives scoring below it — "on the right side" of it.
- Calibration: per tier of the card, how many labelled poles fell in it and the observed share of
  positives among them.

Everything is numpy sorting and sums in a fixed order: the same input gives the same bytes.

The retrain gate (``gate_trait``, ``gate_decision``; the reasoning is in docs/decisions.md, "Evaluation
statistics and the gate on background retrains") judges a retrained version against the active one
on held-out feedback that neither trained on. Per trait, with at least ``GATE_MIN_PER_POLE``
held-out labels on each pole, it refuses when either one-sided test has p < ``GATE_ALPHA``:
- worse: the paired DeLong ΔAUC (new − active) is below −``GATE_TOLERANCE``;
- conflict: the active version's AUC on the held-out feedback is below the cross-validated AUC it
  was published with (two independent estimates: DeLong's error for the first, Hanley–McNeil's from
  the stored AUC and pole sizes for the second), i.e. the feedback disagrees with what the trait
  meant until now.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from engine.balanced_cosine import pole_masks
from engine.card import TIER_DEVELOPING, TIER_SOLID, TIER_STRONG, TIER_WEAK, CardParams, tier_of

Z_95 = NormalDist().inv_cdf(0.975)
TIERS = (TIER_WEAK, TIER_DEVELOPING, TIER_SOLID, TIER_STRONG)


def auc_components(scores: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong structural components of the concordance of ``scores`` with q.

    Per positive: the fraction of negatives it outranks (ties ½); per negative: the fraction of
    positives that outrank it. The mean of either vector is the concordance.
    """
    pos, neg = pole_masks(q)
    sp, sn = np.sort(scores[pos], kind="stable"), np.sort(scores[neg], kind="stable")
    below = (np.searchsorted(sn, scores[pos], "left") + np.searchsorted(sn, scores[pos], "right")) / 2.0
    above = sp.size - (np.searchsorted(sp, scores[neg], "left") + np.searchsorted(sp, scores[neg], "right")) / 2.0
    return below / max(sn.size, 1), above / max(sp.size, 1)


def mean_variance(values: np.ndarray) -> float:
    """Variance of the mean of ``values`` (sample variance / n; 0 below two values)."""
    if values.size < 2:
        return 0.0
    centred = values - np.sum(values) / values.size
    return float(np.sum(centred * centred)) / (values.size - 1) / values.size


def _mean_covariance(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2:
        return 0.0
    return float(np.sum((a - np.sum(a) / a.size) * (b - np.sum(b) / b.size))) / (a.size - 1) / a.size


@dataclass(frozen=True)
class AucEstimate:
    auc: float | None  # None without both poles
    se: float | None
    low: float | None
    high: float | None
    n_positive: int
    n_negative: int


@dataclass(frozen=True)
class PairedAuc:
    """Version b against version a on the same items: delta = auc_b − auc_a."""

    delta: float | None
    se: float | None
    z: float | None
    p: float | None  # two-sided
    n_positive: int
    n_negative: int


def lower_tail(z: float) -> float:
    """P(Z ≤ z) for a standard normal, accurate far into the tail (erfc, not 1 + erf)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _arrays(scores, q) -> tuple[np.ndarray, np.ndarray]:
    s, labels = np.asarray(scores, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if s.shape != labels.shape or s.ndim != 1:
        raise ValueError("scores and labels must be 1-d and of the same length")
    return s, labels


def auc_interval(scores, q) -> AucEstimate:
    s, labels = _arrays(scores, q)
    pos, neg = pole_masks(labels)
    m, n = int(pos.sum()), int(neg.sum())
    if m == 0 or n == 0:
        return AucEstimate(None, None, None, None, m, n)
    v10, v01 = auc_components(s, labels)
    auc = float(np.sum(v10)) / m
    se = math.sqrt(mean_variance(v10) + mean_variance(v01))
    return AucEstimate(auc, se, max(0.0, auc - Z_95 * se), min(1.0, auc + Z_95 * se), m, n)


def paired_delong(scores_a, scores_b, q) -> PairedAuc:
    a, labels = _arrays(scores_a, q)
    b, _ = _arrays(scores_b, q)
    pos, neg = pole_masks(labels)
    m, n = int(pos.sum()), int(neg.sum())
    if m == 0 or n == 0:
        return PairedAuc(None, None, None, None, m, n)
    a10, a01 = auc_components(a, labels)
    b10, b01 = auc_components(b, labels)
    delta = float(np.sum(b10)) / m - float(np.sum(a10)) / m
    # Var(Δ) = Var(A) + Var(B) − 2 Cov(A, B), each from the per-positive and per-negative components.
    variance = (mean_variance(a10) + mean_variance(b10) - 2 * _mean_covariance(a10, b10)
                + mean_variance(a01) + mean_variance(b01) - 2 * _mean_covariance(a01, b01))
    se = math.sqrt(max(variance, 0.0))
    if se == 0.0:
        # Identical rankings (or a single pair): no evidence of a difference either way.
        return PairedAuc(delta, 0.0, None, 1.0 if delta == 0.0 else None, m, n)
    z = delta / se
    return PairedAuc(delta, se, z, math.erfc(abs(z) / math.sqrt(2.0)), m, n)


def midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    ordered = np.sort(values, kind="stable")
    return (np.searchsorted(ordered, values, "left") + np.searchsorted(ordered, values, "right") + 1) / 2.0


def spearman(scores, q) -> float | None:
    s, labels = _arrays(scores, q)
    if s.size < 2:
        return None
    rs, rq = midranks(s), midranks(labels)
    rs, rq = rs - np.sum(rs) / rs.size, rq - np.sum(rq) / rq.size
    denominator = math.sqrt(float(np.sum(rs * rs)) * float(np.sum(rq * rq)))
    if denominator == 0.0:
        return None
    return float(np.sum(rs * rq)) / denominator


def break_shares(scores, q, params: CardParams) -> dict[str, dict[str, float | None]]:
    """{break: {positives_above, negatives_below}}: shares of each pole on its right side of it."""
    s, labels = _arrays(scores, q)
    pos, neg = pole_masks(labels)
    out = {}
    for name, cut in (("developing", params.developing), ("solid", params.solid), ("strong", params.strong)):
        out[name] = {
            "positives_above": float(np.sum(s[pos] >= cut)) / int(pos.sum()) if pos.any() else None,
            "negatives_below": float(np.sum(s[neg] < cut)) / int(neg.sum()) if neg.any() else None,
        }
    return out


def calibration(scores, q, params: CardParams) -> dict[str, dict[str, float | int | None]]:
    """{tier: {n, positive_rate}} over the labelled poles that scored in each tier."""
    s, labels = _arrays(scores, q)
    pos, neg = pole_masks(labels)
    counts = {tier: [0, 0] for tier in TIERS}  # [poles, positives]
    for score, is_pos, is_neg in zip(s.tolist(), pos.tolist(), neg.tolist()):
        if is_pos or is_neg:
            cell = counts[tier_of(int(score), params)]
            cell[0] += 1
            cell[1] += int(is_pos)
    return {tier: {"n": poles, "positive_rate": positives / poles if poles else None}
            for tier, (poles, positives) in counts.items()}


def evaluate_trait(scores, q, params: CardParams, *, numeric: bool) -> dict:
    """The per-trait block of an evaluation; ``numeric``: the labels were numbers (ρ is reported)."""
    s, labels = _arrays(scores, q)
    return {
        "n": int(s.size),
        "auc": asdict(auc_interval(s, labels)),
        "spearman": spearman(s, labels) if numeric else None,
        "breaks": break_shares(s, labels, params),
        "calibration": calibration(s, labels, params),
    }


def compare_versions(scores_a, scores_b, q) -> dict:
    """The paired block of a two-version evaluation (b against a)."""
    paired = paired_delong(scores_a, scores_b, q)
    return {"delta_auc": paired.delta, "se": paired.se, "p": paired.p}


GATE_ALPHA = 0.05
GATE_MIN_PER_POLE = 5
GATE_TOLERANCE = 0.02  # an AUC drop smaller than this is not "worse"


def hanley_mcneil_se(auc: float, n_positive: int, n_negative: int) -> float:
    """Standard error of an AUC known only with its pole sizes (Hanley & McNeil 1982)."""
    q1, q2 = auc / (2.0 - auc), 2.0 * auc * auc / (1.0 + auc)
    variance = (auc * (1.0 - auc) + (n_positive - 1) * (q1 - auc * auc)
                + (n_negative - 1) * (q2 - auc * auc)) / (n_positive * n_negative)
    return math.sqrt(max(variance, 0.0))


def _p_below(difference: float, se: float) -> float:
    """One-sided p that ``difference`` is below 0; with no error only the sign can speak."""
    if se > 0.0:
        return lower_tail(difference / se)
    return 0.0 if difference < 0.0 else 1.0


def gate_trait(active_scores, new_scores, q, expected: dict | None) -> dict:
    """One trait's gate block; ``outcome`` is passed, worse, conflict or insufficient.

    ``expected``: the active version's stored trait metrics (cross-validated ``auc``, ``n_positive``,
    ``n_negative``), or None when it has none.
    """
    paired = paired_delong(active_scores, new_scores, q)
    active = auc_interval(active_scores, q)
    new = auc_interval(new_scores, q)
    expected = expected or {}
    expected_auc = expected.get("auc")
    block = {"n_positive": paired.n_positive, "n_negative": paired.n_negative, "active_auc": active.auc,
             "new_auc": new.auc, "delta_auc": paired.delta, "se": paired.se, "tolerance": GATE_TOLERANCE,
             "p_worse": None, "expected_auc": expected_auc, "p_conflict": None, "outcome": "insufficient"}
    if min(paired.n_positive, paired.n_negative) < GATE_MIN_PER_POLE:
        return block
    p_worse = _p_below(paired.delta + GATE_TOLERANCE, paired.se)
    p_conflict = None
    if expected_auc is not None and expected.get("n_positive") and expected.get("n_negative"):
        cv_se = hanley_mcneil_se(expected_auc, expected["n_positive"], expected["n_negative"])
        p_conflict = _p_below(active.auc - expected_auc, math.sqrt(active.se ** 2 + cv_se ** 2))
    block.update(p_worse=p_worse, p_conflict=p_conflict)
    if p_conflict is not None and p_conflict < GATE_ALPHA:
        block["outcome"] = "conflict"
    elif p_worse < GATE_ALPHA:
        block["outcome"] = "worse"
    else:
        block["outcome"] = "passed"
    return block


def gate_decision(traits: dict[str, dict], *, active_version_no: int | None, holdout_samples: int) -> dict:
    """The verdict stored in the retrained version's metrics: refused if any trait refuses; with no
    trait judged (too little held-out feedback) the version is activated as before the gate."""
    outcomes = [block["outcome"] for block in traits.values()]
    if any(o in ("worse", "conflict") for o in outcomes):
        verdict = "refused"
    elif "passed" in outcomes:
        verdict = "passed"
    else:
        verdict = "insufficient_holdout"
    return {"verdict": verdict, "activate": verdict != "refused", "compared_with": active_version_no,
            "holdout_samples": holdout_samples, "alpha": GATE_ALPHA, "min_per_pole": GATE_MIN_PER_POLE,
            "traits": traits}
