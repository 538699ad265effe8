"""Effort levels (SPEC §5.3): deterministic configuration grids, cross-validation and selection.

Grids (sizes are exact and tested):
- ``low`` (1): the default configuration only.
- ``medium`` (8): centre {yes, no} × variant {diffcos, axis} × weighting {quality, binary}.
- ``high`` (40): centre × variant {diffcos, axis(= whitened λ=∞), whitened λ ∈ {10, 1, 0.1}}
  × weighting × trim {0, 10 %}.
- ``xhigh`` (40): the high grid, 3 repeats of stratified 5-fold CV (seeds FOLD_SEED + repeat),
  then the simplest configuration whose mean AUC is within one standard error of the best.
- ``max`` (80): xhigh × a hashed word+char TF-IDF block appended to the embedding {off, on}.
The selection metric is out-of-fold concordance with q (pooled over folds, averaged over repeats);
ties go to the earlier grid entry, and grids list simpler entries first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from engine.balanced_cosine import concordance, direction, fold_count, pole_stats, raw_scores, stratified_folds
from engine.errors import EngineError

EFFORTS = ("low", "medium", "high", "xhigh", "max")
DEFAULT_EFFORT = "high"
FOLD_SEED = 5_021_977
MAX_FOLDS = 5

DEFAULT_CONFIG = {"centre": True, "variant": "diffcos", "lam": None, "weighting": "quality", "trim": 0.0, "tfidf": False}
FROZEN_CONFIG = {**DEFAULT_CONFIG, "variant": "frozen"}
_VARIANT_LAMBDAS = (("diffcos", None), ("axis", None), ("whitened", 10.0), ("whitened", 1.0), ("whitened", 0.1))
_VARIANT_COMPLEXITY = {("diffcos", None): 0, ("axis", None): 1, ("whitened", 10.0): 2, ("whitened", 1.0): 3,
                       ("whitened", 0.1): 4, ("frozen", None): 0}


class UnknownEffort(EngineError):
    """Effort is not one of low, medium, high, xhigh, max."""


class InvalidConfig(EngineError):
    """A stored configuration names an unknown option."""


def check_effort(effort: str | None) -> str:
    effort = DEFAULT_EFFORT if effort is None else effort
    if effort not in EFFORTS:
        raise UnknownEffort(f"unknown effort {effort!r}; expected one of {', '.join(EFFORTS)}")
    return effort


def config_grid(effort: str) -> list[dict]:
    effort = check_effort(effort)
    if effort == "low":
        return [dict(DEFAULT_CONFIG)]
    if effort == "medium":
        return [{**DEFAULT_CONFIG, "centre": centre, "variant": variant, "weighting": weighting}
                for centre in (True, False) for variant in ("diffcos", "axis") for weighting in ("quality", "binary")]
    tfidf_options = (False, True) if effort == "max" else (False,)
    return [{"centre": centre, "variant": variant, "lam": lam, "weighting": weighting, "trim": trim, "tfidf": tfidf}
            for tfidf in tfidf_options for centre in (True, False) for variant, lam in _VARIANT_LAMBDAS
            for weighting in ("quality", "binary") for trim in (0.0, 0.1)]


def cv_repeats(effort: str) -> int:
    return 3 if check_effort(effort) in ("xhigh", "max") else 1


def uses_one_se_rule(effort: str) -> bool:
    return check_effort(effort) in ("xhigh", "max")


def normalise_config(config: dict) -> dict:
    """A stored configuration with defaults filled in, validated."""
    full = {**DEFAULT_CONFIG, **config}
    lam = None if full["lam"] is None else float(full["lam"])
    if (full["variant"], lam) not in _VARIANT_COMPLEXITY or full["weighting"] not in ("quality", "binary"):
        raise InvalidConfig(f"invalid configuration {config!r}")
    return {"centre": bool(full["centre"]), "variant": full["variant"], "lam": lam, "weighting": full["weighting"],
            "trim": float(full["trim"]), "tfidf": bool(full["tfidf"])}


def complexity(config: dict) -> int:
    return (_VARIANT_COMPLEXITY[(config["variant"], config["lam"])] + (1 if config["trim"] > 0 else 0)
            + (2 if config["tfidf"] else 0))


@dataclass(frozen=True)
class SearchResult:
    index: int                # chosen entry of ``configs``
    config: dict
    auc: float                # its pooled out-of-fold concordance, averaged over repeats
    oof_raw: np.ndarray       # its out-of-fold raw scores (first repeat); in-sample when folds < 2
    folds: int                # folds used (1 = no cross-validation possible: in-sample)
    mean_auc: np.ndarray      # per configuration


FeatureSource = Callable[[bool, bool], np.ndarray]  # (centre, tfidf) → unit feature rows of the trait


def search(features_of: FeatureSource, q: np.ndarray, configs: list[dict], *, repeats: int = 1,
           one_se: bool = False, frozen: np.ndarray | None = None,
           on_configs_done: Callable[[int], None] | None = None) -> SearchResult:
    """Cross-validate every configuration and pick one (see module docstring)."""
    n, n_configs = q.size, len(configs)
    k = fold_count(q, MAX_FOLDS)
    pooled = np.zeros((repeats, n_configs))
    per_fold: list[list[float]] = [[] for _ in range(n_configs)]
    first_oof = np.zeros((n_configs, n))
    # Configurations that share a feature space, weighting and trim share pole statistics (and the
    # whitening eigenbasis), so they are evaluated together; results land at their grid index.
    groups: dict[tuple, list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault((config["centre"], config["tfidf"], config["weighting"], config["trim"]), []).append(index)
    for repeat in range(repeats):
        folds = stratified_folds(q, k, FOLD_SEED + repeat) if k >= 2 else np.zeros(n, dtype=np.int64)
        for (centre, tfidf, weighting, trim), members in groups.items():
            features = features_of(centre, tfidf)
            oof = np.zeros((len(members), n))
            for fold in range(max(k, 1)):
                test = folds == fold
                train = ~test if k >= 2 else test  # one fold: fit and score in-sample
                stats = pole_stats(features[train], q[train], weighting, trim)
                for row, index in enumerate(members):
                    w, offset = direction(stats, configs[index]["variant"], configs[index]["lam"], frozen)
                    oof[row, test] = raw_scores(features[test], w, offset)
                    if k >= 2:
                        per_fold[index].append(concordance(oof[row, test], q[test]))
            for row, index in enumerate(members):
                pooled[repeat, index] = concordance(oof[row], q)
                if repeat == 0:
                    first_oof[index] = oof[row]
            if on_configs_done is not None:
                on_configs_done(len(members))
    mean_auc = pooled.mean(axis=0)
    chosen = _select(configs, mean_auc, per_fold, one_se)
    return SearchResult(index=chosen, config=configs[chosen], auc=float(mean_auc[chosen]),
                        oof_raw=first_oof[chosen], folds=max(k, 1), mean_auc=mean_auc)


def _select(configs: list[dict], mean_auc: np.ndarray, per_fold: list[list[float]], one_se: bool) -> int:
    best = int(np.argmax(mean_auc))  # first maximum: earlier (simpler) grid entries win ties
    if not one_se or len(per_fold[best]) < 2:
        return best
    values = np.asarray(per_fold[best])
    standard_error = float(values.std(ddof=1)) / math.sqrt(values.size)
    floor = float(mean_auc[best]) - standard_error
    candidates = [i for i in range(len(configs)) if mean_auc[i] >= floor]
    return min(candidates, key=lambda i: (complexity(configs[i]), -float(mean_auc[i]), i))
