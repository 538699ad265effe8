"""A run's input fingerprint: two start requests with the same one are the same run (409 run_exists).

Decision (SPEC is silent): the fingerprint hashes the kind, effort, reoptimize flag and synth type
with the model id and the content of its traits (key, name, description, labels, aggregation, kind,
frozen direction) and samples (trait key, sha256 of text, quality), in id order.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.tables import Sample, Trait


def fingerprint(session: Session, model_id: int, kind: str, effort: str, reoptimize: bool = False,
                synth_type: str | None = None) -> str:
    digest = hashlib.sha256()
    header = {"model": model_id, "kind": str(kind), "effort": effort, "reoptimize": bool(reoptimize),
              "synth_type": synth_type}
    digest.update(json.dumps(header, sort_keys=True).encode())
    keys: dict[int, str] = {}
    traits = session.execute(select(Trait).where(Trait.model_id == model_id).order_by(Trait.id)).scalars()
    for trait in traits:
        keys[trait.id] = trait.key
        row = [trait.key, trait.name, trait.description, trait.positive_label, trait.negative_label,
               trait.aggregation, trait.kind, trait.frozen_direction]
        digest.update(b"T" + json.dumps(row, sort_keys=True).encode())
    rows = session.execute(
        select(Sample.trait_id, Sample.text, Sample.quality).where(Sample.model_id == model_id).order_by(Sample.id)
    )
    for trait_id, text, quality in rows:
        text_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
        digest.update(f"S{keys.get(trait_id, '')}\x00{text_hash}\x00{float(quality)!r}".encode())
    return digest.hexdigest()
