"""The schema. Every table the product needs lives here; migrations mirror it."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names so Alembic diffs are stable on both back ends.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores aware UTC datetimes; SQLite drops the zone, so it is restored on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Namespace(Base):
    __tablename__ = "namespaces"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Public part of the key, used to find the row; the secret is only stored as a hash.
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class KeyNamespace(Base):
    __tablename__ = "key_namespaces"
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    namespace: Mapped[str] = mapped_column(ForeignKey("namespaces.name"), primary_key=True)


class Model(Base):
    __tablename__ = "models"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handle: Mapped[str] = mapped_column(String(104), unique=True)
    namespace: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    scoring_method: Mapped[str] = mapped_column(String(32), default="balanced_cosine")
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    kind: Mapped[str] = mapped_column(String(16), default="scoring")
    max_depth: Mapped[int] = mapped_column(Integer, default=1)
    zero_data_retention: Mapped[bool] = mapped_column(Boolean, default=False)
    additional_terms: Mapped[str | None] = mapped_column(Text, nullable=True)
    upstream_sources: Mapped[list | None] = mapped_column(JSON, nullable=True)
    readme_markdown: Mapped[str | None] = mapped_column(Text, nullable=True)
    version_retention_policy: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    active_version_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # Set by an explicit activation; background retrains then store but do not activate.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    # Background retrains are activated only when the retrain gate passes them (store/publish.py).
    retrain_gate: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_operation_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Trait(Base):
    __tablename__ = "traits"
    __table_args__ = (UniqueConstraint("model_id", "key", name="uq_traits_model_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    positive_label: Mapped[str] = mapped_column(String(100), default="positive")
    negative_label: Mapped[str] = mapped_column(String(100), default="negative")
    aggregation: Mapped[str] = mapped_column(String(8), default="mean")
    kind: Mapped[str] = mapped_column(String(16), default="extrinsic")
    discrimination: Mapped[float | None] = mapped_column(Float, nullable=True)
    explained_variance: Mapped[float | None] = mapped_column(Float, nullable=True)
    anchor_sample_ids: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # Unit vector fixed by discovery; training recalibrates along it but never rotates it.
    frozen_direction: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # For an intrinsic trait found along an authored one: that trait's key (its samples calibrate it).
    source_trait: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Sample(Base):
    __tablename__ = "samples"
    __table_args__ = (Index("ix_samples_model_trait", "model_id", "trait_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    trait_id: Mapped[int] = mapped_column(ForeignKey("traits.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    quality: Mapped[float] = mapped_column(Float)
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provenance: Mapped[str] = mapped_column(String(20), default="authored")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Operation(Base):
    __tablename__ = "operations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40), unique=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    params: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    progress: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    version_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("model_id", "version_no", name="uq_versions_model_no"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    version_no: Mapped[int] = mapped_column(Integer)
    triggered_by: Mapped[str] = mapped_column(String(20))
    # One version per run: a retried publish finds the row instead of adding a second one.
    run_id: Mapped[str] = mapped_column(String(40), unique=True)
    param_hash: Mapped[str] = mapped_column(String(64))
    sample_count: Mapped[int] = mapped_column(Integer)
    # Highest sample id folded into this version; feedback after it is "buffered".
    max_sample_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    metrics: Mapped[dict] = mapped_column(JSON)
    snapshot: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VersionTag(Base):
    __tablename__ = "version_tags"
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CachedEmbedding(Base):
    """Embeddings of training texts, so retrains and re-tunes skip unchanged samples."""

    __tablename__ = "embedding_cache"
    embedder_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    text_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class StagedFit(Base):
    """A fitted snapshot waiting to be published; it never travels through Temporal."""

    __tablename__ = "staged_fits"
    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    param_hash: Mapped[str] = mapped_column(String(64))
    sample_count: Mapped[int] = mapped_column(Integer)
    max_sample_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    metrics: Mapped[dict] = mapped_column(JSON)
    snapshot: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Webhook(Base):
    """A subscription of one namespace to some event types (SPEC §9.4)."""

    __tablename__ = "webhooks"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(40), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list] = mapped_column(JSON)
    # Kept in clear: signing needs the secret itself (a hash would not do); never sent to Temporal.
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Deleted webhooks keep their row so a delivery in flight finds them gone and stops.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookDelivery(Base):
    """One delivery attempt of one event to one webhook."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
# --- Score jobs (SPEC §9.2) -------------------------------------------------------------------

class ScoreJob(Base):
    """One asynchronous scoring job; its version is pinned when it is accepted."""

    __tablename__ = "score_jobs"
    __table_args__ = (Index("ix_score_jobs_model_newest", "model_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(40), unique=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    handle: Mapped[str] = mapped_column(String(104))
    version_id: Mapped[int] = mapped_column(BigId)
    version_no: Mapped[int] = mapped_column(Integer)
    traits: Mapped[list | None] = mapped_column(JSON, nullable=True)
    max_depth: Mapped[int] = mapped_column(Integer, default=1)
    zero_data_retention: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(12), default="queued")
    total: Mapped[int] = mapped_column(Integer)
    scored: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)


class ScoreJobNamespace(Base):
    """The namespaces of the key that started a job: keys sharing one of them may see it."""

    __tablename__ = "score_job_namespaces"
    job_pk: Mapped[int] = mapped_column(ForeignKey("score_jobs.id", ondelete="CASCADE"), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(40), primary_key=True)


class ScoreJobItem(Base):
    """One input item in input order (``seq``); ``result`` is the card's JSON text, or ``error``."""

    __tablename__ = "score_job_items"
    job_pk: Mapped[int] = mapped_column(ForeignKey("score_jobs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(Text)
    content: Mapped[str | None] = mapped_column(Text, nullable=True)  # dropped once scored under ZDR
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class ScoreJobChunk(Base):
    """A chunk whose results are written: the marker that makes a retried chunk write nothing."""

    __tablename__ = "score_job_chunks"
    job_pk: Mapped[int] = mapped_column(ForeignKey("score_jobs.id", ondelete="CASCADE"), primary_key=True)
    chunk_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    scored: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)


class Evaluation(Base):
    """Labelled items scored against one or two versions (SPEC §9.5): one score job per version
    (``job_ids``, in the order of ``version_nos``); ``report`` is written once the jobs are done."""

    __tablename__ = "evaluations"
    __table_args__ = (Index("ix_evaluations_model_newest", "model_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    evaluation_id: Mapped[str] = mapped_column(String(40), unique=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    handle: Mapped[str] = mapped_column(String(104))
    version_nos: Mapped[list] = mapped_column(JSON)
    version_ids: Mapped[list] = mapped_column(JSON)
    job_ids: Mapped[list] = mapped_column(JSON)
    traits: Mapped[list] = mapped_column(JSON)  # the labelled trait keys, in the model's order
    numeric_traits: Mapped[list] = mapped_column(JSON)  # traits whose every label was a number
    state: Mapped[str] = mapped_column(String(12), default="queued")
    total: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EvaluationNamespace(Base):
    """The namespaces of the key that started an evaluation: keys sharing one of them may see it."""

    __tablename__ = "evaluation_namespaces"
    evaluation_pk: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(40), primary_key=True)


class EvaluationLabel(Base):
    """An item's labels ``{trait key: quality}`` by its ``seq`` in the score jobs; deleted once the
    report is written (the report is what is kept)."""

    __tablename__ = "evaluation_labels"
    evaluation_pk: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    labels: Mapped[dict] = mapped_column(JSON)
