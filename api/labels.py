"""The 422 answer for qualities that are neither a number in [0, 1] nor a label word.

The rule itself is `domain.labels.parse_quality`.
"""

from __future__ import annotations

from typing import Any

from api.errors import ApiError


def invalid_label_error(details: dict[str, Any] | None = None) -> ApiError:
    """The 422 `invalid_label` envelope for one or more rejected qualities."""
    return ApiError(
        422,
        "invalid_label",
        "A quality must be a number from 0 to 1 or a recognised label word "
        "(for example good, fair, poor, or the trait's own pole labels).",
        details,
    )
