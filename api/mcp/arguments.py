"""Typed arguments shared by the MCP tools.

They carry the REST field names and JSON types so an AI client knows what to send, and the
closed lists (effort levels, aggregations) from `domain`. Other value rules (ranges, patterns, key
grammar) are left to the REST schemas: a value REST refuses comes back with REST's own error code.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from domain.effort import Effort
from domain.traits import Aggregation

RenderFormat = Literal["json", "text"]

Handle = Annotated[str, Field(description="Model handle `<namespace>.<name>`, for example `acme.support-tone`.")]
EffortArg = Annotated[Effort | None, Field(
    description="How hard to search for the best fit: low, medium, high (the default when left out), "
                "xhigh or max.")]
LimitArg = Annotated[int | None, Field(description="Page size; left out, the REST default applies.")]
CursorArg = Annotated[str | None, Field(
    description="`next_cursor` from the previous page; left out for the first page.")]
TraitFilterArg = Annotated[list[str] | None, Field(
    description="Score only these traits (keys or names); left out, every trait is scored.")]
FormatArg = Annotated[RenderFormat, Field(
    description="`json` for the full score card, `text` for the bar-chart rendering.")]


class BatchItemArgument(BaseModel):
    """One text of a batch."""

    id: str | None = Field(None, description="Your id for the item, echoed in its result; left out, its index.")
    content: str = Field(..., description="The text to score, or one http(s) URL.")


class TraitArgument(BaseModel):
    """One trait to add, or to replace when a trait with the same key exists."""

    key: str | None = Field(None, description="Identifier in the model; left out, it is made from the name "
                                              "in snake_case.")
    name: str = Field(..., description="Human name of the trait, e.g. 'Clarity'.")
    description: str | None = Field(None, description="What the trait measures.")
    positive_label: str | None = Field(None, description="Word for the high pole (default 'positive').")
    negative_label: str | None = Field(None, description="Word for the low pole (default 'negative').")
    aggregation: Aggregation | None = Field(None, description="How window scores of long content combine "
                                                              "(default 'mean').")


class SampleArgument(BaseModel):
    """One labelled example."""

    trait: str = Field(..., description="Trait key or name the example belongs to.")
    text: str = Field(..., description="The example text.")
    quality: float | str = Field(..., description="0 (negative pole) to 1 (positive pole), or a label word "
                                                  "such as good, fair, poor, or the trait's own pole labels.")
    source_url: str | None = Field(None, description="Where the text came from, if anywhere.")
    content_sha256: str | None = Field(None, description="Hex SHA-256 of the source content.")


def body_of(model: BaseModel) -> dict[str, Any]:
    """Only what the caller gave: REST fills in its own defaults."""
    return model.model_dump(exclude_none=True)
