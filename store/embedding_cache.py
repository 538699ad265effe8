"""The engine's embedding-cache protocol over the ``embedding_cache`` table, so re-tunes, retrains
and other workers skip texts that were already embedded."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from store.tables import CachedEmbedding

CHUNK = 500  # stays well under SQLite's bound-parameter limit


class DbEmbeddingCache:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_many(self, embedder_id: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with Session(self.engine) as session:
            for start in range(0, len(hashes), CHUNK):
                rows = session.execute(
                    select(CachedEmbedding.text_sha256, CachedEmbedding.vector).where(
                        CachedEmbedding.embedder_id == embedder_id,
                        CachedEmbedding.text_sha256.in_(hashes[start:start + CHUNK]),
                    )
                )
                for text_hash, blob in rows:
                    found[text_hash] = np.frombuffer(blob, dtype="<f4").copy()
        return found

    def put_many(self, embedder_id: str, vectors: dict[str, np.ndarray]) -> None:
        rows = [{"embedder_id": embedder_id, "text_sha256": h, "vector": np.asarray(v, dtype="<f4").tobytes()}
                for h, v in vectors.items()]
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        with Session(self.engine) as session, session.begin():
            for start in range(0, len(rows), CHUNK):
                # Another worker may have cached the same text meanwhile; both wrote the same bytes.
                session.execute(insert(CachedEmbedding).values(rows[start:start + CHUNK]).on_conflict_do_nothing())
