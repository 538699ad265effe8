"""Wire shapes of the version endpoints (SPEC §1.6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class VersionSummary(BaseModel):
    version_id: int
    version_no: int
    triggered_by: str = Field(..., examples=["train", "retune", "retrain_buffered"])
    run_id: str | None = None
    param_hash: str = Field(..., description="sha256 of the canonical snapshot.")
    sample_count: int
    metrics: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    created_at: datetime


class VersionDetail(VersionSummary):
    snapshot: dict[str, Any] | None = Field(
        None, description="The trained parameters; left out for scoring-scope keys.")


class VersionPage(BaseModel):
    items: list[VersionSummary]
    next_cursor: str | None = None
    limit: int


class VersionTagResponse(BaseModel):
    handle: str
    tag: str
    version_no: int


class VersionUntagResponse(BaseModel):
    handle: str
    tag: str
    deleted: bool


class VersionActivateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str | None = Field(None, description="A version number written `vN`.", examples=["v2"])
    tag: str | None = Field(None, description="A tag naming the version to serve.", examples=["stable"])


class VersionActivateResponse(BaseModel):
    handle: str
    version_no: int
