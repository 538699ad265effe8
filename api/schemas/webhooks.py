"""Wire shapes of the webhook endpoints (SPEC §9.4)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts.states import WebhookEvent


class WebhookCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(..., max_length=2000, description="http(s) URL; private addresses are refused (SPEC §6).")
    events: list[WebhookEvent] = Field(..., min_length=1, max_length=len(WebhookEvent),
                                       description="Event types to receive.")
    namespace: str = Field(..., max_length=40, description="A namespace the key owns.")


class WebhookOut(BaseModel):
    id: str
    namespace: str
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(..., description="`whsec_…`: shown only in this answer. Verify signatures with it.")


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None = None
    limit: int


class WebhookDeleted(BaseModel):
    id: str
    deleted: bool


class DeliveryOut(BaseModel):
    event_id: str
    event: str
    attempt: int
    status_code: int | None = None
    at: datetime
    error: str | None = None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = None
    limit: int
