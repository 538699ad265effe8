import dataclasses
import json
import math

import numpy as np
import pytest

from engine.card import (
    CardParams,
    CardParamsError,
    assemble_card,
    card_params_from_oof,
    compare_cards,
    composite_score,
    fit_confidence,
    trait_detail,
    universal_score,
)
from engine.errors import EngineError

# Breaks 30 / 60 / 80; confidence P = sigmoid(0.1·d): low below d=7, high from d=18.
PARAMS = CardParams(
    developing=30, solid=60, strong=80, pos_band=(65, 85), neg_band=(15, 35), conf_a=0.0, conf_b=0.1
)
# Confidence always high, so labels and headroom are always present.
SURE = CardParams(
    developing=30, solid=60, strong=80, pos_band=(65, 85), neg_band=(15, 35), conf_a=10.0, conf_b=0.0
)


def detail_at(score: int, params: CardParams = SURE, in_support: bool = True) -> dict:
    return trait_detail(score / 100, 0.0, params, in_support)


@pytest.mark.parametrize(
    "p, expected",
    [(0.125, 13), (0.5, 50), (0.994999, 99), (0.995, 100), (0.0, 0), (1.0, 100), (0.285, 29), (0.29, 29)],
)
def test_universal_score_rounding_edges(p, expected):
    assert universal_score(p) == expected


def test_universal_score_covers_every_integer():
    assert [universal_score(s / 100) for s in range(101)] == list(range(101))


def test_breaks_use_linear_percentiles_rounded_half_up():
    pos = [60, 70, 80, 90]  # p25 67.5 → 68, p75 82.5 → 83
    neg = [10, 20, 30, 40]  # p25 17.5 → 18, p75 32.5 → 33
    oof = np.array(pos + neg) / 100
    q = np.array([1.0] * 4 + [0.0] * 4)
    params = card_params_from_oof(oof, q)
    assert (params.developing, params.solid, params.strong) == (33, 68, 83)
    assert params.pos_band == (68, 83)
    assert params.neg_band == (18, 33)


def test_breaks_when_clusters_overlap_collapse_developing_and_strong():
    neg = [40, 50, 60, 70]  # p75 62.5 → 63 = developing
    pos = [50, 55, 60, 65]  # p25 53.75 → 54 < developing; p75 61.25 → 61 < solid
    oof = np.array(pos + neg) / 100
    q = np.array([0.9] * 4 + [0.1] * 4)
    params = card_params_from_oof(oof, q)
    assert (params.developing, params.solid, params.strong) == (63, 63, 63)
    assert tier_label(62, params) == "Weak"
    assert tier_label(63, params) == "Strong"


def tier_label(score: int, params: CardParams) -> str:
    confident = dataclasses.replace(params, conf_a=10.0, conf_b=0.0)
    return detail_at(score, confident)["label"]


def test_quality_half_counts_in_neither_cluster():
    oof = np.array([0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.4])
    q = np.array([1.0] * 4 + [0.0] * 4)
    base = card_params_from_oof(oof, q)
    with_middle = card_params_from_oof(np.append(oof, [0.99, 0.01]), np.append(q, [0.5, 0.5]))
    assert with_middle == base


def test_card_params_need_both_poles():
    with pytest.raises(CardParamsError):
        card_params_from_oof(np.array([0.6, 0.7]), np.array([1.0, 0.8]))
    assert issubclass(CardParamsError, EngineError)


@pytest.mark.parametrize(
    "score, label, headroom",
    [
        (0, "Weak", 30),
        (29, "Weak", 1),
        (30, "Developing", 30),
        (59, "Developing", 1),
        (60, "Solid", 20),
        (79, "Solid", 1),
        (80, "Strong", 0),
        (100, "Strong", 0),
    ],
)
def test_tier_and_headroom_at_every_boundary(score, label, headroom):
    d = detail_at(score)
    assert (d["score"], d["label"], d["headroom"]) == (score, label, headroom)


def test_headroom_never_negative_for_any_score_and_overlapping_breaks():
    shapes = [(30, 60, 80), (60, 60, 60), (0, 0, 0), (100, 100, 100), (40, 40, 90), (20, 70, 70)]
    for developing, solid, strong in shapes:
        params = CardParams(developing, solid, strong, (50, 60), (40, 50), 10.0, 0.0)
        for score in range(101):
            assert detail_at(score, params)["headroom"] >= 0


def test_band_follows_the_cluster_of_the_score():
    assert detail_at(50)["band"] == [65, 85]
    assert detail_at(49)["band"] == [15, 35]


@pytest.mark.parametrize(
    "score, confidence",
    [(50, "low"), (56, "low"), (44, "low"), (57, "moderate"), (67, "moderate"), (68, "high"), (32, "high")],
)
def test_confidence_thresholds_from_probability(score, confidence):
    assert detail_at(score, PARAMS)["confidence"] == confidence


def test_low_confidence_nulls_label_and_headroom():
    d = detail_at(52, PARAMS)
    assert d["confidence"] == "low"
    assert d["label"] is None and d["headroom"] is None
    assert d["breaks"] == {"developing": 30, "solid": 60, "strong": 80}


def test_out_of_support_is_low_even_when_probability_is_high():
    d = detail_at(95, PARAMS, in_support=False)
    assert (d["confidence"], d["label"], d["headroom"]) == ("low", None, None)
    assert detail_at(95, PARAMS)["confidence"] == "high"


def test_detail_has_exact_fields_and_native_polarity():
    d = trait_detail(0.9, -0.25, SURE, True)
    assert list(d) == ["score", "label", "confidence", "band", "headroom", "breaks", "native"]
    assert d["native"] == {"polarity": -0.25}
    json.dumps(d)


def test_confidence_fit_is_finite_on_perfectly_separated_data():
    scores = np.array([90, 85, 80, 10, 15, 20], dtype=float)
    q = np.array([1, 1, 1, 0, 0, 0], dtype=float)
    a, b = fit_confidence(scores, q)
    assert math.isfinite(a) and math.isfinite(b)
    p_far = 1 / (1 + math.exp(-(a + b * 40)))
    assert p_far >= 0.85


def test_confidence_fit_grows_with_distance_when_errors_sit_near_the_middle():
    rng = np.random.default_rng(0)
    q = np.repeat([1.0, 0.0], 200)
    centre = np.where(q > 0.5, 70.0, 30.0)
    scores = np.clip(np.round(centre + rng.normal(0, 15, q.size)), 0, 100)
    a, b = fit_confidence(scores, q)
    assert b > 0
    params = CardParams(30, 60, 80, (60, 80), (20, 40), a, b)
    assert detail_at(50, params)["confidence"] == "low"
    assert detail_at(95, params)["confidence"] == "high"
    assert fit_confidence(scores, q) == (a, b)


def test_card_params_round_trip_through_json():
    params = card_params_from_oof(np.array([0.6, 0.7, 0.8, 0.2, 0.3, 0.45]), np.array([1, 1, 1, 0, 0, 0.2]))
    restored = CardParams.from_dict(json.loads(json.dumps(params.to_dict())))
    assert restored == params


@pytest.mark.parametrize(
    "scores, expected",
    [([80, 40], 53), ([0, 0], 0), ([80, 0, 40], 53), ([70], 70), ([0], 0), ([3, 9], 5), ([100, 100, 100], 100)],
)
def test_composite_harmonic_mean(scores, expected):
    assert composite_score(scores) == expected


def test_assemble_card_top_level_confidence_and_headroom():
    details = {"clarity": detail_at(70), "tone": detail_at(20), "depth": detail_at(52, PARAMS)}
    card = assemble_card(details, input_tokens=42)
    assert list(card) == ["scores", "composite", "confidence", "headroom", "detail", "input_tokens"]
    assert card["scores"] == {"clarity": 70, "tone": 20, "depth": 52}
    assert card["composite"] == 36  # 3 / (1/70 + 1/20 + 1/52) ≈ 35.9
    assert card["confidence"] == "low"
    assert card["headroom"] == 10  # clarity 10, tone 10, depth null
    assert card["input_tokens"] == 42


def test_assemble_card_headroom_null_when_every_trait_is_low():
    card = assemble_card({"a": detail_at(50, PARAMS), "b": detail_at(51, PARAMS)}, 3)
    assert card["headroom"] is None
    assert card["confidence"] == "low"


def test_assemble_card_weakest_confidence_without_low():
    card = assemble_card({"a": detail_at(90, PARAMS), "b": detail_at(60, PARAMS)}, 3)
    assert card["confidence"] == "moderate"


def test_assemble_card_rejects_empty():
    with pytest.raises(EngineError):
        assemble_card({}, 0)


def test_compare_cards():
    a = assemble_card({"clarity": detail_at(70), "tone": detail_at(20)}, 5)
    b = assemble_card({"clarity": detail_at(60), "tone": detail_at(45)}, 6)
    cmp = compare_cards(a, b)
    assert cmp["a"] is a and cmp["b"] is b
    assert cmp["improvement"] == b["composite"] - a["composite"] == 51 - 31
    assert cmp["per_trait"] == {
        "clarity": {"a": 70, "b": 60, "delta": -10},
        "tone": {"a": 20, "b": 45, "delta": 25},
    }
