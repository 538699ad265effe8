"""Buffered feedback: what the background retrain loop counts before it retrains a model, and which
feedback is held out of every training set so the retrain gate can judge versions on it.

Hold-out (decision, SPEC is silent): a feedback sample is held out when the SHA-256 of its text falls
in the first ``HOLDOUT_SHARE`` of the hash range. It depends on the text alone, so every label given
to one text (one per trait) lands on the same side, a text sent twice never trains one version and
judges it too, and a sample stays held out across every later retrain. Authored samples are never
held out: the owner's explicit training set is the owner's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contracts.states import ModelState
from store.tables import Model, Sample, Version

FEEDBACK = "score_feedback"
HOLDOUT_SHARE = 0.2  # fixed: changing it would move samples the gate relies on into training sets


def held_out(text: str) -> bool:
    """Whether a feedback sample with this text is kept out of training (see the module docstring)."""
    bucket = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    return bucket < HOLDOUT_SHARE * 2 ** 64


@dataclass
class Buffered:
    eligible: bool
    count: int = 0
    first_at: datetime | None = None
    busy: bool = False


def feedback_watermark(session: Session, model_id: int) -> int:
    """Highest sample id already folded into some version of the model."""
    return session.scalar(select(func.max(Version.max_sample_id)).where(Version.model_id == model_id)) or 0


def buffered_feedback(session: Session, model_id: int) -> Buffered:
    model = session.get(Model, model_id)
    if (model is None or model.state == ModelState.ARCHIVED or model.zero_data_retention
            or model.active_version_id is None):
        return Buffered(eligible=False)
    watermark = feedback_watermark(session, model_id)
    count, first_at = session.execute(
        select(func.count(Sample.id), func.min(Sample.created_at))
        .where(Sample.model_id == model_id, Sample.provenance == FEEDBACK, Sample.id > watermark)
    ).one()
    if isinstance(first_at, str):  # aggregates bypass the column type on SQLite
        first_at = datetime.fromisoformat(first_at)
    if first_at is not None and first_at.tzinfo is None:
        first_at = first_at.replace(tzinfo=timezone.utc)
    return Buffered(eligible=True, count=int(count or 0), first_at=first_at, busy=model.state != ModelState.READY)
