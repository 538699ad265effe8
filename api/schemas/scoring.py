"""Wire shapes of POST …/score and POST …/compare (SPEC §4)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


# A card about nothing would still claim tiers and confidence, so blank content is refused (422).
NON_BLANK = r"\S"


class ScoreRequest(BaseModel):
    content: str = Field(..., pattern=NON_BLANK,
                         description="The text to score; a lone http(s) URL is fetched and its readable text "
                                     "scored instead. Empty or whitespace-only content is refused.")
    traits: list[str] | None = Field(None, description="Limit the card to these traits (key or name).")
    # Values are judged by the label rules (422 invalid_label), not by type coercion here.
    feedback: dict[str, Any] | None = Field(
        None,
        json_schema_extra={"additionalProperties": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
        description="Optional labels for this text, `{trait key or name: word or number in [0,1]}`; "
                    "each becomes a training sample (authoring key of the owner; not under ZDR).",
        examples=[{"clarity": "good", "tone": 0.2}],
    )


class CompareRequest(BaseModel):
    a: str = Field(..., pattern=NON_BLANK, description="The baseline text (or a lone URL); not blank.")
    b: str = Field(..., pattern=NON_BLANK, description="The candidate text (or a lone URL); not blank.")
    traits: list[str] | None = Field(None, description="Limit both cards to these traits (key or name).")


class BreaksOut(BaseModel):
    developing: int
    solid: int
    strong: int


class NativeSpectrumOut(BaseModel):
    polarity: float = Field(..., description="Raw position between the poles, in [-1, 1].")


class TraitScoreDetailOut(BaseModel):
    score: int
    label: str | None = Field(..., description="Strong, Solid, Developing or Weak; null at low confidence.")
    confidence: str
    band: list[int] = Field(..., description="Inter-quartile span of the training cluster the score sits in.")
    headroom: int | None = Field(..., description="Points to the next tier; null at low confidence.")
    breaks: BreaksOut
    native: NativeSpectrumOut | None = None


class ScoreMetadata(BaseModel):
    request_id: str | None = None
    version_id: str | None = Field(None, description="The version that produced the card, as `vN`.",
                                   examples=["v3"])
    sample_ids: list[int] = Field(default_factory=list,
                                  description="Ids of samples stored from `feedback`, in the order given.")


class ScoreResponse(BaseModel):
    scores: dict[str, int]
    composite: int = Field(..., description="Harmonic mean of the positive trait scores.")
    confidence: str = "moderate"
    headroom: int | None = None
    detail: dict[str, TraitScoreDetailOut] = Field(default_factory=dict)
    input_tokens: int = 0
    metadata: ScoreMetadata = Field(default_factory=ScoreMetadata)


class TraitDeltaOut(BaseModel):
    a: int
    b: int
    delta: int


class CompareResponse(BaseModel):
    a: ScoreResponse
    b: ScoreResponse
    improvement: int = Field(..., description="Composite of b minus composite of a.")
    per_trait: dict[str, TraitDeltaOut]


MAX_BATCH_ITEMS = 256


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=256,
                           description="Your id for this item, echoed in its result; defaults to the item's "
                                       "index as a string. Ids must be unique within the batch.")
    # Blank content is that item's own 422-style error, not the whole request's (docs/decisions.md).
    content: str = Field(..., description="The text (or a lone http(s) URL) to score.")


class BatchScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # `feedback` here is refused, never silently dropped

    items: list[BatchItem] = Field(..., min_length=1, max_length=MAX_BATCH_ITEMS)
    traits: list[str] | None = Field(None, description="Limit every card to these traits (key or name).")


class BatchItemError(BaseModel):
    code: str
    message: str
    request_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class BatchItemOut(BaseModel):
    id: str
    result: ScoreResponse | None = Field(None, description="Exactly what POST …/score answers for this content.")
    error: BatchItemError | None = Field(None, description="The error envelope's `error` object for this item alone.")


class BatchMetadata(BaseModel):
    request_id: str
    version_id: str = Field(..., description="The version that scored every item, as `vN`.", examples=["v3"])
    succeeded: int
    failed: int


class BatchScoreResponse(BaseModel):
    items: list[BatchItemOut] = Field(..., description="One entry per input item, in input order.")
    metadata: BatchMetadata
