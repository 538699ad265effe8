"""Wire shapes of the run endpoints (SPEC §9.3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class RunEvent(BaseModel):
    at: datetime | None
    type: str = Field(..., examples=["queued", "started", "phase", "retry", "cancel_requested", "succeeded"])
    message: str
    attempt: int | None = Field(None, description="The attempt a retry starts (2 or more).")
    phase: str | None = Field(None, description="The step a phase, retry or failure event is about.")
    reason: str | None = Field(None, description="Why the previous attempt ended, as a stable code "
                                                 "(`worker_lost`, `timed_out`, `internal_error`, …).")


class RunSummary(BaseModel):
    run_id: str
    handle: str
    kind: str = Field(..., examples=["train", "retune", "retrain_buffered", "discover", "synthesize"])
    status: str = Field(..., examples=["queued", "running", "succeeded", "failed", "cancelled"])
    started_at: datetime
    finished_at: datetime | None = None
    effort: str | None = None
    version_no: int | None = Field(None, description="The version this run stored, if it stored one.")
    error: dict[str, Any] | None = Field(None, description="`{code, message}` of a failed or cancelled run.")


class RunDetail(RunSummary):
    progress: dict[str, Any] | None = Field(None, description="`{phase, done, total, fraction, message}`; "
                                                              "live while the run is open.")
    cancel_requested: bool = Field(False, description="A cancellation was asked for and the run has not "
                                                      "ended yet, or ended because of it.")
    events: list[RunEvent] = Field(default_factory=list)
    events_source: str = Field("temporal", description="`temporal` (the run's workflow history) or `store` "
                                                       "(its history is gone or Temporal did not answer in time: "
                                                       "only the start and the end are known).")


class RunPage(BaseModel):
    items: list[RunSummary]
    next_cursor: str | None = None
    limit: int
