"""Wire shapes of the trait endpoints (SPEC §1.7, §3 rows 7–12)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.models import REQUEST_CONFIG, RequestModel
from domain.traits import TRAIT_KEY_RE, Aggregation

# Anchored for the OpenAPI document (JSON Schema patterns search anywhere in the string). Pydantic
# checks it with Rust's regex, whose `$` is the end of the text only, so a trailing newline fails.
TRAIT_KEY_PATTERN = rf"^{TRAIT_KEY_RE.pattern}$"


class TraitInput(RequestModel):
    model_config = REQUEST_CONFIG

    key: str | None = Field(None, pattern=TRAIT_KEY_PATTERN,
                            description="Identifier within the model. Left out, it is made from `name` "
                                        "in snake_case (\"Clarity and Simplicity\" becomes `clarity_and_simplicity`).")
    name: str = Field(..., min_length=1, max_length=200, description="What people call the trait.")
    description: str = Field("", description="What the trait measures, in plain words.")
    positive_label: str = Field("positive", min_length=1, max_length=100,
                                description="Word for the high end of the axis; accepted as quality 1.0.")
    negative_label: str = Field("negative", min_length=1, max_length=100,
                                description="Word for the low end of the axis; accepted as quality 0.0.")
    aggregation: Aggregation = Field("mean", description="How per-window scores of long content are combined.")


class TraitsRequest(RequestModel):
    model_config = REQUEST_CONFIG

    traits: list[TraitInput] = Field(..., min_length=1, description="Traits to add, or to replace when the key exists.")


class UpdateTraitRequest(RequestModel):
    """Fields left out (or null) keep their value. The key cannot change."""

    model_config = REQUEST_CONFIG

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    positive_label: str | None = Field(None, min_length=1, max_length=100)
    negative_label: str | None = Field(None, min_length=1, max_length=100)
    aggregation: Aggregation | None = None


class TraitDetail(BaseModel):
    key: str
    name: str
    description: str = ""
    positive_label: str
    negative_label: str
    aggregation: Aggregation = "mean"
    sample_count: int = Field(..., description="Every sample of the trait, whatever its quality.")
    positive_samples: int = Field(..., description="Samples with quality above 0.5.")
    negative_samples: int = Field(..., description="Samples with quality below 0.5.")
    kind: Literal["extrinsic", "intrinsic"] = Field(
        "extrinsic", description="`extrinsic` when written by hand, `intrinsic` when found by discovery.")
    discrimination: float | None = Field(None, description="Discovery only: out-of-fold AUC of the axis.")
    explained_variance: float | None = Field(
        None, description="Discovery only: share of the pooled variance that lies along the axis.")
    anchor_sample_ids: dict[str, Any] | None = Field(
        None, description="Discovery only: the most extreme sample ids at each pole.")


class TraitsResponse(BaseModel):
    traits: list[TraitDetail]
