"""Quality of balanced_cosine on real human-labelled data (VADER ICWSM-2014), against logistic regression.

Per domain (tweets, movie, amazon, nyt), 5 seeds: train on 300 random sentences, test on 1,500
held-out ones (all remaining when fewer). Labels: q = (s + 4)/8 for balanced_cosine (soft targets;
s = 0 gives q = 0.5, no pole), sign s > 0 for logistic regression (s = 0 sentences are left out of its
training set) and for the test AUC (s = 0 test sentences are left out of AUC, kept for Spearman).
The baseline is scikit-learn's LogisticRegressionCV (5-fold, 10 Cs, AUC scoring) on the same MiniLM
embeddings. Also: train movie → test tweets (domain shift) and a 9:1 positive:negative training set.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score

from bench.vader_data import DOMAINS, embeddings, load_domains, prefilled_cache
from engine.effort import EFFORTS
from engine.embedders import get_embedder
from engine.scorer import Scorer
from engine.training import LabelledSample, TraitSpec, train_model

SEEDS = (0, 1, 2, 3, 4)
N_TRAIN = 300
N_TEST = 1500


def _metrics(scores: np.ndarray, sentiment: np.ndarray) -> dict:
    signed = sentiment != 0
    return {"auc": float(roc_auc_score(sentiment[signed] > 0, scores[signed])),
            "spearman": float(spearmanr(scores, sentiment).statistic)}


def _balanced_cosine(embedder, texts, quality, cache, test_vectors, test_texts, effort) -> np.ndarray:
    samples = [LabelledSample("sentiment", t, float(q)) for t, q in zip(texts, quality)]
    snapshot = train_model([TraitSpec("sentiment", "Sentiment")], samples, embedder, effort, cache=cache).snapshot
    return Scorer(snapshot, embedder).probabilities(test_vectors, test_texts)["sentiment"]


def _logistic(train_vectors, sentiment, test_vectors) -> np.ndarray:
    signed = sentiment != 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegressionCV(Cs=10, cv=5, scoring="roc_auc", max_iter=2000)
        model.fit(train_vectors[signed], sentiment[signed] > 0)
    return model.decision_function(test_vectors)


def _evaluate(embedder, train, test, cache, efforts) -> dict:
    """train/test: (texts, vectors, sentiment, quality) tuples."""
    out = {}
    for effort in efforts:
        p = _balanced_cosine(embedder, train[0], train[3], cache, test[1], test[0], effort)
        out[f"bc_{effort}"] = _metrics(p, test[2])
    out["logreg"] = _metrics(_logistic(train[1], train[2], test[1]), test[2])
    return out


def _split(domain, vectors, rng, n_train, n_test, exclude=None):
    order = rng.permutation(len(domain.texts))
    train_idx, rest = order[:n_train], order[n_train:]
    test_idx = rest[:n_test]
    pick = lambda idx: ([domain.texts[i] for i in idx], vectors[idx], domain.sentiment[idx], domain.quality[idx])
    return pick(train_idx), pick(test_idx)


def _imbalanced(domain, vectors, rng):
    """270 positive + 30 negative training sentences; 1,500 held-out test sentences."""
    order = rng.permutation(len(domain.texts))
    pos = [i for i in order if domain.sentiment[i] > 0][:270]
    neg = [i for i in order if domain.sentiment[i] < 0][:30]
    chosen = set(pos) | set(neg)
    test_idx = np.array([i for i in order if i not in chosen][:N_TEST])
    train_idx = np.array(pos + neg)
    pick = lambda idx: ([domain.texts[i] for i in idx], vectors[idx], domain.sentiment[idx], domain.quality[idx])
    return pick(train_idx), pick(test_idx)


def _mean(runs: list[dict]) -> dict:
    keys = runs[0].keys()
    return {k: {m: round(float(np.mean([r[k][m] for r in runs])), 4) for m in ("auc", "spearman")} for k in keys}


def run(efforts=EFFORTS) -> dict:
    started = time.perf_counter()
    embedder = get_embedder("minilm")
    domains = load_domains()
    vectors = {name: embeddings(domains[name]) for name in DOMAINS}
    caches = {name: prefilled_cache(domains[name].texts, vectors[name]) for name in DOMAINS}
    result = {"in_domain": {}, "shift_movie_to_tweets": None, "imbalanced_9_to_1": {},
              "settings": {"seeds": list(SEEDS), "n_train": N_TRAIN, "n_test": N_TEST, "efforts": list(efforts),
                           "label_q": "(s+4)/8", "auc_label": "s>0 (s=0 excluded)"}}
    for name in DOMAINS:
        runs = []
        for seed in SEEDS:
            train, test = _split(domains[name], vectors[name], np.random.default_rng(seed), N_TRAIN, N_TEST)
            runs.append(_evaluate(embedder, train, test, caches[name], efforts))
        result["in_domain"][name] = _mean(runs)
        print(name, json.dumps(result["in_domain"][name]), flush=True)

    runs = []
    for seed in SEEDS:
        train, _ = _split(domains["movie"], vectors["movie"], np.random.default_rng(seed), N_TRAIN, 0)
        _, test = _split(domains["tweets"], vectors["tweets"], np.random.default_rng(100 + seed), 0, N_TEST)
        runs.append(_evaluate(embedder, train, test, caches["movie"], efforts))
    result["shift_movie_to_tweets"] = _mean(runs)
    print("shift", json.dumps(result["shift_movie_to_tweets"]), flush=True)

    for name in DOMAINS:
        runs = []
        for seed in SEEDS:
            train, test = _imbalanced(domains[name], vectors[name], np.random.default_rng(seed))
            runs.append(_evaluate(embedder, train, test, caches[name], efforts))
        result["imbalanced_9_to_1"][name] = _mean(runs)
        print("imbalanced", name, json.dumps(result["imbalanced_9_to_1"][name]), flush=True)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


if __name__ == "__main__":
    efforts = tuple(sys.argv[1].split(",")) if len(sys.argv) > 1 else EFFORTS
    print(json.dumps(run(efforts), indent=1))
