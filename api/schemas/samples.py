"""Wire shapes of the sample endpoints (SPEC §1.8, §3 rows 13, 14, 16)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from api.schemas.models import REQUEST_CONFIG, RequestModel

MAX_SAMPLES_PER_REQUEST = 500


class SampleInput(RequestModel):
    model_config = REQUEST_CONFIG

    trait: str = Field(..., min_length=1, description="The trait this example teaches, by key or by name.")
    text: str = Field(..., min_length=1, description="The example text.")
    quality: float | str = Field(
        ..., description="Where the text sits on the trait: a number from 0 (negative pole) to 1 "
                         "(positive pole), or a label word such as good, fair, poor or the trait's own pole labels.")
    source_url: str | None = Field(None, description="Where the text was taken from, if anywhere.")
    content_sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$",
                                       description="Hex SHA-256 of the source content, for provenance.")

    @field_validator("text")
    @classmethod
    def _text_has_words(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must contain something other than whitespace")
        return value


class SamplesRequest(RequestModel):
    model_config = REQUEST_CONFIG

    samples: list[SampleInput] = Field(..., min_length=1, max_length=MAX_SAMPLES_PER_REQUEST,
                                       description="Stored together or not at all.")


class AddSamplesResponse(BaseModel):
    ids: list[int] = Field(..., description="The new sample ids, in the order the samples were sent.")


class SampleRecordOut(BaseModel):
    id: int
    trait: str = Field(..., description="Key of the sample's trait.")
    text: str
    quality: float
    provenance: str = Field("authored", description="`authored`, `synthesized` or `score_feedback`.")
    source_url: str | None = None
    content_sha256: str | None = None
    created_at: datetime | None = None


class SamplePage(BaseModel):
    items: list[SampleRecordOut]
    next_cursor: str | None = Field(None, description="Pass back as `cursor` for the next page; null at the end.")
    limit: int
