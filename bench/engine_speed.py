"""Engine speed: score latency (one core), encode throughput, training time per effort, RSS.

Latency and RSS run in fresh subprocesses pinned to one CPU with BLAS/OpenMP threads at 1. Training
times use embeddings from the on-disk cache ("fit" = search + calibration, no encoder), plus one
cold run at medium that includes embedding 900 texts. ``BENCH_QUICK=1`` skips 3 × 3,000 at max
(about 70 s on an idle 2-core machine, 4 minutes under heavy load).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from bench.engine_models import build_snapshot, snapshot_path, three_trait_set
from engine.effort import EFFORTS

ONE_CORE_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _child(mode: str) -> dict:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from bench.vader_data import load_domains
    from engine.embedders import get_embedder
    from engine.scorer import Scorer
    from engine.snapshot import Snapshot

    embedder = get_embedder("minilm")
    scorer = Scorer(Snapshot.from_json(snapshot_path().read_text()), embedder)
    if mode == "rss":
        scorer.score("A quick check that everything is loaded.")
        status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
        return {"rss_mb": int(status["VmRSS"].split()[0]) / 1024, "peak_rss_mb": int(status["VmHWM"].split()[0]) / 1024}
    tweets = [t for t in load_domains()["tweets"].texts if len(t) < 140][:200]
    for text in tweets[:30]:
        scorer.score(text)
    timings, embed_timings = [], []
    for text in tweets * 2:
        started = time.perf_counter()
        scorer.score(text)
        timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        embedder.embed(text)
        embed_timings.append(time.perf_counter() - started)
    batch = load_domains()["tweets"].texts[:500]
    started = time.perf_counter()
    embedder.embed_many(batch)
    throughput = len(batch) / (time.perf_counter() - started)
    ms = lambda values, q: round(float(np.percentile(values, q)) * 1000, 2)
    return {"score_p50_ms": ms(timings, 50), "score_p99_ms": ms(timings, 99), "embed_p50_ms": ms(embed_timings, 50),
            "encode_texts_per_s": round(throughput, 1), "n_latency_samples": len(timings)}


def _in_subprocess(mode: str) -> dict:
    env = {**os.environ, **ONE_CORE_ENV}
    out = subprocess.run([sys.executable, "-m", "bench.engine_speed", "--child", mode], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def training_times() -> dict:
    from engine.cache import MemoryEmbeddingCache
    from engine.embedders import get_embedder
    from engine.training import train_model

    embedder = get_embedder("minilm")
    out = {}
    traits, samples, _ = three_trait_set(300)
    started = time.perf_counter()
    train_model(traits, samples, embedder, "medium", cache=MemoryEmbeddingCache())
    out["3x300_medium_cold_incl_embedding_s"] = round(time.perf_counter() - started, 2)
    quick = os.environ.get("BENCH_QUICK") == "1"
    for per_trait in (300, 3000):
        traits, samples, cache = three_trait_set(per_trait)
        for effort in EFFORTS:
            if per_trait == 3000 and effort == "max" and quick:
                out[f"3x{per_trait}_{effort}_fit_s"] = None
                continue
            started = time.perf_counter()
            train_model(traits, samples, embedder, effort, cache=cache)
            out[f"3x{per_trait}_{effort}_fit_s"] = round(time.perf_counter() - started, 2)
            print(per_trait, effort, out[f"3x{per_trait}_{effort}_fit_s"], flush=True)
    return out


def run() -> dict:
    if not snapshot_path().exists():
        build_snapshot()
    result = {"load_average_at_start": [round(v, 2) for v in os.getloadavg()], "cpus": os.cpu_count()}
    result.update(_in_subprocess("latency"))
    result.update(_in_subprocess("rss"))
    result["snapshot_bytes_3x300"] = snapshot_path().stat().st_size
    result["training"] = training_times()
    return result


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2])))
    else:
        print(json.dumps(run(), indent=1))
