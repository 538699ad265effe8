"""The version snapshot: a self-contained, versioned, JSON-serialisable record of a trained model.

Layout (``format`` 1)::

    {"format": 1, "effort": str,
     "embedder": {"id", "model_hash", "dim"},
     "mu": <vector>,                              # centring mean of all training samples
     "tfidf": null | {"dim", "weight", "idf": <vector>},
     "traits": [{"key", "name", "aggregation", "config", "frozen", "folds",
                 "direction": {"w": <vector>, "offset": float},
                 "calibration": {"a", "b"}, "polarity": {"method": "tanh", "scale"},
                 "card": CardParams.to_dict(),
                 "support": {"count", "dtype", "vectors": <matrix>, "radius", "percentile"}}, ...]}

Vectors are base64 of little-endian float32 (support matrices float16), which round-trips exactly
and keeps the JSON small. Scalars are Python floats (shortest round-trip repr). The canonical form
is sorted keys, no whitespace, ASCII only; ``param_hash`` is the sha256 of it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine.errors import EngineError

FORMAT = 1


class SnapshotError(EngineError):
    """The snapshot is malformed or of an unsupported format."""


class EmbedderMismatch(EngineError):
    """The snapshot was built with a different embedder (or model bytes) than the one loaded."""

    def __init__(self, expected: tuple[str, str], loaded: tuple[str, str]) -> None:
        self.expected = expected
        self.loaded = loaded
        super().__init__(f"snapshot needs embedder {expected[0]} ({expected[1][:12]}…), "
                         f"but {loaded[0]} ({loaded[1][:12]}…) is loaded")


def encode_array(values: np.ndarray, dtype: str = "<f4") -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.dtype(dtype)).tobytes()).decode("ascii")


def decode_array(text: str, dtype: str = "<f4", shape: tuple[int, ...] | None = None) -> np.ndarray:
    array = np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype))
    return array.reshape(shape) if shape is not None else array


def canonical_json(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


@dataclass(frozen=True)
class Snapshot:
    """A thin, read-only wrapper around the snapshot's JSON-ready dict."""

    data: dict

    def __post_init__(self) -> None:
        if not isinstance(self.data, dict) or self.data.get("format") != FORMAT:
            raise SnapshotError(f"unsupported snapshot format {self.data.get('format') if isinstance(self.data, dict) else None!r}")
        for name in ("embedder", "mu", "traits"):
            if name not in self.data:
                raise SnapshotError(f"snapshot lacks {name!r}")

    def to_json(self) -> str:
        return self.canonical

    @classmethod
    def from_json(cls, text: str | bytes) -> "Snapshot":
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise SnapshotError(f"snapshot is not valid JSON: {exc}") from exc
        return cls(data)

    @cached_property
    def canonical(self) -> str:
        return canonical_json(self.data)

    @cached_property
    def param_hash(self) -> str:
        return hashlib.sha256(self.canonical.encode("ascii")).hexdigest()

    @property
    def embedder_id(self) -> str:
        return self.data["embedder"]["id"]

    @property
    def model_hash(self) -> str:
        return self.data["embedder"]["model_hash"]

    @property
    def dim(self) -> int:
        return int(self.data["embedder"]["dim"])

    @property
    def effort(self) -> str:
        return self.data["effort"]

    @property
    def trait_keys(self) -> list[str]:
        return [trait["key"] for trait in self.data["traits"]]

    def configs(self) -> dict[str, dict]:
        """Per-trait chosen configuration, as ``train_model(configs=...)`` takes it for a retrain."""
        return {trait["key"]: dict(trait["config"]) for trait in self.data["traits"]}

    def check_embedder(self, embedder) -> None:
        loaded = (embedder.id, embedder.model_hash)
        expected = (self.embedder_id, self.model_hash)
        if loaded != expected or int(embedder.dim) != self.dim:
            raise EmbedderMismatch(expected, loaded)
