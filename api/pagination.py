"""Opaque keyset cursors: the position after the last item of a page, never an offset."""

from __future__ import annotations

import base64
import json
from typing import Any

from api.errors import validation_error

MAX_POSITION = 2**63 - 1  # row ids are BIGINT


def encode_cursor(position: Any) -> str:
    raw = json.dumps({"after": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, expected: type) -> Any:
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except Exception as exc:
        raise validation_error("The cursor is not one this API issued.", {"cursor": cursor}) from exc
    if not isinstance(position, expected) or isinstance(position, bool):
        raise validation_error("The cursor is not one this API issued.", {"cursor": cursor})
    # A forged position the database cannot hold (beyond BIGINT, or text with NUL) is not ours either.
    out_of_range = isinstance(position, int) and not 0 <= position <= MAX_POSITION
    if out_of_range or (isinstance(position, str) and "\x00" in position):
        raise validation_error("The cursor is not one this API issued.", {"cursor": cursor})
    return position


def page(items: list, limit: int, position_of) -> dict:
    """`items` holds up to limit+1 rows; the extra one only says that another page exists."""
    has_more = len(items) > limit
    shown = items[:limit]
    return {
        "items": shown,
        "next_cursor": encode_cursor(position_of(shown[-1])) if has_more and shown else None,
        "limit": limit,
    }
