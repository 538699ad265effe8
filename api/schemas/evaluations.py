"""Wire shapes of evaluations (SPEC §9.5)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

EvaluationState = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class EvaluationCreate(BaseModel):
    items: list[dict[str, Any]] = Field(
        ..., min_length=1, max_length=1_000_000,
        description="Lines of a samples file: `content`, an optional `id`, and one field per labelled trait (key "
                    "or name) holding a number in [0, 1] or a label word. Or send `application/x-ndjson`.")
    versions: list[str] | None = Field(None, min_length=1, max_length=2,
                                       description="1 or 2 versions (`vN` or a tag); default: the active one.")


class EvaluationAccepted(BaseModel):
    evaluation_id: str = Field(..., examples=["eval_01JA0000000000000000000000"])
    state: EvaluationState
    versions: list[str]
    jobs: list[dict[str, str]]


class EvaluationProgress(BaseModel):
    done: int = Field(..., description="Items scored, summed over the versions.")
    total: int = Field(..., description="Items × versions.")
    fraction: float


class EvaluationOut(BaseModel):
    evaluation_id: str
    handle: str
    state: EvaluationState
    versions: list[str]
    jobs: list[dict[str, str]] = Field(..., description="The score job of each version: `{version_id, job_id}`.")
    traits: list[str] = Field(..., description="The labelled traits.")
    items: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    progress: EvaluationProgress | None
    report: dict[str, Any] | None = Field(
        None, description="Once it succeeded: `versions` (per version and trait: n, auc {auc, se, low, high, "
                          "n_positive, n_negative}, spearman, breaks, calibration) and, with two versions, `paired` "
                          "(per trait: n, delta_auc = b − a, se, p).")
    error: dict[str, Any] | None = None


class EvaluationPage(BaseModel):
    items: list[EvaluationOut]
    next_cursor: str | None
    limit: int
