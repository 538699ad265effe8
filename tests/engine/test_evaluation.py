"""engine/evaluation.py against scikit-learn, scipy and a slow structural-components DeLong written here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm, spearmanr
from sklearn.metrics import roc_auc_score

from engine.card import CardParams
from engine.evaluation import (GATE_MIN_PER_POLE, GATE_TOLERANCE, auc_interval, break_shares, calibration,
                               compare_versions, evaluate_trait, gate_decision, gate_trait, hanley_mcneil_se,
                               paired_delong, spearman)

PARAMS = CardParams(developing=30, solid=50, strong=70, pos_band=(55, 80), neg_band=(20, 45), conf_a=0.0, conf_b=0.1)


def slow_delong(scores_a, scores_b, q):
    """O(n²) DeLong from the pairwise kernel: (auc_a, auc_b, var_a, var_b, var of b − a)."""
    pos = [i for i, v in enumerate(q) if v > 0.5]
    neg = [j for j, v in enumerate(q) if v < 0.5]

    def psi(x, y):
        return 1.0 if x > y else 0.5 if x == y else 0.0

    def components(s):
        v10 = np.array([sum(psi(s[i], s[j]) for j in neg) / len(neg) for i in pos])
        v01 = np.array([sum(psi(s[i], s[j]) for i in pos) / len(pos) for j in neg])
        return v10, v01

    a10, a01 = components(scores_a)
    b10, b01 = components(scores_b)
    s10 = np.cov(np.vstack([a10, b10]), ddof=1)
    s01 = np.cov(np.vstack([a01, b01]), ddof=1)
    m, n = len(pos), len(neg)
    var_a = s10[0, 0] / m + s01[0, 0] / n
    var_b = s10[1, 1] / m + s01[1, 1] / n
    var_delta = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    return a10.mean(), b10.mean(), var_a, var_b, var_delta


def _data(seed: int, n: int, ties: bool):
    rng = np.random.default_rng(seed)
    q = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=n)
    a, b = 50 + 30 * (q + rng.normal(0, 0.6, n)), 50 + 30 * (q + rng.normal(0, 0.9, n))
    if ties:  # integer card scores, as served
        a, b = np.clip(np.round(a), 0, 100), np.clip(np.round(b), 0, 100)
    return a, b, q


@pytest.mark.parametrize("seed,n,ties", [(1, 40, True), (2, 120, False), (3, 300, True), (4, 25, False)])
def test_auc_and_paired_delong_match_sklearn_and_the_slow_version(seed, n, ties):
    a, b, q = _data(seed, n, ties)
    polar = q != 0.5
    est = auc_interval(a, q)
    assert est.auc == pytest.approx(roc_auc_score(q[polar] > 0.5, a[polar]), abs=1e-9)
    auc_a, auc_b, var_a, var_b, var_delta = slow_delong(a, b, q)
    assert est.auc == pytest.approx(auc_a, abs=1e-9)
    assert est.se == pytest.approx(math.sqrt(var_a), abs=1e-9)
    z = norm.ppf(0.975)
    assert est.low == pytest.approx(max(0.0, auc_a - z * math.sqrt(var_a)), abs=1e-9)
    assert est.high == pytest.approx(min(1.0, auc_a + z * math.sqrt(var_a)), abs=1e-9)
    paired = paired_delong(a, b, q)
    assert paired.delta == pytest.approx(auc_b - auc_a, abs=1e-9)
    assert paired.se == pytest.approx(math.sqrt(var_delta), abs=1e-9)
    assert paired.p == pytest.approx(2 * norm.sf(abs(auc_b - auc_a) / math.sqrt(var_delta)), abs=1e-9)
    assert (est.n_positive, est.n_negative) == (int((q > 0.5).sum()), int((q < 0.5).sum()))


@pytest.mark.parametrize("seed,ties", [(5, True), (6, False)])
def test_spearman_matches_scipy(seed, ties):
    a, _, q = _data(seed, 200, ties)
    assert spearman(a, q) == pytest.approx(spearmanr(a, q).statistic, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 100), st.sampled_from([0.0, 0.3, 0.5, 0.8, 1.0])), min_size=2, max_size=60))
def test_properties_on_random_data(rows):
    scores = np.array([s for s, _ in rows], dtype=float)
    q = np.array([v for _, v in rows])
    est = auc_interval(scores, q)
    pos, neg = (q > 0.5).sum(), (q < 0.5).sum()
    if pos and neg:
        assert est.auc == pytest.approx(roc_auc_score(q[q != 0.5] > 0.5, scores[q != 0.5]), abs=1e-9)
        assert 0.0 <= est.low <= est.auc <= est.high <= 1.0
        # Reversing the scores mirrors the AUC; the same scores twice differ by nothing.
        assert auc_interval(100 - scores, q).auc == pytest.approx(1 - est.auc, abs=1e-12)
        same = paired_delong(scores, scores, q)
        assert same.delta == 0.0 and same.se == 0.0 and same.p == 1.0
        flipped = paired_delong(scores, 100 - scores, q)
        assert flipped.delta == pytest.approx(1 - 2 * est.auc, abs=1e-12)
    else:
        assert est.auc is None and paired_delong(scores, scores, q).delta is None
    rho = spearman(scores, q)
    if len(set(scores.tolist())) > 1 and len(set(q.tolist())) > 1:
        assert rho == pytest.approx(spearmanr(scores, q).statistic, abs=1e-9)
    else:
        assert rho is None
    cells = calibration(scores, q, PARAMS)
    assert sum(c["n"] for c in cells.values()) == pos + neg


def test_break_shares_and_calibration_count_each_pole_on_its_side():
    scores = np.array([10, 35, 55, 75, 20, 40, 60, 80, 50])
    q = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.5])
    shares = break_shares(scores, q, PARAMS)
    assert shares["developing"] == {"positives_above": 0.75, "negatives_below": 0.25}
    assert shares["solid"] == {"positives_above": 0.5, "negatives_below": 0.5}
    assert shares["strong"] == {"positives_above": 0.25, "negatives_below": 0.75}
    cells = calibration(scores, q, PARAMS)
    assert cells["Weak"] == {"n": 2, "positive_rate": 0.5}
    assert cells["Strong"] == {"n": 2, "positive_rate": 0.5}
    assert cells["Solid"] == {"n": 2, "positive_rate": 0.5}  # 55 and 60; the 0.5 label at 50 has no pole


def test_evaluation_is_deterministic_byte_for_byte():
    a, b, q = _data(7, 150, True)
    first = repr((evaluate_trait(a, q, PARAMS, numeric=True), compare_versions(a, b, q)))
    again = repr((evaluate_trait(a.copy(), q.copy(), PARAMS, numeric=True),
                  compare_versions(a.copy(), b.copy(), q.copy())))
    assert first == again
    assert evaluate_trait(a, q, PARAMS, numeric=False)["spearman"] is None


def test_hanley_mcneil_error_matches_the_spread_of_simulated_aucs():
    # Hanley & McNeil's formula is exact for exponentially distributed scores.
    rng = np.random.default_rng(11)
    q = np.array([1.0] * 40 + [0.0] * 60)
    aucs = [auc_interval(np.concatenate([rng.exponential(3.0, 40), rng.exponential(1.0, 60)]), q).auc
            for _ in range(2000)]
    assert hanley_mcneil_se(0.75, 40, 60) == pytest.approx(np.std(aucs, ddof=1), rel=0.06)


def _gate_data(seed: int, per_pole: int):
    rng = np.random.default_rng(seed)
    q = np.array([1.0, 0.0] * per_pole)
    good = q + rng.normal(0, 0.5, q.size)
    return q, good


def test_the_gate_passes_an_equal_candidate_and_refuses_a_worse_one():
    q, good = _gate_data(3, 40)
    expected = {"auc": auc_interval(good, q).auc, "n_positive": 40, "n_negative": 40}
    assert gate_trait(good, good, q, expected)["outcome"] == "passed"
    worse = gate_trait(good, q + np.random.default_rng(4).normal(0, 3.0, q.size), q, expected)
    assert worse["outcome"] == "worse" and worse["p_worse"] < 0.05 and worse["delta_auc"] < -GATE_TOLERANCE


def test_a_drop_within_the_tolerance_is_not_worse():
    q, good = _gate_data(5, 200)
    # One positive moved to the very bottom: a drop of at most 1/200, known almost without error.
    nudged = good.copy()
    nudged[0] = good.min() - 1.0
    block = gate_trait(good, nudged, q, None)
    assert -GATE_TOLERANCE < block["delta_auc"] < 0 and block["outcome"] == "passed" and block["p_conflict"] is None


def test_held_out_labels_that_contradict_the_active_version_are_a_conflict():
    q, good = _gate_data(6, 20)
    inverted = 1.0 - q
    block = gate_trait(good, good + 0.1, inverted, {"auc": 0.85, "n_positive": 40, "n_negative": 40})
    assert block["outcome"] == "conflict" and block["p_conflict"] < 0.05
    assert gate_decision({"t": block}, active_version_no=3, holdout_samples=40)["activate"] is False


def test_too_few_held_out_labels_leave_the_decision_to_the_old_rule():
    q, good = _gate_data(7, GATE_MIN_PER_POLE - 1)
    block = gate_trait(good, 1.0 - good, q, {"auc": 0.9, "n_positive": 40, "n_negative": 40})
    assert block["outcome"] == "insufficient" and block["p_worse"] is None
    decision = gate_decision({"t": block}, active_version_no=1, holdout_samples=q.size)
    assert decision["verdict"] == "insufficient_holdout" and decision["activate"] is True
    q_enough, scores = _gate_data(8, 40)
    passed = gate_trait(scores, scores, q_enough, None)
    mixed = gate_decision({"t": block, "u": passed}, active_version_no=1, holdout_samples=80)
    assert mixed["verdict"] == "passed" and mixed["activate"] is True
