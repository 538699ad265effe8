import json
import random

import numpy as np
import pytest

from engine.effort import (EFFORTS, InvalidConfig, UnknownEffort, _select, config_grid, cv_repeats, complexity,
                           normalise_config)
from engine.training import TraitSpec, train_model

from conftest import polar_samples

GRID_SIZES = {"low": 1, "medium": 8, "high": 40, "xhigh": 40, "max": 80}


@pytest.mark.parametrize("effort", EFFORTS)
def test_grid_sizes_are_exact_and_entries_unique(effort):
    grid = config_grid(effort)
    assert len(grid) == GRID_SIZES[effort]
    assert len({json.dumps(c, sort_keys=True) for c in grid}) == len(grid)
    assert all(normalise_config(c) == c for c in grid)


def test_grid_contents_follow_the_levels():
    assert config_grid("low") == [{"centre": True, "variant": "diffcos", "lam": None, "weighting": "quality",
                                   "trim": 0.0, "tfidf": False}]
    medium = config_grid("medium")
    assert {c["variant"] for c in medium} == {"diffcos", "axis"} and {c["centre"] for c in medium} == {True, False}
    high = config_grid("high")
    assert {c["lam"] for c in high if c["variant"] == "whitened"} == {10.0, 1.0, 0.1}
    assert {c["trim"] for c in high} == {0.0, 0.1}
    assert config_grid("xhigh") == high
    assert {c["tfidf"] for c in config_grid("max")} == {False, True}
    assert [cv_repeats(e) for e in EFFORTS] == [1, 1, 1, 3, 3]


def test_unknown_effort_and_config_are_typed_errors(hashing):
    with pytest.raises(UnknownEffort):
        config_grid("extreme")
    with pytest.raises(UnknownEffort):
        train_model([TraitSpec("t", "T")], polar_samples("t", 3, 3), hashing, "ultra")
    with pytest.raises(InvalidConfig):
        normalise_config({"variant": "whitened", "lam": 3.0})


def test_one_se_rule_prefers_the_simplest_close_configuration():
    configs = [normalise_config({"variant": "whitened", "lam": 0.1}), normalise_config({"variant": "diffcos"}),
               normalise_config({"variant": "axis"})]
    assert [complexity(c) for c in configs] == [4, 0, 1]
    mean = np.array([0.90, 0.89, 0.80])
    noisy_folds = [[0.80, 1.00, 0.85, 0.95], [0.89] * 4, [0.8] * 4]  # SE of the best ≈ 0.046
    assert _select(configs, mean, noisy_folds, one_se=False) == 0
    assert _select(configs, mean, noisy_folds, one_se=True) == 1
    tight_folds = [[0.90, 0.90, 0.91, 0.89], [0.89] * 4, [0.8] * 4]  # SE ≈ 0.004: diffcos is not close enough
    assert _select(configs, mean, tight_folds, one_se=True) == 0


@pytest.mark.parametrize("effort", EFFORTS)
def test_training_is_deterministic_and_order_independent(hashing, effort):
    traits = [TraitSpec("tone", "Tone"), TraitSpec("warmth", "Warmth")]
    samples = polar_samples("tone", 24, 18) + polar_samples("warmth", 15, 20, start=50)
    first = train_model(traits, samples, hashing, effort)
    shuffled = list(samples)
    random.Random(3).shuffle(shuffled)
    second = train_model(traits, shuffled, hashing, effort)
    assert first.snapshot.param_hash == second.snapshot.param_hash
    assert first.snapshot.to_json() == second.snapshot.to_json()
    assert first.metrics["traits"] == second.metrics["traits"]
    assert first.metrics["effort"] == effort


@pytest.mark.parametrize("effort", ["medium", "xhigh"])
def test_progress_counts_every_configuration(hashing, effort):
    calls = []
    traits = [TraitSpec("tone", "Tone"), TraitSpec("warmth", "Warmth")]
    samples = polar_samples("tone", 12, 12) + polar_samples("warmth", 12, 12, start=40)
    train_model(traits, samples, hashing, effort, progress=lambda d, t, m: calls.append((d, t, m)))
    totals = {t for _, t, _ in calls}
    assert len(totals) == 1
    total = totals.pop()
    assert total == len(samples) + 2 * GRID_SIZES[effort] * cv_repeats(effort)
    done = [d for d, _, _ in calls]
    assert done == sorted(done) and done[-1] == total
    assert all(isinstance(m, str) and m for _, _, m in calls)


def test_retrain_with_stored_configs_skips_the_search(hashing):
    traits = [TraitSpec("tone", "Tone")]
    samples = polar_samples("tone", 20, 20)
    searched = train_model(traits, samples, hashing, "high")
    calls = []
    more = samples + polar_samples("tone", 5, 5, start=300)
    retrained = train_model(traits, more, hashing, "high", configs=searched.snapshot.configs(),
                            progress=lambda d, t, m: calls.append((d, t)))
    assert retrained.metrics["traits"]["tone"]["config"] == searched.metrics["traits"]["tone"]["config"]
    assert calls[-1] == (len(more) + 1, len(more) + 1)  # one configuration evaluated, not 40


def test_max_effort_stores_the_tfidf_block_only_when_used(hashing):
    samples = polar_samples("tone", 15, 15)
    low = train_model([TraitSpec("tone", "Tone")], samples, hashing, "low")
    assert low.snapshot.data["tfidf"] is None
    top = train_model([TraitSpec("tone", "Tone")], samples, hashing, "max")
    assert top.snapshot.data["tfidf"]["dim"] == 512
