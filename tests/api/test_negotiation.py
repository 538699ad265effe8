"""One Accept rule for every alternative view (the score card's text chart, the markdown model card)."""

from __future__ import annotations

import pytest

from api.negotiation import prefers_over_json, quality


@pytest.mark.parametrize("accept, media, expected", [
    ("text/plain", "text/plain", 1.0),
    ("text/plain;q=0.4, text/*;q=0.9", "text/plain", 0.4),  # the most specific range decides
    ("text/*;q=0.3, */*;q=0.8", "text/markdown", 0.3),
    ("*/*;q=0.2", "text/markdown", 0.2),
    ("TEXT/PLAIN; charset=utf-8; Q=0.5", "text/plain", 0.5),
    ("text/plain;q=abc", "text/plain", 0.0),
    ("text/plain;q=nan", "text/plain", 0.0),
    ("text/plain;q=2", "text/plain", 0.0),
    ("application/json", "text/plain", 0.0),
    ("", "text/plain", 0.0),
])
def test_quality_of_a_media_type(accept, media, expected):
    assert quality(accept, media) == expected


@pytest.mark.parametrize("accept, media, preferred", [
    ("text/plain", "text/plain", True),
    ("text/markdown", "text/markdown", True),
    ("text/plain, application/json;q=0.9", "text/plain", True),
    ("text/*", "text/markdown", True),
    ("application/json, text/plain", "text/plain", False),  # a tie keeps JSON
    ("text/markdown, application/json", "text/markdown", False),
    ("*/*", "text/plain", False),
    ("", "text/markdown", False),
    ("text/plain;q=0, */*", "text/plain", False),
    ("application/json, text/markdown;q=0.5", "text/markdown", False),
])
def test_a_view_is_chosen_only_when_ranked_above_json(accept, media, preferred):
    assert prefers_over_json(accept, media) is preferred
