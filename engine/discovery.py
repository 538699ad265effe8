"""Trait discovery, "PCA → balanced LDA" (SPEC §5.4).

Pool every labelled sample, centre, reduce with PCA to k components, then:

1. For each existing trait, fit its balanced pole axis in the PCA subspace — the difference of the
   quality-weighted pole means ``c⁺ = Σq·z/Σq``, ``c⁻ = Σ(1−q)·z/Σ(1−q)`` over that trait's samples,
   so a pole with many more samples does not pull the axis — and back-project it to a unit
   direction in the full embedding space. It becomes the intrinsic trait ``<key>_intrinsic``.
2. Propose up to N extra axes: the top principal components whose |cos| with every intrinsic axis
   is below 0.3 (components are orthogonal to one another, so they never collide with each other),
   skipping components that explain less than twice an even share (1 / min(n − 1, dim)) of the
   variance — those are mostly noise and make meaningless proposals.

Decisions:
- k: low 16, medium 32, high 64, xhigh/max 128, capped by n − 1 and the embedding dimension.
  N: low 0, medium 1, high 2, xhigh 3, max 4.
- Component signs are fixed so each component's largest-magnitude coordinate is positive
  (first such coordinate on ties); with float64 LAPACK the result is then reproducible.
- ``discrimination`` of an intrinsic trait is the pooled out-of-fold AUC of its axis (stratified
  folds, fixed seed, up to 5 folds; fewer when a pole has fewer than 5 samples; null when a pole has
  fewer than 2). PCA itself is fitted once on all samples: it never sees the labels.
  Extra axes have no labels to validate against, so their ``discrimination`` is null.
- ``explained_variance`` = variance of the pooled projections on the unit direction / total variance.
- Anchors: up to 5 ids per pole, most extreme first (ties by input order). For an intrinsic trait
  they come from that trait's positive / negative samples; for an extra axis, from the whole pool.
- Extra-axis names come from the anchors' texts: per side, the word found in the most anchor texts of
  that side minus those of the other side (stop words and words under 3 letters ignored; ties by
  alphabet). Name ``Axis N: <negative word> ↔ <positive word>`` (read left to right, low to high);
  when no distinctive word exists the labels fall back to ``low`` / ``high``.
- A trait with no positive or no negative sample gets no intrinsic axis (nothing to orient it).
- ``traits`` items are ``(key, name)`` or ``(key, name, positive_label, negative_label)``; without
  labels an intrinsic trait is labelled ``positive`` / ``negative``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from engine.errors import EngineError

PCA_COMPONENTS = {"low": 16, "medium": 32, "high": 64, "xhigh": 128, "max": 128}
EXTRA_AXES = {"low": 0, "medium": 1, "high": 2, "xhigh": 3, "max": 4}
MAX_ABS_COS = 0.3
EXTRA_AXIS_MIN_SHARE_FACTOR = 2.0
ANCHORS_PER_POLE = 5
MAX_FOLDS = 5
FOLD_SEED = 20240917
_RANK_TOL = 1e-10  # relative singular value below which a component is numerical noise

_STOP_WORDS = frozenset(
    "the and for are but not you your yours with this that these those from have has had was were "
    "will would can could should our ours their theirs they them his her hers its it's i'm we're "
    "what when where which who whom why how all any each few more most other some such only own "
    "same than too very just also into onto over under again then once here there about above "
    "below after before between through during out off up down did does doing been being ".split()
)


class DiscoveryError(EngineError):
    """Discovery cannot run on the given inputs."""


@dataclass(frozen=True)
class IntrinsicTrait:
    key: str
    name: str
    description: str
    positive_label: str
    negative_label: str
    discrimination: float | None
    explained_variance: float
    anchor_sample_ids: dict = field(default_factory=dict)  # {"positive": [ids], "negative": [ids]}
    frozen_direction: tuple[float, ...] = ()
    source_trait: str | None = None  # the trait an intrinsic axis was fitted for; None for axis_N
    kind: str = "intrinsic"

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "positive_label": self.positive_label,
            "negative_label": self.negative_label,
            "kind": self.kind,
            "discrimination": self.discrimination,
            "explained_variance": self.explained_variance,
            "anchor_sample_ids": {
                "positive": list(self.anchor_sample_ids["positive"]),
                "negative": list(self.anchor_sample_ids["negative"]),
            },
            "frozen_direction": list(self.frozen_direction),
            "source_trait": self.source_trait,
        }


def principal_components(centred: np.ndarray, k: int) -> np.ndarray:
    """The top-k principal directions (rows, unit length, deterministic signs)."""
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    rank = int(np.count_nonzero(singular > _RANK_TOL * float(singular[0])))
    components = vt[: min(k, rank)]
    pivots = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(len(components)), pivots])
    return components * signs[:, None]


def pole_axis(z: np.ndarray, q: np.ndarray) -> np.ndarray | None:
    """Unit difference of the quality-weighted pole means, or None if a pole has no weight."""
    w_pos, w_neg = q, 1.0 - q
    if w_pos.sum() <= 0 or w_neg.sum() <= 0:
        return None
    axis = (w_pos @ z) / w_pos.sum() - (w_neg @ z) / w_neg.sum()
    norm = float(np.linalg.norm(axis))
    return axis / norm if norm > 0 else None


def auc(pos_scores: np.ndarray, neg_scores: np.ndarray) -> float:
    """Probability that a positive outranks a negative (ties count half), via average ranks."""
    scores = np.concatenate([pos_scores, neg_scores])
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(scores.size)
    ranks[order] = np.arange(1, scores.size + 1)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    n_pos, n_neg = pos_scores.size, neg_scores.size
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def out_of_fold_auc(z: np.ndarray, q: np.ndarray) -> float | None:
    """Pooled out-of-fold AUC of the pole axis over one trait's samples (z in PCA space)."""
    pos_idx, neg_idx = np.flatnonzero(q > 0.5), np.flatnonzero(q < 0.5)
    n_folds = min(MAX_FOLDS, pos_idx.size, neg_idx.size)
    if n_folds < 2:
        return None
    rng = np.random.default_rng(FOLD_SEED)
    fold = np.full(q.size, -1)  # q == 0.5 samples stay in every training split
    for idx in (pos_idx, neg_idx):  # stratified: each fold gets both poles
        fold[rng.permutation(idx)] = np.arange(idx.size) % n_folds
    oof = np.zeros(q.size)
    for f in range(n_folds):
        test = fold == f
        axis = pole_axis(z[~test], q[~test])
        if axis is None:
            return None
        oof[test] = z[test] @ axis
    return auc(oof[pos_idx], oof[neg_idx])


def _extremes(ids: list, scores: np.ndarray, rows: np.ndarray, highest: bool) -> list:
    if rows.size == 0:
        return []
    keyed = -scores[rows] if highest else scores[rows]
    order = rows[np.argsort(keyed, kind="stable")]
    return [ids[i] for i in order[:ANCHORS_PER_POLE]]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[^\W\d_]+", text.lower()) if len(w) >= 3 and w not in _STOP_WORDS}


def _distinctive_word(side: list[str], other: list[str]) -> str | None:
    side_df = Counter(w for text in side for w in _words(text))
    other_df = Counter(w for text in other for w in _words(text))
    ranked = sorted(side_df, key=lambda w: (-(side_df[w] - other_df[w]), -side_df[w], w))
    if ranked and side_df[ranked[0]] - other_df[ranked[0]] > 0:
        return ranked[0]
    return None


def name_axis(number: int, positive_texts: list[str], negative_texts: list[str]) -> tuple[str, str, str]:
    """(name, positive_label, negative_label) of an extra axis from its anchor texts."""
    positive = _distinctive_word(positive_texts, negative_texts) or "high"
    negative = _distinctive_word(negative_texts, positive_texts) or "low"
    return f"Axis {number}: {negative} ↔ {positive}", positive, negative


def discover(
    embeddings: np.ndarray,
    samples: list[tuple],
    traits: list[tuple],
    effort: str,
    anchor_texts: dict,
) -> list[IntrinsicTrait]:
    """Intrinsic traits for every orientable trait, then up to N extra axes (see module doc)."""
    if effort not in PCA_COMPONENTS:
        raise DiscoveryError(f"unknown effort {effort!r}")
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(samples):
        raise DiscoveryError("embeddings must be a 2-D array with one row per sample")
    if x.shape[0] < 2:
        raise DiscoveryError("discovery needs at least two samples")
    ids = [s[0] for s in samples]
    trait_of = np.array([s[1] for s in samples], dtype=object)
    quality = np.array([float(s[2]) for s in samples])

    centred = x - x.mean(axis=0)
    total_variance = float(np.mean(np.sum(centred**2, axis=1)))
    if total_variance <= 0:
        raise DiscoveryError("all sample embeddings are identical")
    k = min(PCA_COMPONENTS[effort], x.shape[0] - 1, x.shape[1])
    components = principal_components(centred, k)
    z = centred @ components.T

    def explained(direction: np.ndarray) -> float:
        return float(np.mean((centred @ direction) ** 2) / total_variance)

    found: list[IntrinsicTrait] = []
    subspace_axes: list[np.ndarray] = []
    for trait in traits:
        key, name = trait[0], trait[1]
        positive_label, negative_label = (trait[2], trait[3]) if len(trait) >= 4 else ("positive", "negative")
        rows = np.flatnonzero(trait_of == key)
        q = quality[rows]
        if not (np.any(q > 0.5) and np.any(q < 0.5)):
            continue
        axis = pole_axis(z[rows], q)
        if axis is None:
            continue
        subspace_axes.append(axis)
        direction = components.T @ axis
        direction /= np.linalg.norm(direction)
        projection = centred @ direction
        found.append(
            IntrinsicTrait(
                key=f"{key}_intrinsic",
                name=f"{name} (intrinsic)",
                description=f"Fixed axis of '{name}' found by discovery in a {len(components)}-component "
                "principal subspace; retraining recalibrates it but never rotates it.",
                positive_label=positive_label,
                negative_label=negative_label,
                discrimination=out_of_fold_auc(z[rows], q),
                explained_variance=explained(direction),
                anchor_sample_ids={
                    "positive": _extremes(ids, projection, rows[q > 0.5], highest=True),
                    "negative": _extremes(ids, projection, rows[q < 0.5], highest=False),
                },
                frozen_direction=tuple(float(v) for v in direction),
                source_trait=key,
            )
        )

    min_extra_share = EXTRA_AXIS_MIN_SHARE_FACTOR / min(x.shape[0] - 1, x.shape[1])
    taken_keys = {t[0] for t in traits} | {t.key for t in found}
    everyone = np.arange(x.shape[0])
    number = 0
    for j in range(len(components)):
        if sum(1 for t in found if t.source_trait is None) >= EXTRA_AXES[effort]:
            break
        # In PCA coordinates component j is the unit vector e_j, so cos(e_j, axis) = axis[j].
        if any(abs(float(a[j])) >= MAX_ABS_COS for a in subspace_axes):
            continue
        if explained(components[j]) < min_extra_share:
            break  # components come in decreasing variance: the rest are weaker still
        number += 1
        while f"axis_{number}" in taken_keys:
            number += 1
        projection = z[:, j]
        positive_ids = _extremes(ids, projection, everyone, highest=True)
        negative_ids = _extremes(ids, projection, everyone, highest=False)
        name, positive_label, negative_label = name_axis(
            number,
            [anchor_texts.get(i, "") for i in positive_ids],
            [anchor_texts.get(i, "") for i in negative_ids],
        )
        found.append(
            IntrinsicTrait(
                key=f"axis_{number}",
                name=name,
                description="A main direction of variation in the samples, nearly independent of the "
                "existing traits; named from the words that set its extreme samples apart.",
                positive_label=positive_label,
                negative_label=negative_label,
                discrimination=None,
                explained_variance=explained(components[j]),
                anchor_sample_ids={"positive": positive_ids, "negative": negative_ids},
                frozen_direction=tuple(float(v) for v in components[j]),
                source_trait=None,
            )
        )
    return found
