"""Determinism: the same score cards, byte for byte, across fresh processes and thread counts.

Each worker is a fresh Python process that loads MiniLM and the 3-trait benchmark snapshot, scores
1,000 texts (every 20th a long multi-window text) and hashes the canonical JSON of all cards; it
also retrains the 3 × 300 model at ``high`` from cached embeddings and reports its ``param_hash``.
Three workers run with every thread knob at 1, two with them at 2.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from bench.engine_models import build_snapshot, probe_texts, snapshot_path, three_trait_set

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RUNS = (("threads=1 #1", 1), ("threads=1 #2", 1), ("threads=1 #3", 1), ("threads=2 #1", 2), ("threads=2 #2", 2))


def _worker() -> dict:
    from engine.embedders import get_embedder
    from engine.scorer import Scorer
    from engine.snapshot import Snapshot, canonical_json
    from engine.training import train_model

    embedder = get_embedder("minilm")
    scorer = Scorer(Snapshot.from_json(snapshot_path().read_text()), embedder)
    digest = hashlib.sha256()
    for text in probe_texts(1000):
        digest.update(canonical_json(scorer.score(text)).encode("ascii") + b"\n")
    traits, samples, cache = three_trait_set(300)
    retrained = train_model(traits, samples, embedder, "high", cache=cache).snapshot
    return {"cards_sha256": digest.hexdigest(), "retrain_param_hash": retrained.param_hash}


def run() -> dict:
    if not snapshot_path().exists():
        build_snapshot()
    runs = {}
    for label, threads in RUNS:
        env = {**os.environ, **{name: str(threads) for name in THREAD_VARS}}
        out = subprocess.run([sys.executable, "-m", "bench.engine_determinism", "--worker"], env=env, check=True,
                             capture_output=True, text=True).stdout
        runs[label] = json.loads(out.strip().splitlines()[-1])
        print(label, runs[label], flush=True)
    cards = {r["cards_sha256"] for r in runs.values()}
    params = {r["retrain_param_hash"] for r in runs.values()}
    return {"texts": 1000, "runs": runs, "cards_identical": len(cards) == 1, "retrain_identical": len(params) == 1}


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        print(json.dumps(_worker()))
    else:
        print(json.dumps(run(), indent=1))
