import numpy as np
import pytest

from engine.discovery import (
    EXTRA_AXES,
    DiscoveryError,
    IntrinsicTrait,
    auc,
    discover,
    name_axis,
    out_of_fold_auc,
)
from engine.errors import EngineError

DIM = 48
REFUND = [
    "I still want a refund for item {i}",
    "Where is my refund for order {i}?",
    "Refund request {i} is pending again",
    "No refund yet after {i} days, awful",
]
THANKS = [
    "Thanks so much for the quick help with {i}",
    "Many thanks, problem {i} solved nicely",
    "Thanks again, great support on ticket {i}",
    "Big thanks to the team for case {i}",
]


def clustered_data(seed: int = 0, per_trait: int = 40):
    """Two traits with opposite poles along their own directions, plus a strong topic direction
    (refund vs thanks) that no trait is about."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
    directions = {"tone": basis[:, 0], "clarity": basis[:, 1]}
    topic = basis[:, 2]
    rows, samples, texts = [], [], {}
    sample_id = 100
    for key in ("tone", "clarity"):
        for i in range(per_trait):
            positive = i % 2 == 0
            q = [1.0, 0.9, 0.8][i % 3] if positive else [0.0, 0.1, 0.2][i % 3]
            refund = (i // 2) % 2 == 0  # balanced within each pole, so no trait is about topic
            vec = (2.0 if positive else -2.0) * directions[key] + (3.0 if refund else -3.0) * topic
            rows.append(vec + rng.normal(0, 0.5, DIM))
            samples.append((sample_id, key, q))
            texts[sample_id] = (REFUND if refund else THANKS)[(i // 4) % 4].format(i=i)
            sample_id += 1
    traits = [("tone", "Tone", "warm", "cold"), ("clarity", "Clarity")]
    return np.array(rows), samples, traits, texts, directions, topic


def by_key(found: list[IntrinsicTrait]) -> dict[str, IntrinsicTrait]:
    return {t.key: t for t in found}


def test_intrinsic_axes_separate_their_poles():
    emb, samples, traits, texts, directions, _ = clustered_data()
    found = by_key(discover(emb, samples, traits, "high", texts))
    for key in ("tone", "clarity"):
        t = found[f"{key}_intrinsic"]
        assert t.kind == "intrinsic" and t.source_trait == key
        assert t.discrimination > 0.9
        direction = np.array(t.frozen_direction)
        assert direction.shape == (DIM,)
        assert np.linalg.norm(direction) == pytest.approx(1.0)
        assert float(direction @ directions[key]) > 0.9  # points from negative to positive pole
        assert 0.0 < t.explained_variance < 1.0
    assert found["tone_intrinsic"].name == "Tone (intrinsic)"
    assert (found["tone_intrinsic"].positive_label, found["tone_intrinsic"].negative_label) == ("warm", "cold")
    assert (found["clarity_intrinsic"].positive_label, found["clarity_intrinsic"].negative_label) == (
        "positive",
        "negative",
    )


def test_anchors_are_the_most_extreme_samples_of_each_pole():
    emb, samples, traits, texts, _, _ = clustered_data()
    t = by_key(discover(emb, samples, traits, "high", texts))["tone_intrinsic"]
    quality = {sid: q for sid, key, q in samples if key == "tone"}
    assert 3 <= len(t.anchor_sample_ids["positive"]) <= 5
    assert 3 <= len(t.anchor_sample_ids["negative"]) <= 5
    assert all(quality[i] > 0.5 for i in t.anchor_sample_ids["positive"])
    assert all(quality[i] < 0.5 for i in t.anchor_sample_ids["negative"])
    row = {s[0]: n for n, s in enumerate(samples)}
    centred = emb - emb.mean(axis=0)
    proj = {sid: float(centred[row[sid]] @ np.array(t.frozen_direction)) for sid in quality}
    best_positive = sorted((sid for sid in quality if quality[sid] > 0.5), key=lambda s: -proj[s])[:5]
    assert t.anchor_sample_ids["positive"] == best_positive


def test_extra_axes_are_nearly_orthogonal_and_named_from_anchors():
    emb, samples, traits, texts, _, topic = clustered_data()
    found = discover(emb, samples, traits, "max", texts)
    intrinsic = [np.array(t.frozen_direction) for t in found if t.source_trait]
    extra = [t for t in found if t.source_trait is None]
    assert 1 <= len(extra) <= EXTRA_AXES["max"]
    assert [t.key for t in extra] == [f"axis_{n}" for n in range(1, len(extra) + 1)]
    directions = [np.array(t.frozen_direction) for t in extra]
    for d in directions:
        assert np.linalg.norm(d) == pytest.approx(1.0)
        for axis in intrinsic + [o for o in directions if o is not d]:
            assert abs(float(d @ axis)) < 0.3
    first = extra[0]
    assert abs(float(np.array(first.frozen_direction) @ topic)) > 0.9
    assert first.discrimination is None
    assert {first.positive_label, first.negative_label} == {"refund", "thanks"}
    assert first.name == f"Axis 1: {first.negative_label} ↔ {first.positive_label}"
    for sid in first.anchor_sample_ids["positive"]:
        assert first.positive_label in texts[sid].lower()


def test_extra_axis_count_follows_effort():
    emb, samples, traits, texts, _, _ = clustered_data()
    for effort, limit in EXTRA_AXES.items():
        extra = [t for t in discover(emb, samples, traits, effort, texts) if t.source_trait is None]
        assert len(extra) <= limit
    assert not [t for t in discover(emb, samples, traits, "low", texts) if t.source_trait is None]
    assert len([t for t in discover(emb, samples, traits, "medium", texts) if t.source_trait is None]) == 1


def test_noise_components_are_not_proposed():
    emb, samples, traits, texts, _, _ = clustered_data()
    extra = [t for t in discover(emb, samples, traits, "max", texts) if t.source_trait is None]
    assert [t.key for t in extra] == ["axis_1"]  # only the topic; the rest is isotropic noise


def test_discovery_is_deterministic():
    emb, samples, traits, texts, _, _ = clustered_data()
    first = discover(emb, samples, traits, "high", texts)
    second = discover(emb.copy(), list(samples), list(traits), "high", dict(texts))
    assert first == second
    assert [t.to_dict() for t in first] == [t.to_dict() for t in second]


def test_extra_axis_keys_skip_existing_trait_keys():
    emb, samples, traits, texts, _, _ = clustered_data()
    samples = [(sid, "axis_1" if key == "clarity" else key, q) for sid, key, q in samples]
    traits = [traits[0], ("axis_1", "Axis one")]
    keys = [t.key for t in discover(emb, samples, traits, "medium", texts)]
    assert keys == ["tone_intrinsic", "axis_1_intrinsic", "axis_2"]


def test_trait_without_both_poles_gets_no_intrinsic_axis():
    emb, samples, traits, texts, _, _ = clustered_data()
    only_positive = [(sid, key, q) for sid, key, q in samples if not (key == "clarity" and q < 0.5)]
    rows = [n for n, s in enumerate(samples) if not (s[1] == "clarity" and s[2] < 0.5)]
    keys = [t.key for t in discover(emb[rows], only_positive, traits, "low", texts)]
    assert keys == ["tone_intrinsic"]


def test_discrimination_is_out_of_fold_not_in_sample():
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(30, 64))  # labels unrelated to the embeddings
    samples = [(i, "noise", float(i % 2)) for i in range(30)]
    t = discover(emb, samples, [("noise", "Noise")], "high", {})[0]
    assert t.discrimination < 0.75


def test_auc_counts_ties_as_half():
    assert auc(np.array([3.0, 2.0]), np.array([1.0, 2.0])) == pytest.approx(0.875)
    assert auc(np.array([1.0]), np.array([2.0])) == 0.0


def test_out_of_fold_auc_needs_two_samples_per_pole():
    z = np.array([[1.0], [2.0], [-1.0]])
    assert out_of_fold_auc(z, np.array([1.0, 1.0, 0.0])) is None


def test_name_axis_falls_back_without_distinctive_words():
    assert name_axis(2, ["same words here"], ["same words here"]) == ("Axis 2: low ↔ high", "high", "low")


def test_bad_inputs_raise_typed_errors():
    emb, samples, traits, texts, _, _ = clustered_data()
    with pytest.raises(DiscoveryError):
        discover(emb, samples, traits, "extreme", texts)
    with pytest.raises(DiscoveryError):
        discover(emb[:-1], samples, traits, "high", texts)
    with pytest.raises(EngineError):
        discover(np.ones((4, 8)), samples[:4], traits, "high", texts)
