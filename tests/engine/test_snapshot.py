import json

import numpy as np
import pytest

from engine.embedders.hashing import HashingEmbedder
from engine.scorer import Scorer, score_text
from engine.snapshot import EmbedderMismatch, Snapshot, SnapshotError, canonical_json
from engine.training import TraitSpec, train_model

from conftest import polar_samples

PROBES = ["the staff were wonderful and kind", "rude slow and useless service", "a table by the window",
          " ".join(["great lovely visit"] * 200)]


def test_round_trip_keeps_hash_and_scores(tone_model, hashing):
    snapshot = tone_model.snapshot
    text = snapshot.to_json()
    loaded = Snapshot.from_json(text)
    assert loaded.param_hash == snapshot.param_hash
    assert loaded.to_json() == text
    for probe in PROBES:
        assert canonical_json(score_text(loaded, probe, hashing)) == canonical_json(score_text(snapshot, probe, hashing))


def test_canonical_form_is_compact_sorted_and_parseable(tone_model):
    text = tone_model.snapshot.to_json()
    assert " " not in text and "\n" not in text
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert data["format"] == 1
    assert data["embedder"] == {"id": "hashing", "model_hash": HashingEmbedder(256).model_hash, "dim": 256}
    trait = data["traits"][0]
    assert {"key", "name", "aggregation", "config", "direction", "calibration", "polarity", "card", "support"} <= set(trait)
    assert tone_model.snapshot.param_hash == __import__("hashlib").sha256(text.encode()).hexdigest()


def test_snapshot_records_the_chosen_configurations(tone_model):
    assert tone_model.snapshot.configs() == {key: m["config"] for key, m in tone_model.metrics["traits"].items()}
    assert tone_model.snapshot.trait_keys == ["tone", "warmth"]


def test_scoring_with_another_embedder_is_refused(tone_model):
    with pytest.raises(EmbedderMismatch) as caught:
        Scorer(tone_model.snapshot, HashingEmbedder(128))
    assert caught.value.expected[0] == "hashing"

    class Renamed(HashingEmbedder):
        id = "minilm"

    with pytest.raises(EmbedderMismatch):
        score_text(tone_model.snapshot, "hello", Renamed(256))


def test_unsupported_format_and_garbage_are_typed_errors(tone_model):
    data = json.loads(tone_model.snapshot.to_json())
    data["format"] = 2
    with pytest.raises(SnapshotError):
        Snapshot(data)
    with pytest.raises(SnapshotError):
        Snapshot.from_json("{not json")


def test_three_traits_of_300_samples_stay_small():
    embedder = HashingEmbedder(384)  # MiniLM's width, so the size is representative
    traits = [TraitSpec(f"t{i}", f"T{i}") for i in range(3)]
    samples = [s for i in range(3) for s in polar_samples(f"t{i}", 150, 150, start=1000 * i)]
    snapshot = train_model(traits, samples, embedder, "low").snapshot
    size = len(snapshot.to_json())
    assert size < 1_500_000
    support = snapshot.data["traits"][0]["support"]
    assert support["count"] == 300 and support["dtype"] == "float16"
    assert 0.0 < support["radius"] < 2.0
