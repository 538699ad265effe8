"""Content negotiation: does a request's `Accept` header prefer another view to JSON?

Decisions where the spec is silent:
- A view (the score card's text chart, the markdown model card) is served when `Accept` ranks its
  media type strictly above `application/json`; a tie (`*/*`, or no header) keeps JSON.
- A media type's quality is that of the most specific range naming it (`text/plain` over `text/*`
  over `*/*`, RFC 9110 §12.5.1), so `text/plain;q=0, */*` refuses the text view. A `q` that is not
  a number from 0 to 1 counts as 0.
"""

from __future__ import annotations

import math

JSON = "application/json"


def _q(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                return 0.0
            return q if math.isfinite(q) and 0.0 <= q <= 1.0 else 0.0
    return 1.0


def quality(accept: str, media: str) -> float:
    """How much `accept` wants `media` (0 when no range names it)."""
    kind = media.split("/")[0]
    specificity_of = {media: 2, f"{kind}/*": 1, "*/*": 0}
    best_specificity, best_q = -1, 0.0
    for part in accept.split(","):
        name, *params = [piece.strip() for piece in part.split(";")]
        specificity = specificity_of.get(name.lower(), -1)
        if specificity < 0 or specificity < best_specificity:
            continue
        q = _q(params)
        best_q = q if specificity > best_specificity else max(best_q, q)
        best_specificity = specificity
    return best_q


def prefers_over_json(accept: str, media: str) -> bool:
    """True when `accept` ranks `media` strictly above JSON."""
    return bool(accept) and quality(accept, media) > quality(accept, JSON)
