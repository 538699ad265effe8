"""Scoring: text + snapshot → score card (SPEC §4), a pure function of the two.

``Scorer`` decodes a snapshot's arrays once; ``score`` then segments the text, embeds its windows,
turns each window into a raw score per trait (``x·w − offset`` on the trait's feature space), into a
universal probability (``σ(a·r + b)``), aggregates per the trait's ``aggregation`` and hands the
card rules the probability, the polarity and whether the text lies in the trait's support.

Aggregation: ``mean``/``max``/``min`` of the per-window probabilities (polarity from the mean raw
score, or from the chosen window's); ``none`` scores the normalised mean of the window embeddings
(its TF-IDF block, if any, from the joined window texts). The support distance always uses the
document embedding (one window: its vector; several: the normalised window mean), matching how
training embeds samples.

Every reduction here is an elementwise product plus numpy's pairwise sum (never BLAS), and the
embedder runs single-threaded, so cards are byte-identical across processes and thread counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.calibration import polarity, sigmoid
from engine.card import CardParams, assemble_card, trait_detail
from engine.embedders.ngrams import tfidf_vectors
from engine.errors import EngineError
from engine.segment import segment
from engine.snapshot import Snapshot, decode_array


class UnknownTrait(EngineError):
    """A requested trait is neither a key nor a name of the model's traits."""

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        super().__init__(f"unknown trait(s): {', '.join(self.names)}")


@dataclass(frozen=True)
class _Trait:
    key: str
    name: str
    aggregation: str
    centre: bool
    tfidf: bool
    w: np.ndarray
    offset: float
    a: float
    b: float
    polarity_scale: float
    card: CardParams
    support: np.ndarray  # float32, centred + normalised training embeddings
    radius: float


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = math.sqrt(float(np.sum(vector * vector)))
    return vector / norm if norm > 0 else vector


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.sum(matrix * matrix, axis=1, keepdims=True))
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


class Scorer:
    """A snapshot with its arrays decoded, bound to the embedder it was trained with."""

    def __init__(self, snapshot: Snapshot, embedder) -> None:
        snapshot.check_embedder(embedder)
        # Only the decoded arrays are kept: the parsed JSON (base64 text) would double the memory of
        # every cached version.
        self.embedder = embedder
        data = snapshot.data
        dim = snapshot.dim
        self._mu = decode_array(data["mu"]).astype(np.float64)
        tfidf = data.get("tfidf")
        self._idf = decode_array(tfidf["idf"]).astype(np.float64) if tfidf else None
        self._tfidf_weight = float(tfidf["weight"]) if tfidf else 0.0
        self._traits: list[_Trait] = []
        for entry in data["traits"]:
            support = entry["support"]
            self._traits.append(_Trait(
                key=entry["key"], name=entry["name"], aggregation=entry["aggregation"],
                centre=bool(entry["config"]["centre"]), tfidf=bool(entry["config"]["tfidf"]),
                w=decode_array(entry["direction"]["w"]).astype(np.float64),
                offset=float(entry["direction"]["offset"]),
                a=float(entry["calibration"]["a"]), b=float(entry["calibration"]["b"]),
                polarity_scale=float(entry["polarity"]["scale"]),
                card=CardParams.from_dict(entry["card"]),
                support=decode_array(support["vectors"], "<f2", (int(support["count"]), dim)).astype(np.float32),
                radius=float(support["radius"]),
            ))
        self._by_name = {t.key: t for t in self._traits}
        for t in self._traits:
            self._by_name.setdefault(t.name, t)

    @property
    def nbytes(self) -> int:
        """Bytes held by the decoded arrays: what a cached copy of this version costs."""
        arrays = [self._mu, self._idf] + [a for t in self._traits for a in (t.w, t.support)]
        return sum(a.nbytes for a in arrays if a is not None)

    @property
    def trait_keys(self) -> list[str]:
        return [t.key for t in self._traits]

    def resolve(self, traits: list[str] | None) -> list[_Trait]:
        """Requested traits (by key or name) in the model's order; all when ``traits`` is None."""
        if traits is None:
            return list(self._traits)
        unknown = [name for name in traits if name not in self._by_name]
        if unknown:
            raise UnknownTrait(unknown)
        wanted = {self._by_name[name].key for name in traits}
        return [t for t in self._traits if t.key in wanted]

    def score(self, text: str, *, traits: list[str] | None = None, max_depth: int = 1) -> dict:
        selected = self.resolve(traits)
        windows = segment(text, self.embedder, max_depth)
        vectors = self.embedder.embed_many([w.text for w in windows]).astype(np.float64)
        return self._card([w.text for w in windows], vectors, sum(w.tokens for w in windows), selected)

    def probabilities(self, vectors: np.ndarray, texts: list[str] | None = None) -> dict[str, np.ndarray]:
        """Universal probability per trait for many single-window documents given their embeddings.

        The batch path for evaluation (benchmarks, offline checks): same maths as ``score`` for texts
        that fit one window, without segmentation or card rules. ``texts`` is needed only when a
        trait uses the TF-IDF block.
        """
        vectors = np.asarray(vectors, dtype=np.float64)
        centred = _unit_rows(vectors - self._mu)
        block = None
        if any(t.tfidf for t in self._traits):
            if texts is None:
                raise EngineError("this snapshot has TF-IDF traits: pass the texts too")
            block = tfidf_vectors(texts, self._idf)
        out = {}
        for trait in self._traits:
            rows = centred if trait.centre else vectors
            if trait.tfidf:
                rows = _unit_rows(np.hstack([rows, self._tfidf_weight * block]))
            raw = np.sum(rows * trait.w, axis=1) - trait.offset
            out[trait.key] = np.array([sigmoid(trait.a * float(r) + trait.b) for r in raw])
        return out

    def _card(self, texts: list[str], vectors: np.ndarray, input_tokens: int, selected: list[_Trait]) -> dict:
        centred = _unit_rows(vectors - self._mu)
        document = vectors[0] if len(texts) == 1 else _unit(vectors.mean(axis=0))
        document_centred = centred[0] if len(texts) == 1 else _unit(document - self._mu)
        document_centred32 = document_centred.astype(np.float32)
        window_tfidf = document_tfidf = None
        if self._idf is not None and any(t.tfidf for t in selected):
            window_tfidf = tfidf_vectors(texts, self._idf)
            document_tfidf = window_tfidf if len(texts) == 1 else tfidf_vectors([" ".join(texts)], self._idf)

        details = {}
        for trait in selected:
            if trait.aggregation == "none":
                rows = (document_centred if trait.centre else document)[None, :]
                block = document_tfidf
            else:
                rows = centred if trait.centre else vectors
                block = window_tfidf
            if trait.tfidf:
                rows = _unit_rows(np.hstack([rows, self._tfidf_weight * block]))
            raw = np.sum(rows * trait.w, axis=1) - trait.offset
            probabilities = [sigmoid(trait.a * float(r) + trait.b) for r in raw]
            if trait.aggregation in ("mean", "none"):
                p = math.fsum(probabilities) / len(probabilities)
                r = math.fsum(float(v) for v in raw) / raw.size
            else:
                pick = max if trait.aggregation == "max" else min
                chosen = pick(range(len(probabilities)), key=probabilities.__getitem__)
                p, r = probabilities[chosen], float(raw[chosen])
            nearest = 1.0 - float(np.max(np.sum(trait.support * document_centred32, axis=1)))
            details[trait.key] = trait_detail(p, polarity(r, trait.polarity_scale), trait.card,
                                              nearest <= trait.radius)
        return assemble_card(details, input_tokens)


def score_text(snapshot: Snapshot, text: str, embedder, *, traits: list[str] | None = None,
               max_depth: int = 1) -> dict:
    """One-off scoring; servers keep a ``Scorer`` per snapshot instead (it decodes arrays once)."""
    return Scorer(snapshot, embedder).score(text, traits=traits, max_depth=max_depth)
