"""Wire shapes of POST /v1/extract."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ExtractRequest(BaseModel):
    url: str = Field(..., description="An http or https address whose readable text you want.",
                     examples=["https://example.com/post"])


class ExtractResponse(BaseModel):
    url: str = Field(..., description="The address as you sent it.")
    content: str = Field(..., description="Readable text of the page, cut at 50 KB of UTF-8.")
    content_sha256: str = Field(..., description="Hex sha256 of `content` encoded as UTF-8.")
    fetched_at: datetime = Field(..., description="When the page was fetched (UTC).")
