"""Wire shapes of the model endpoints (SPEC §1.3, §3 rows 2–6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from contracts.states import ModelState

# Strict: a JSON string is never quietly turned into a number or a boolean.
REQUEST_CONFIG = ConfigDict(extra="forbid", strict=True)

# Integer settings are stored in 32-bit columns; a larger number must be a 422, not a database error.
INT32_MAX = 2**31 - 1



def refuse_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold U+0000, so no backend stores it: refused up front as a 422."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text may not contain the NUL character (U+0000)")
    if isinstance(value, list):
        for item in value:
            refuse_nul(item)
    if isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key)
            refuse_nul(item)
    return value


class RequestModel(BaseModel):
    """Base of the bodies whose strings are stored: strict, closed, and NUL-free."""

    model_config = REQUEST_CONFIG

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any, info: ValidationInfo) -> Any:
        # A handle has its own grammar and its own code (invalid_handle), checked by the route.
        return value if info.field_name == "handle" else refuse_nul(value)


# The wire type of a model's state: the words of contracts.states.ModelState, as a plain string enum
# (an Enum type would add a schema component the reference API does not have).
ModelStateName = Literal[tuple(state.value for state in ModelState)]


class RetentionPolicy(RequestModel):
    model_config = REQUEST_CONFIG

    keep_unnamed: int = Field(100, ge=0, le=INT32_MAX, description="How many of the newest untagged versions survive pruning.")
    keep_first_of_month: bool = Field(
        True, description="Also keep the earliest version of every calendar month.")


class CreateModelRequest(RequestModel):
    model_config = REQUEST_CONFIG

    handle: str = Field(..., description="`<namespace>.<name>` in lowercase; the key must own the namespace.",
                        examples=["acme.support-tone"])
    description: str = Field("", description="Free text shown on the model card.")
    scoring_method: Literal["balanced_cosine"] = Field(
        "balanced_cosine", description="How traits are fitted. `balanced_cosine` is the one method on offer.")
    max_depth: int = Field(1, ge=0, le=INT32_MAX, description="0 scores the first window of long content only; "
                                                "1 splits long content into windows.")
    kind: str = Field("scoring", description="Model family. Assay builds `scoring` models; "
                                             "anything else is refused with `unsupported_kind`.")
    additional_terms: str | None = Field(None, description="Usage terms that travel with the model.")
    upstream_sources: list[dict[str, Any]] | None = Field(
        None, description="Where the training material came from, as free-form objects.")
    readme_markdown: str | None = Field(None, description="Long-form notes rendered into the model card.")
    zero_data_retention: bool = Field(
        False, description="When on, samples are dropped after each training run and scored text is never kept.")
    retrain_gate: bool = Field(
        True, description="When on, a background retrain is activated only if it is not worse than the active "
                          "version beyond noise on held-out feedback; otherwise it is stored with the verdict.")


class UpdateModelRequest(RequestModel):
    """Only the fields sent are changed; `state` and unknown fields are refused."""

    model_config = REQUEST_CONFIG

    description: str | None = Field(None, description="New free text; null leaves it as it is.")
    scoring_method: Literal["balanced_cosine"] | None = Field(None, description="Only `balanced_cosine` exists.")
    max_depth: int | None = Field(None, ge=0, le=INT32_MAX, description="New long-content depth; null leaves it as it is.")
    additional_terms: str | None = Field(None, description="New usage terms; null removes them.")
    upstream_sources: list[dict[str, Any]] | None = Field(None, description="New source list; null removes it.")
    readme_markdown: str | None = Field(None, description="New card notes; null removes them.")
    zero_data_retention: bool | None = Field(
        None, description="Switching this on deletes the stored samples in the same step; "
                          "switching it off only affects what happens next.")
    version_retention_policy: RetentionPolicy | None = Field(
        None, description="Pruning rule for old versions; null goes back to the built-in rule "
                          "(100 untagged versions plus the first of each month).")
    retrain_gate: bool | None = Field(
        None, description="Turn the quality gate on background retrains on or off; null leaves it as it is.")


class ModelDetail(BaseModel):
    handle: str = Field(..., description="The model's address, `<namespace>.<name>`.")
    description: str = ""
    scoring_method: str
    state: ModelStateName = Field(..., description="Where the model is in its lifecycle.")
    kind: str = "scoring"
    traits: list[str] = Field(default_factory=list, description="Trait names, oldest first.")
    current_version_id: int | None = Field(None, description="Row id of the version that serves scores.")
    version_no: int | None = Field(None, description="The N of the serving `vN`; null until trained.")
    version_tags: list[str] = Field(default_factory=list, description="Tags that point at the serving version.")
    zero_data_retention: bool = False
    retrain_gate: bool = Field(True, description="Whether background retrains must pass the quality gate.")
    last_operation: dict[str, Any] | None = Field(
        None, description="The newest asynchronous run on this model, or null if none ever ran.")
    max_depth: int = 1
    version_retention_policy: dict[str, Any] | None = Field(
        None, description="The stored pruning rule; null means the built-in one.")
    additional_terms: str | None = None
    upstream_sources: list[dict[str, Any]] | None = None
    readme_markdown: str | None = None
    created_at: datetime
    updated_at: datetime


class ModelPage(BaseModel):
    items: list[ModelDetail]
    next_cursor: str | None = Field(None, description="Pass back as `cursor` for the next page; null at the end.")
    limit: int


class DeleteResponse(BaseModel):
    handle: str
    deleted: bool
