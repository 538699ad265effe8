import itertools

import numpy as np
import pytest

from engine.balanced_cosine import (FitError, concordance, direction, fold_count, normalise_rows, pole_stats,
                                    raw_scores, stratified_folds)
from engine.calibration import CalibrationError, fit_calibration, polarity, polarity_scale, sigmoid


def unit_rows(rng, n, d, shift=None):
    x = rng.normal(size=(n, d))
    if shift is not None:
        x = x + shift
    return normalise_rows(x)


# --- calibration -----------------------------------------------------------------------------

def test_calibration_is_pole_balanced_under_10_to_1_imbalance():
    rng = np.random.default_rng(0)
    r = np.concatenate([rng.normal(3.0, 0.5, 100), rng.normal(1.0, 0.5, 10)])
    q = np.concatenate([np.ones(100), np.zeros(10)])
    cal = fit_calibration(r, q)
    # Midway between the pole centres (r = 2) is the even-odds point despite 100 vs 10 samples.
    assert cal.probability(2.0) == pytest.approx(0.5, abs=0.05)
    assert cal.probability(3.0) > 0.8 and cal.probability(1.0) < 0.2
    # The same poles with 10 vs 10 samples give nearly the same even-odds point.
    balanced = fit_calibration(np.concatenate([r[:10], r[100:]]), np.concatenate([q[:10], q[100:]]))
    assert balanced.probability(2.0) == pytest.approx(cal.probability(2.0), abs=0.08)


def test_calibration_handles_separable_hard_labels_with_finite_slope():
    r = np.array([-2.0, -1.5, -1.0, 1.0, 1.5, 2.0])
    q = np.array([0, 0, 0, 1, 1, 1.0])
    cal = fit_calibration(r, q)
    assert np.isfinite(cal.a) and 0 < cal.a < 100
    assert cal.probability(0.0) == pytest.approx(0.5, abs=1e-6)


def test_calibration_follows_soft_targets_and_ignores_middles():
    # Enough samples that Platt's target shrinkage (ε = 1/(n_min + 2)) is negligible.
    r = np.linspace(-1, 1, 801)
    q = sigmoid_vec(3.0 * r)
    cal = fit_calibration(r, q)
    assert cal.a == pytest.approx(3.0, rel=0.05)
    assert cal.b == pytest.approx(0.0, abs=1e-6)
    with_middles = fit_calibration(np.concatenate([r, [5.0, 6.0]]), np.concatenate([q, [0.5, 0.5]]))
    assert with_middles == cal


def sigmoid_vec(z):
    return np.array([sigmoid(float(v)) for v in z])


def test_calibration_needs_both_poles():
    with pytest.raises(CalibrationError):
        fit_calibration(np.array([1.0, 2.0]), np.array([0.9, 0.8]))


def test_polarity_is_bounded_and_centred():
    r = np.array([-0.4, -0.2, 0.2, 0.4])
    q = np.array([0, 0, 1, 1.0])
    scale = polarity_scale(r, q)
    assert scale == pytest.approx(0.3)
    assert polarity(0.0, scale) == 0.0
    assert -1 <= polarity(-50.0, scale) < -0.99 and 0.99 < polarity(50.0, scale) <= 1


# --- poles and directions --------------------------------------------------------------------

def test_quality_weighted_poles_are_weighted_means_of_their_own_side():
    rng = np.random.default_rng(1)
    x = unit_rows(rng, 6, 5)
    q = np.array([1.0, 0.75, 0.6, 0.0, 0.25, 0.5])
    stats = pole_stats(x, q, "quality")
    np.testing.assert_allclose(stats.c_pos, (1.0 * x[0] + 0.75 * x[1] + 0.6 * x[2]) / 2.35)
    np.testing.assert_allclose(stats.c_neg, (1.0 * x[3] + 0.75 * x[4]) / 1.75)  # q = 0.5 is in no pole
    binary = pole_stats(x, q, "binary")
    np.testing.assert_allclose(binary.c_pos, x[:3].mean(axis=0))


def test_a_pole_with_ten_times_the_samples_does_not_pull_the_axis():
    rng = np.random.default_rng(2)
    pos, neg = unit_rows(rng, 4, 8), unit_rows(rng, 4, 8)
    q_small = np.array([1, 1, 1, 1, 0, 0, 0, 0.0])
    small = pole_stats(np.vstack([pos, neg]), q_small)
    big = pole_stats(np.vstack([np.repeat(pos, 10, axis=0), neg]), np.concatenate([np.ones(40), np.zeros(4)]))
    for variant in ("diffcos", "axis"):
        w_small, off_small = direction(small, variant)
        w_big, off_big = direction(big, variant)
        np.testing.assert_allclose(w_big, w_small, atol=1e-12)
        assert off_big == pytest.approx(off_small)


def test_diffcos_is_the_difference_of_cosines():
    rng = np.random.default_rng(3)
    x = unit_rows(rng, 20, 6)
    q = np.array([1.0] * 10 + [0.0] * 10)
    stats = pole_stats(x, q)
    w, offset = direction(stats, "diffcos")
    probe = unit_rows(rng, 5, 6)
    cos = lambda a, b: a @ b / np.linalg.norm(b)
    expected = [cos(p, stats.c_pos) - cos(p, stats.c_neg) for p in probe]
    np.testing.assert_allclose(raw_scores(probe, w, offset), expected, atol=1e-12)


def test_axis_is_zero_at_the_poles_midpoint():
    rng = np.random.default_rng(4)
    x = unit_rows(rng, 12, 6)
    stats = pole_stats(x, np.array([1.0] * 6 + [0.0] * 6))
    w, offset = direction(stats, "axis")
    assert float(np.sum(stats.midpoint * w) - offset) == pytest.approx(0.0, abs=1e-12)
    assert np.linalg.norm(w) == pytest.approx(1.0)


@pytest.mark.parametrize("n_per_pole", [3, 40])  # fewer samples than dimensions (SVD path) and more (eigh)
@pytest.mark.parametrize("lam", [10.0, 1.0, 0.1])
def test_whitened_direction_solves_the_regularised_system(n_per_pole, lam):
    rng = np.random.default_rng(5)
    d = 10
    x = np.vstack([unit_rows(rng, n_per_pole, d, shift=0.5), unit_rows(rng, n_per_pole + 2, d, shift=-0.5)])
    q = np.array([0.9] * n_per_pole + [0.2] * (n_per_pole + 2))
    stats = pole_stats(x, q)
    scatter = []
    for rows, weights, centre in ((stats.pos_rows, stats.pos_w, stats.c_pos), (stats.neg_rows, stats.neg_w, stats.c_neg)):
        centred = rows - centre
        scatter.append((centred * weights[:, None]).T @ centred)
    s_w = (scatter[0] + scatter[1]) / (stats.pos_w.sum() + stats.neg_w.sum())
    expected = np.linalg.solve(s_w + lam * np.trace(s_w) / d * np.eye(d), stats.c_pos - stats.c_neg)
    w, _ = direction(stats, "whitened", lam)
    np.testing.assert_allclose(w, expected / np.linalg.norm(expected), atol=1e-9)


def test_whitened_with_infinite_lambda_is_the_axis():
    rng = np.random.default_rng(6)
    x = unit_rows(rng, 20, 6)
    stats = pole_stats(x, np.array([1.0] * 10 + [0.0] * 10))
    np.testing.assert_array_equal(direction(stats, "whitened", None)[0], direction(stats, "axis")[0])


def test_trimming_drops_the_atypical_sample_of_a_pole():
    rng = np.random.default_rng(7)
    core = normalise_rows(np.array([1.0, 0, 0, 0]) + 0.05 * rng.normal(size=(9, 4)))
    outlier = np.array([[0, 0, 0, 1.0]])
    negatives = normalise_rows(np.array([-1.0, 0, 0, 0]) + 0.05 * rng.normal(size=(10, 4)))
    x = np.vstack([core, outlier, negatives])
    q = np.array([1.0] * 10 + [0.0] * 10)
    trimmed = pole_stats(x, q, "binary", trim=0.1)
    assert trimmed.pos_rows.shape[0] == 9
    np.testing.assert_allclose(trimmed.c_pos, core.mean(axis=0))
    assert not np.allclose(pole_stats(x, q, "binary").c_pos, core.mean(axis=0))


def test_frozen_direction_is_used_as_given():
    rng = np.random.default_rng(8)
    x = unit_rows(rng, 10, 5)
    u = normalise_rows(rng.normal(size=(1, 5)))[0]
    w, offset = direction(pole_stats(x, np.array([1.0] * 5 + [0.0] * 5)), "frozen", frozen=u)
    np.testing.assert_array_equal(w, u)


def test_empty_pole_cannot_be_fitted():
    with pytest.raises(FitError):
        pole_stats(np.eye(3), np.array([1.0, 0.9, 0.5]))


# --- concordance and folds -------------------------------------------------------------------

def brute_concordance(scores, q):
    pairs = [(s_p, s_n) for (s_p, q_p), (s_n, q_n) in itertools.product(zip(scores, q), zip(scores, q))
             if q_p > 0.5 and q_n < 0.5]
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)


def test_concordance_matches_pair_counting_with_ties():
    rng = np.random.default_rng(9)
    scores = rng.integers(0, 6, size=40).astype(float)
    q = rng.choice([0.0, 0.3, 0.5, 0.8, 1.0], size=40)
    assert concordance(scores, q) == pytest.approx(brute_concordance(scores, q))
    assert concordance(np.array([1.0, 2.0]), np.array([0.0, 1.0])) == 1.0
    assert concordance(np.array([2.0, 1.0]), np.array([0.0, 1.0])) == 0.0
    assert concordance(np.array([1.0, 1.0]), np.array([0.0, 1.0])) == 0.5


def test_stratified_folds_are_seeded_and_hold_both_sides():
    q = np.array([1.0] * 12 + [0.0] * 7 + [0.5] * 3)
    k = fold_count(q)
    assert k == 5
    folds = stratified_folds(q, k, seed=11)
    np.testing.assert_array_equal(folds, stratified_folds(q, k, seed=11))
    assert not np.array_equal(folds, stratified_folds(q, k, seed=12))
    for f in range(k):
        assert (q[folds == f] > 0.5).any() and (q[folds == f] < 0.5).any()
    assert fold_count(np.array([1.0, 1.0, 0.0])) == 1
