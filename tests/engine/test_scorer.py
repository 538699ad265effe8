import numpy as np
import pytest

from engine.cache import MemoryEmbeddingCache, embed_with_cache
from engine.scorer import Scorer, UnknownTrait
from engine.snapshot import canonical_json, decode_array
from engine.training import InsufficientSamples, InvalidTrainingInput, LabelledSample, TraitSpec, train_model

from conftest import NEGATIVE_WORDS, POSITIVE_WORDS, CountingEmbedder, polar_samples, sentence

POSITIVE = "the staff were wonderful kind and helpful, a lovely fantastic visit"
NEGATIVE = "the staff were rude slow and useless, a horrible dreadful visit"


def test_card_has_the_score_response_shape(tone_model, hashing):
    card = Scorer(tone_model.snapshot, hashing).score(POSITIVE)
    assert set(card) == {"scores", "composite", "confidence", "headroom", "detail", "input_tokens"}
    assert list(card["scores"]) == ["tone", "warmth"]
    assert card["input_tokens"] == hashing.count_tokens(POSITIVE)
    detail = card["detail"]["tone"]
    assert set(detail) == {"score", "label", "confidence", "band", "headroom", "breaks", "native"}
    assert -1.0 <= detail["native"]["polarity"] <= 1.0


def test_positive_and_negative_texts_land_on_their_sides(tone_model, hashing):
    scorer = Scorer(tone_model.snapshot, hashing)
    good, bad = scorer.score(POSITIVE), scorer.score(NEGATIVE)
    for key in ("tone", "warmth"):
        assert good["scores"][key] > 50 > bad["scores"][key]
        assert good["detail"][key]["native"]["polarity"] > 0 > bad["detail"][key]["native"]["polarity"]


def test_trait_selection_by_key_or_name(tone_model, hashing):
    scorer = Scorer(tone_model.snapshot, hashing)
    assert list(scorer.score(POSITIVE, traits=["Warmth"])["scores"]) == ["warmth"]
    assert list(scorer.score(POSITIVE, traits=["warmth", "tone"])["scores"]) == ["tone", "warmth"]
    with pytest.raises(UnknownTrait) as caught:
        scorer.score(POSITIVE, traits=["tone", "clarity"])
    assert caught.value.names == ["clarity"]


def test_scores_are_byte_identical_between_scorers(tone_model, hashing):
    texts = [POSITIVE, NEGATIVE, "", "   ", "a meal", " ".join([POSITIVE, NEGATIVE] * 40)]
    first = [canonical_json(Scorer(tone_model.snapshot, hashing).score(t)) for t in texts]
    second = [canonical_json(Scorer(tone_model.snapshot, hashing).score(t)) for t in texts]
    assert first == second


def test_aggregation_over_windows(hashing):
    traits = [TraitSpec(key, key, aggregation=key) for key in ("mean", "max", "min", "none")]
    samples = [s for t in traits for s in polar_samples(t.key, 20, 20)]
    scorer = Scorer(train_model(traits, samples, hashing, "low").snapshot, hashing)
    mixed = " ".join([POSITIVE] * 30 + [NEGATIVE] * 30)
    card = scorer.score(mixed)
    assert card["input_tokens"] > 256
    s = card["scores"]
    assert s["max"] > s["mean"] > s["min"]
    assert s["max"] > 50 > s["min"]
    first_only = scorer.score(mixed, max_depth=0)
    assert first_only["input_tokens"] <= 256 and first_only["scores"]["min"] > 50  # first window is positive


def test_text_far_from_training_is_outside_support(tone_model, hashing):
    scorer = Scorer(tone_model.snapshot, hashing)
    stranger = scorer.score("quantum chromodynamics lagrangian renormalisation")
    assert all(d["confidence"] == "low" and d["label"] is None for d in stranger["detail"].values())
    familiar = scorer.score(sentence(POSITIVE_WORDS, 3))
    assert familiar["detail"]["tone"]["confidence"] != "low"


def test_frozen_direction_is_never_rotated(hashing):
    rng = np.random.default_rng(0)
    u = rng.normal(size=hashing.dim)
    u /= np.linalg.norm(u)
    traits = [TraitSpec("axis_1", "Axis 1", frozen_direction=tuple(float(v) for v in u)), TraitSpec("tone", "Tone")]
    samples = polar_samples("axis_1", 20, 20) + polar_samples("tone", 20, 20)
    for effort in ("low", "max"):
        result = train_model(traits, samples, hashing, effort)
        frozen, free = result.snapshot.data["traits"]
        np.testing.assert_array_equal(decode_array(frozen["direction"]["w"]), u.astype(np.float32))
        assert frozen["frozen"] is True and frozen["config"]["variant"] == "frozen"
        assert not np.allclose(decode_array(free["direction"]["w"]) / np.linalg.norm(decode_array(free["direction"]["w"])),
                               u, atol=0.1)
        assert result.metrics["traits"]["axis_1"]["config"]["variant"] == "frozen"
    with pytest.raises(InvalidTrainingInput):
        train_model([TraitSpec("a", "A", frozen_direction=(1.0, 0.0))], polar_samples("a", 3, 3), hashing)


def test_insufficient_samples_names_the_lacking_traits(hashing):
    traits = [TraitSpec("ok", "OK"), TraitSpec("nopos", "No pos"), TraitSpec("empty", "Empty")]
    samples = (polar_samples("ok", 3, 3) + [LabelledSample("nopos", "bad thing", 0.1),
                                            LabelledSample("nopos", "middling thing", 0.5)])
    with pytest.raises(InsufficientSamples) as caught:
        train_model(traits, samples, hashing)
    assert set(caught.value.lacking) == {"nopos", "empty"}
    assert "positive" in caught.value.lacking["nopos"] and "negative" not in caught.value.lacking["nopos"]
    with pytest.raises(InsufficientSamples) as none:
        train_model([], [], hashing)
    assert none.value.lacking == {}


def test_bad_inputs_are_rejected(hashing):
    with pytest.raises(InvalidTrainingInput):
        train_model([TraitSpec("a", "A")], polar_samples("b", 2, 2), hashing)
    with pytest.raises(InvalidTrainingInput):
        train_model([TraitSpec("a", "A", aggregation="median")], polar_samples("a", 2, 2), hashing)
    with pytest.raises(InvalidTrainingInput):
        train_model([TraitSpec("a", "A")], polar_samples("a", 2, 2) + [LabelledSample("a", "x", 1.5)], hashing)


@pytest.mark.parametrize("n_pos,n_neg,folds", [(1, 1, 1), (1, 6, 1), (2, 3, 2), (4, 9, 4), (30, 9, 5)])
def test_tiny_classes_still_train(hashing, n_pos, n_neg, folds):
    result = train_model([TraitSpec("t", "T")], polar_samples("t", n_pos, n_neg), hashing, "high")
    assert result.snapshot.data["traits"][0]["folds"] == folds
    metrics = result.metrics["traits"]["t"]
    assert (metrics["n_positive"], metrics["n_negative"]) == (n_pos, n_neg)
    card = Scorer(result.snapshot, hashing).score(POSITIVE)
    assert 0 <= card["scores"]["t"] <= 100


def test_middle_samples_do_not_move_the_poles(hashing):
    config = {"t": {"centre": False, "variant": "axis", "weighting": "quality"}}
    base = polar_samples("t", 10, 10)
    middles = [LabelledSample("t", sentence(NEGATIVE_WORDS + POSITIVE_WORDS, i), 0.5) for i in range(5)]
    a = train_model([TraitSpec("t", "T")], base, hashing, configs=config).snapshot.data["traits"][0]
    b = train_model([TraitSpec("t", "T")], base + middles, hashing, configs=config).snapshot.data["traits"][0]
    assert a["direction"] == b["direction"]
    assert b["support"]["count"] == 25  # but they do belong to the support set


def test_cache_hits_avoid_re_embedding():
    embedder = CountingEmbedder()
    cache = MemoryEmbeddingCache()
    samples = polar_samples("t", 15, 15)
    samples += [LabelledSample("t", samples[0].text, 0.9)]  # a duplicate text is embedded once
    first = train_model([TraitSpec("t", "T")], samples, embedder, "low", cache=cache)
    assert embedder.embedded == 30 and len(cache) == 30
    second = train_model([TraitSpec("t", "T")], samples, embedder, "low", cache=cache)
    assert embedder.embedded == 30
    assert second.snapshot.param_hash == first.snapshot.param_hash
    extra = samples + polar_samples("t", 2, 0, start=500)
    train_model([TraitSpec("t", "T")], extra, embedder, "low", cache=cache)
    assert embedder.embedded == 32


def test_embed_with_cache_returns_cached_vectors_in_order():
    embedder = CountingEmbedder()
    cache = MemoryEmbeddingCache(max_entries=2)
    out = embed_with_cache(embedder, ["a b", "c d", "a b"], cache)
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[1], embedder.embed("c d"))
    embedder.embedded = 0
    embed_with_cache(embedder, ["e f"], cache)  # evicts the least recently used entry
    assert len(cache) == 2 and cache.get_many("hashing", [__import__("engine.cache").cache.text_hash("a b")]) == {}


def test_batch_probabilities_match_single_scores(hashing):
    samples = polar_samples("tone", 15, 15)
    snapshot = train_model([TraitSpec("tone", "Tone")], samples, hashing, "max").snapshot
    scorer = Scorer(snapshot, hashing)
    texts = [POSITIVE, NEGATIVE, "a table by the window"]
    batch = scorer.probabilities(hashing.embed_many(texts), texts)["tone"]
    from engine.card import universal_score
    assert [universal_score(p) for p in batch] == [scorer.score(t)["scores"]["tone"] for t in texts]


def test_long_samples_train_on_the_mean_of_their_windows(hashing):
    from engine.cache import embed_document
    from engine.segment import segment

    long = " ".join([POSITIVE] * 40 + [NEGATIVE] * 40)
    windows = segment(long, hashing)
    assert len(windows) > 1
    expected = hashing.embed_many([w.text for w in windows]).astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(embed_document(hashing, long), expected / np.linalg.norm(expected), atol=1e-6)
    assert embed_document(hashing, POSITIVE).tobytes() == hashing.embed(POSITIVE).tobytes()
