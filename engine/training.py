"""Training entry point: labelled samples → searched, calibrated balanced_cosine traits → Snapshot.

Decisions:
- Samples are put in a canonical order first (sample id, then text hash, then quality), so the
  snapshot does not depend on the order the store returned them in.
- Positive = quality > 0.5, negative < 0.5; q = 0.5 samples count in the centring mean μ and in the
  support set, but not in poles, calibration or AUC.
- Folds = min(5, smallest pole). With a pole of one sample no held-out score exists: raw scores are
  then in-sample (``folds`` = 1 in the snapshot), the honest fallback for a tiny class.
- ``configs`` (a retrain) reuses the stored configuration of each listed trait: no search, one CV
  pass only to recalibrate. Unlisted traits are searched at ``effort``. Frozen directions are never
  searched or rotated.
- Support radius (SPEC §4 "5th-percentile nearest-neighbour distance"): we read it as the distance
  exceeded by only 5 % of training samples, i.e. the 95th percentile of each sample's cosine
  distance to its nearest other sample (centred, normalised space). Large traits keep an evenly
  spaced subset of ``SUPPORT_CAP`` samples (radius and scoring use the same subset).
- BLAS runs single-threaded during training (threadpoolctl), so a retrain on another machine or
  thread setting produces the same bytes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from engine.balanced_cosine import normalise_rows, pole_masks, pole_stats, direction, raw_scores
from engine.cache import EmbeddingCache, embed_with_cache, text_hash
from engine.calibration import fit_calibration, polarity_scale, sigmoid_array
from engine.card import card_params_from_oof
from engine.effort import (DEFAULT_EFFORT, FROZEN_CONFIG, check_effort, config_grid, cv_repeats, normalise_config,
                           search, uses_reference_rule)
from engine.embedders.ngrams import TFIDF_DIM, TFIDF_WEIGHT, fit_idf, tfidf_vectors
from engine.errors import EngineError
from engine.snapshot import FORMAT, Snapshot, encode_array

AGGREGATIONS = ("mean", "max", "min", "none")
SUPPORT_CAP = 1000
SUPPORT_PERCENTILE = 95.0

Progress = Callable[[int, int, str], None]
# Progress messages of the embedding phase start with this; search messages start with "trait ".
EMBEDDING_MESSAGE_PREFIX = "embedding"


@dataclass(frozen=True)
class TraitSpec:
    key: str
    name: str
    aggregation: str = "mean"
    frozen_direction: tuple[float, ...] | None = None


@dataclass(frozen=True)
class LabelledSample:
    trait_key: str
    text: str
    quality: float
    sample_id: int | None = None


@dataclass(frozen=True)
class TrainResult:
    snapshot: Snapshot
    metrics: dict  # {"traits": {key: {auc, n_positive, n_negative, config}}, "effort", "train_seconds"}


class InsufficientSamples(EngineError):
    """Some trait lacks a positive or a negative sample, or the model has no traits."""

    def __init__(self, lacking: dict[str, str], message: str | None = None) -> None:
        self.lacking = dict(lacking)
        detail = "; ".join(f"{key}: {reason}" for key, reason in sorted(self.lacking.items()))
        super().__init__(message or f"insufficient samples ({detail})")


class InvalidTrainingInput(EngineError):
    """Malformed traits or samples (duplicate key, unknown aggregation or trait, bad quality, ...)."""


def _validate(traits: list[TraitSpec], samples: list[LabelledSample], dim: int) -> None:
    if not traits:
        raise InsufficientSamples({}, "the model has no traits")
    keys = [t.key for t in traits]
    if len(set(keys)) != len(keys):
        raise InvalidTrainingInput("trait keys must be unique")
    for trait in traits:
        if trait.aggregation not in AGGREGATIONS:
            raise InvalidTrainingInput(f"trait {trait.key}: unknown aggregation {trait.aggregation!r}")
        if trait.frozen_direction is not None and len(trait.frozen_direction) != dim:
            raise InvalidTrainingInput(f"trait {trait.key}: frozen direction has {len(trait.frozen_direction)} "
                                       f"dimensions, the embedder {dim}")
    known = set(keys)
    has_pos = {k: False for k in keys}
    has_neg = {k: False for k in keys}
    for sample in samples:
        if sample.trait_key not in known:
            raise InvalidTrainingInput(f"sample for unknown trait {sample.trait_key!r}")
        q = float(sample.quality)
        if not 0.0 <= q <= 1.0:  # also rejects NaN
            raise InvalidTrainingInput(f"sample quality {sample.quality!r} outside [0, 1]")
        has_pos[sample.trait_key] |= q > 0.5
        has_neg[sample.trait_key] |= q < 0.5
    lacking = {}
    for key in keys:
        missing = [side for side, ok in (("positive (quality > 0.5)", has_pos[key]),
                                         ("negative (quality < 0.5)", has_neg[key])) if not ok]
        if missing:
            lacking[key] = "no " + " and no ".join(missing) + " sample"
    if lacking:
        raise InsufficientSamples(lacking)


def _sample_order(sample: LabelledSample) -> tuple:
    return (sample.sample_id is None, sample.sample_id or 0, text_hash(sample.text), float(sample.quality))


def support_set(rows: np.ndarray) -> tuple[np.ndarray, float]:
    """(float16 support vectors, radius) of a trait's centred, normalised sample embeddings."""
    if rows.shape[0] > SUPPORT_CAP:
        rows = rows[np.unique(np.linspace(0, rows.shape[0] - 1, SUPPORT_CAP).round().astype(np.int64))]
    stored = rows.astype(np.float16)
    if stored.shape[0] < 2:
        return stored, 2.0  # no neighbour to measure: cosine distance never exceeds 2
    vectors = stored.astype(np.float64)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = 1.0 - similarity.max(axis=1)
    return stored, float(np.percentile(nearest, SUPPORT_PERCENTILE, method="linear"))


def train_model(traits: list[TraitSpec], samples: list[LabelledSample], embedder, effort: str = DEFAULT_EFFORT, *,
                cache: EmbeddingCache | None = None, progress: Progress | None = None,
                configs: dict[str, dict] | None = None) -> TrainResult:
    started = time.perf_counter()
    effort = check_effort(effort)
    _validate(traits, samples, int(embedder.dim))
    with threadpool_limits(limits=1, user_api="blas"):
        data, metrics = _train(list(traits), sorted(samples, key=_sample_order), embedder, effort,
                               cache, progress, configs or {})
    metrics["train_seconds"] = round(time.perf_counter() - started, 3)
    return TrainResult(snapshot=Snapshot(data), metrics=metrics)


def search_units(traits: list[TraitSpec], effort: str, configs: dict[str, dict] | None = None) -> int:
    """How many configuration evaluations train_model reports as search progress after embedding."""
    effort = check_effort(effort)
    return sum(len(p.grid) * p.repeats for p in (_plan(t, effort, configs or {}) for t in traits))


@dataclass
class _Plan:
    grid: list[dict]
    repeats: int
    reference_rule: bool
    frozen: np.ndarray | None = field(default=None)


def _plan(trait: TraitSpec, effort: str, configs: dict[str, dict]) -> _Plan:
    if trait.frozen_direction is not None:
        frozen = np.asarray(trait.frozen_direction, dtype=np.float64)
        norm = math.sqrt(float(np.sum(frozen * frozen)))
        if norm == 0.0:
            raise InvalidTrainingInput(f"trait {trait.key}: frozen direction is the zero vector")
        return _Plan([dict(FROZEN_CONFIG)], 1, False, frozen / norm)
    if trait.key in configs:
        return _Plan([normalise_config(configs[trait.key])], 1, False)
    return _Plan(config_grid(effort), cv_repeats(effort), uses_reference_rule(effort))


def _train(traits, samples, embedder, effort, cache, progress, configs) -> tuple[dict, dict]:
    plans = {t.key: _plan(t, effort, configs) for t in traits}
    search_total = search_units(traits, effort, configs)
    texts = [s.text for s in samples]
    quality = np.array([float(s.quality) for s in samples], dtype=np.float64)
    keys = np.array([s.trait_key for s in samples], dtype=object)

    done = 0
    embed_total = 0

    def on_embedded(count: int, total: int) -> None:
        nonlocal embed_total
        embed_total = total
        if progress is not None:
            progress(count, total + search_total, f"{EMBEDDING_MESSAGE_PREFIX} samples {count}/{total}")

    raw = embed_with_cache(embedder, texts, cache, on_embedded=on_embedded).astype(np.float64)
    done = embed_total
    total = embed_total + search_total
    # μ and idf are rounded to their stored float32 form first, so scoring sees the same values.
    mu = raw.mean(axis=0).astype(np.float32).astype(np.float64)
    centred = normalise_rows(raw - mu)
    use_tfidf = any(c["tfidf"] for p in plans.values() for c in p.grid)
    idf = fit_idf(texts, TFIDF_DIM).astype(np.float32).astype(np.float64) if use_tfidf else None
    tfidf = tfidf_vectors(texts, idf) if use_tfidf else None

    trait_entries, trait_metrics = [], {}
    for trait in traits:
        rows = np.flatnonzero(keys == trait.key)
        q = quality[rows]
        spaces: dict[tuple[bool, bool], np.ndarray] = {}

        def features_of(centre: bool, with_tfidf: bool, rows=rows, spaces=spaces) -> np.ndarray:
            if (centre, with_tfidf) not in spaces:
                base = centred[rows] if centre else raw[rows]
                if with_tfidf:
                    base = normalise_rows(np.hstack([base, TFIDF_WEIGHT * tfidf[rows]]))
                spaces[(centre, with_tfidf)] = base
            return spaces[(centre, with_tfidf)]

        plan = plans[trait.key]

        def on_configs_done(count: int, key=trait.key) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(done, total, f"trait {key}: {done - embed_total}/{search_total} configurations")

        result = search(features_of, q, plan.grid, repeats=plan.repeats, reference_rule=plan.reference_rule,
                        frozen=plan.frozen, on_configs_done=on_configs_done)
        config = result.config
        calibration = fit_calibration(result.oof_raw, q)
        oof_p = sigmoid_array(calibration.a * result.oof_raw + calibration.b)
        card = card_params_from_oof(oof_p, q)

        features = features_of(config["centre"], config["tfidf"])
        stats = pole_stats(features, q, config["weighting"], config["trim"])
        w, offset = direction(stats, config["variant"], config["lam"], plan.frozen)
        w32 = w.astype(np.float32)
        scale = polarity_scale(raw_scores(features, w32.astype(np.float64), offset), q)
        support, radius = support_set(centred[rows])

        trait_entries.append({
            "key": trait.key, "name": trait.name, "aggregation": trait.aggregation,
            "config": config, "frozen": plan.frozen is not None, "folds": result.folds,
            "direction": {"w": encode_array(w32), "offset": float(offset)},
            "calibration": {"a": float(calibration.a), "b": float(calibration.b)},
            "polarity": {"method": "tanh", "scale": float(scale)},
            "card": card.to_dict(),
            "support": {"count": int(support.shape[0]), "dtype": "float16", "vectors": encode_array(support, "<f2"),
                        "radius": float(radius), "percentile": SUPPORT_PERCENTILE},
        })
        pos, neg = pole_masks(q)
        trait_metrics[trait.key] = {"auc": float(result.auc), "n_positive": int(pos.sum()),
                                    "n_negative": int(neg.sum()), "config": dict(config)}

    data = {
        "format": FORMAT,
        "effort": effort,
        "embedder": {"id": embedder.id, "model_hash": embedder.model_hash, "dim": int(embedder.dim)},
        "mu": encode_array(mu),
        "tfidf": None if idf is None else {"dim": TFIDF_DIM, "weight": TFIDF_WEIGHT, "idf": encode_array(idf)},
        "traits": trait_entries,
    }
    return data, {"traits": trait_metrics, "effort": effort}
