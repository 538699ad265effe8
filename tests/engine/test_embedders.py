import hashlib

import numpy as np
import pytest

from engine import embedders
from engine.embedders import UnknownEmbedder, get_embedder
from engine.embedders.base import ModelIntegrityError
from engine.embedders.hashing import HashingEmbedder


def test_hashing_vectors_are_unit_float32_and_deterministic():
    e = HashingEmbedder(128)
    v = e.embed("The staff were friendly and quick")
    assert v.dtype == np.float32 and v.shape == (128,)
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-6
    assert v.tobytes() == HashingEmbedder(128).embed("The staff were friendly and quick").tobytes()
    assert not np.array_equal(v, e.embed("Something else entirely"))


def test_embed_many_matches_embed_row_by_row():
    e = HashingEmbedder(64)
    texts = ["one two", "three four five", ""]
    many = e.embed_many(texts)
    assert many.shape == (3, 64)
    for row, text in zip(many, texts):
        assert row.tobytes() == e.embed(text).tobytes()


def test_get_embedder_is_a_singleton_chosen_by_env(monkeypatch):
    monkeypatch.setenv("ASSAY_EMBEDDER", "hashing")
    first = get_embedder()
    assert first.id == "hashing"
    assert get_embedder() is first
    assert get_embedder("hashing") is first


def test_unknown_backend_is_a_typed_error():
    with pytest.raises(UnknownEmbedder):
        get_embedder("word2vec")


@pytest.mark.parametrize("name", ["hashing", "minilm", "use"])
def test_split_windows_respects_budget_and_keeps_every_word(name):
    e = get_embedder(name)
    text = " ".join(f"unbelievably{i % 13} wonderful, extraordinary stuff." for i in range(300))
    windows = e.split_windows(text, 64)
    assert len(windows) > 3
    for window, tokens in windows:
        assert tokens == e.count_tokens(window)
        assert tokens <= 64
    # Cuts fall between words: re-joining the windows gives back the words in order.
    assert " ".join(w for w, _ in windows).split() == text.split()


@pytest.mark.parametrize("name", ["hashing", "minilm", "use"])
def test_short_and_empty_texts_give_one_window(name):
    e = get_embedder(name)
    assert e.split_windows("Just a short sentence.", 256) == [("Just a short sentence.", e.count_tokens("Just a short sentence."))]
    assert len(e.split_windows("", 256)) == 1


def test_use_backend_is_512d_unit_and_separates_meaning():
    e = get_embedder("use")
    assert e.dim == 512
    cat, kitten, tax = e.embed_many(["The cat sleeps on the sofa.", "A kitten naps on the couch.",
                                     "Quarterly tax filings are due in April."])
    assert abs(float(np.linalg.norm(cat)) - 1.0) < 1e-5
    assert float(cat @ kitten) > float(cat @ tax) + 0.1


def test_minilm_refuses_weights_whose_hash_differs(monkeypatch):
    from engine.embedders import minilm

    monkeypatch.setattr(minilm, "MODEL_SHA256", hashlib.sha256(b"not the model").hexdigest())
    with pytest.raises(ModelIntegrityError):
        minilm.MiniLMEmbedder()


def test_use_refuses_weights_whose_hash_differs(monkeypatch):
    from engine.embedders import use

    monkeypatch.setattr(use, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(ModelIntegrityError):
        use.USEEmbedder()


def test_backends_listed():
    assert set(embedders.BACKENDS) == {"minilm", "use", "hashing"}
