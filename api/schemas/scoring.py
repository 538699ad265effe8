"""Wire shapes of POST …/score and POST …/compare (SPEC §4)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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
