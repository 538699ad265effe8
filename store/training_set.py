"""Which labelled samples train (calibrate) each trait.

An authored trait learns from its own samples. A discovered (intrinsic) trait has a direction fixed
by discovery and needs labelled samples only to calibrate along it:
- one found along an authored trait uses that trait's samples (and any of its own);
- an extra axis (`axis_N`) uses its anchor samples: positive anchors at quality 1, negative at 0.
The API's train pre-check and the fit activity both use this, so they can never disagree.
Held-out feedback (``store.feedback.held_out``) is left out of every training set; the retrain gate
reads it with ``load_label_sets``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from store.feedback import FEEDBACK, held_out
from store.tables import Sample, Trait, Version


@dataclass(frozen=True)
class LabelRow:
    sample_id: int
    trait_id: int
    quality: float


def trait_labels(traits: list[Trait], rows: list[LabelRow], *,
                 use_anchors: bool = True) -> dict[str, list[tuple[int, float]]]:
    """{trait key: [(sample id, quality), …]} in creation order of the traits, ids ascending.
    ``use_anchors``: an extra axis without labels of its own falls back to its anchor samples."""
    own: dict[int, list[tuple[int, float]]] = {t.id: [] for t in traits}
    for row in rows:
        if row.trait_id in own:
            own[row.trait_id].append((row.sample_id, row.quality))
    by_key = {t.key: t for t in traits}
    labels: dict[str, list[tuple[int, float]]] = {}
    for trait in traits:
        pairs = list(own[trait.id])
        if trait.kind == "intrinsic":
            source = by_key.get(trait.source_trait) if trait.source_trait else None
            if source is not None and source.kind != "intrinsic":
                pairs += own[source.id]
            elif use_anchors and not pairs and trait.anchor_sample_ids:
                anchors = trait.anchor_sample_ids
                pairs += [(i, 1.0) for i in anchors.get("positive", [])]
                pairs += [(i, 0.0) for i in anchors.get("negative", [])]
        labels[trait.key] = sorted(set(pairs))
    return labels


@dataclass
class LabelSets:
    traits: list[Trait]
    training: dict[str, list[tuple[int, float]]]  # {trait key: [(sample id, quality), …]}
    held_out: dict[str, list[tuple[int, float]]]  # the same for held-out feedback
    max_sample_id: int | None  # highest sample id read, held-out ones included (the feedback watermark)


def load_label_sets(session: Session, model_id: int) -> LabelSets:
    traits = list(session.scalars(select(Trait).where(Trait.model_id == model_id).order_by(Trait.id)))
    training: list[LabelRow] = []
    holdout: list[LabelRow] = []
    max_id = None
    # Only feedback texts are read: they decide the hold-out; authored samples always train.
    feedback_text = case((Sample.provenance == FEEDBACK, Sample.text), else_=None)
    for sample_id, trait_id, quality, text in session.execute(
            select(Sample.id, Sample.trait_id, Sample.quality, feedback_text).where(Sample.model_id == model_id)):
        (holdout if text is not None and held_out(text) else training).append(LabelRow(sample_id, trait_id, quality))
        max_id = sample_id if max_id is None else max(max_id, sample_id)
    return LabelSets(traits, trait_labels(traits, training), trait_labels(traits, holdout, use_anchors=False), max_id)


def load_labels(session: Session, model_id: int) -> tuple[list[Trait], dict[str, list[tuple[int, float]]]]:
    """The traits and their training labels (held-out feedback excluded)."""
    sets = load_label_sets(session, model_id)
    return sets.traits, sets.training


def pole_counts(labels: dict[str, list[tuple[int, float]]]) -> dict[str, tuple[int, int]]:
    """{trait key: (positives, negatives)}; quality 0.5 counts on neither side."""
    return {key: (sum(q > 0.5 for _, q in pairs), sum(q < 0.5 for _, q in pairs)) for key, pairs in labels.items()}


def sample_texts(session: Session, sample_ids: list[int]) -> dict[int, str]:
    if not sample_ids:
        return {}
    return dict(session.execute(select(Sample.id, Sample.text).where(Sample.id.in_(sample_ids))).all())


def stored_search(session: Session, version_id: int) -> tuple[str | None, dict[str, dict]]:
    """(effort, {trait key: chosen configuration}) a version was fitted with; a background retrain
    reuses them instead of searching again."""
    metrics = session.scalar(select(Version.metrics).where(Version.id == version_id)) or {}
    configs = {key: m["config"] for key, m in (metrics.get("traits") or {}).items() if "config" in m}
    return metrics.get("effort"), configs
