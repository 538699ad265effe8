"""Wire shapes of score jobs (SPEC §9.2)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.scoring import NON_BLANK

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class ScoreJobItemIn(BaseModel):
    id: str | None = Field(None, min_length=1, max_length=256, description="Your id for the item; default: its index as a string.")
    content: str = Field(..., pattern=NON_BLANK, description="The text to score; blank is refused, and a lone URL fails alone "
                                          "(jobs do not fetch).")


class ScoreJobCreate(BaseModel):
    items: list[ScoreJobItemIn] = Field(..., min_length=1, max_length=1_000_000, description="Or send `application/x-ndjson`, one item per line.")
    traits: list[str] | None = Field(None, min_length=1, description="Limit every card to these traits (key or name).")


class ScoreJobAccepted(BaseModel):
    job_id: str = Field(..., examples=["job_01JA0000000000000000000000"])
    state: JobState


class JobProgress(BaseModel):
    done: int
    total: int
    fraction: float
    items_per_s: float | None = Field(None, description="Since the job started running.")
    eta_s: float | None = Field(None, description="Seconds left at the current rate.")


class JobCounts(BaseModel):
    scored: int
    failed: int


class ScoreJobOut(BaseModel):
    job_id: str
    handle: str
    version_id: str = Field(..., description="The pinned version, as `vN`.", examples=["v3"])
    state: JobState
    created_at: str
    started_at: str | None
    finished_at: str | None
    progress: JobProgress
    counts: JobCounts
    summary: dict[str, Any] | None = Field(None, description="Per trait: mean, p10, p50, p90, tiers, confidence; "
                                                             "set when the job succeeds.")
    error: dict[str, Any] | None = None
    traits: list[str] | None = None


class ScoreJobPage(BaseModel):
    items: list[ScoreJobOut]
    next_cursor: str | None
    limit: int


class ScoreJobResultItem(BaseModel):
    id: str
    result: dict[str, Any] | None = Field(None, description="The ScoreResponse `POST …/score` gives for it.")
    error: dict[str, Any] | None = Field(None, description="The error object for this item alone.")


class ScoreJobResultPage(BaseModel):
    items: list[ScoreJobResultItem]
    next_cursor: str | None
    limit: int
