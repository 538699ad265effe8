"""Benchmark models built from the VADER sentences: 3 sentiment traits (tweets, movie, amazon)."""

from __future__ import annotations

import numpy as np

from bench.vader_data import DATA_DIR, embeddings, load_domains, prefilled_cache
from engine.cache import MemoryEmbeddingCache
from engine.training import LabelledSample, TraitSpec

TRAIT_DOMAINS = ("tweets", "movie", "amazon")


def three_trait_set(per_trait: int, seed: int = 0) -> tuple[list[TraitSpec], list[LabelledSample], MemoryEmbeddingCache]:
    """Traits, samples (``per_trait`` each, from their own domain) and a cache holding their embeddings."""
    domains = load_domains()
    traits = [TraitSpec(f"{name}_sentiment", f"{name.title()} sentiment") for name in TRAIT_DOMAINS]
    samples: list[LabelledSample] = []
    cache = MemoryEmbeddingCache(max_entries=50_000)
    rng = np.random.default_rng(seed)
    for trait, name in zip(traits, TRAIT_DOMAINS):
        domain = domains[name]
        vectors = embeddings(domain)
        picked = rng.permutation(len(domain.texts))[:per_trait]
        samples += [LabelledSample(trait.key, domain.texts[i], float(domain.quality[i]), sample_id=int(i)) for i in picked]
        warm = prefilled_cache([domain.texts[i] for i in picked], vectors[picked])
        for h, v in warm._entries.items():
            cache.put_many(h[0], {h[1]: v})
    return traits, samples, cache


def snapshot_path(per_trait: int = 300, effort: str = "high"):
    return DATA_DIR / f"model_3x{per_trait}_{effort}.json"


def build_snapshot(per_trait: int = 300, effort: str = "high"):
    """Train (with cached embeddings) and save the benchmark model; returns its path."""
    from engine.embedders import get_embedder
    from engine.training import train_model

    path = snapshot_path(per_trait, effort)
    traits, samples, cache = three_trait_set(per_trait)
    result = train_model(traits, samples, get_embedder("minilm"), effort, cache=cache)
    path.write_text(result.snapshot.to_json())
    return path


def probe_texts(n: int = 1000, long_every: int = 20) -> list[str]:
    """Held-out-ish VADER sentences from all four domains, every ``long_every``-th one a long multi-window text."""
    domains = load_domains()
    pool = [t for name in ("nyt", "tweets", "amazon", "movie") for t in domains[name].texts]
    rng = np.random.default_rng(1234)
    order = rng.permutation(len(pool))
    texts = []
    for i in range(n):
        if i % long_every == long_every - 1:
            texts.append(" ".join(pool[j] for j in order[(i * 40) % len(pool):(i * 40) % len(pool) + 40]))
        else:
            texts.append(pool[order[i]])
    return texts
