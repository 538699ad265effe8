"""What discovery and synthesis read from a draft and write back to it. The run that does it is
closed in the same transaction by ``store.runs.finish_draft``.

Decisions (SPEC is silent):
- Re-running discovery replaces intrinsic traits with the same key; it never overwrites an
  extrinsic trait whose key happens to collide.
- Synthesized samples get ``provenance: synthesized``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.tables import Sample, Trait, utcnow

DISCOVERED_FIELDS = ("name", "description", "positive_label", "negative_label", "discrimination",
                     "explained_variance", "anchor_sample_ids", "source_trait")


class SampleRow(NamedTuple):
    id: int
    trait_id: int
    text: str
    quality: float


def draft_definition(session: Session, model_id: int) -> tuple[list[Trait], list[SampleRow]]:
    """The draft's traits and samples, each in id order."""
    traits = list(session.scalars(select(Trait).where(Trait.model_id == model_id).order_by(Trait.id)))
    rows = session.execute(select(Sample.id, Sample.trait_id, Sample.text, Sample.quality)
                           .where(Sample.model_id == model_id).order_by(Sample.id))
    return traits, [SampleRow(*row) for row in rows]


def attach_discovered(session: Session, model_id: int, found: Iterable[Any]) -> int:
    """Writes discovered axes as intrinsic traits (see the module docstring); returns how many."""
    existing = {t.key: t for t in session.scalars(select(Trait).where(Trait.model_id == model_id))}
    added = 0
    for item in found:
        trait = existing.get(item.key)
        if trait is not None and trait.kind != "intrinsic":
            continue
        if trait is None:
            trait = Trait(model_id=model_id, key=item.key, created_at=utcnow())
            session.add(trait)
        for name in DISCOVERED_FIELDS:
            setattr(trait, name, getattr(item, name))
        trait.kind = "intrinsic"
        trait.frozen_direction = list(item.frozen_direction)
        added += 1
    return added


def add_synthesized(session: Session, model_id: int, trait_ids: dict[str, int], generated: Iterable[Any]) -> int:
    """Appends generated samples of known traits; returns how many."""
    now = utcnow()
    rows = [Sample(model_id=model_id, trait_id=trait_ids[sample.trait_key], text=sample.text,
                   quality=float(sample.quality), provenance="synthesized", created_at=now)
            for sample in generated if sample.trait_key in trait_ids]
    session.add_all(rows)
    return len(rows)
