"""Long-content segmentation (SPEC §5.7): truncate to 50 KB, then split into encoder windows.

Decisions:
- Truncation keeps at most 50 × 1024 bytes of UTF-8 and never splits a character: a multibyte
  character that would straddle the limit is dropped whole.
- Windows hold at most 256 tokens *including* the encoder's special tokens; the embedder's
  ``split_windows`` does the cutting with its real tokenizer.
- ``max_depth`` 0 keeps only the first window; 1 keeps every window; values above 1 are reserved
  and behave like 1. Negative values are an error.
- Empty or whitespace-only text yields exactly one window with the (truncated) text as given, so
  every trait still gets a score; its token count is whatever the embedder counts (the special
  tokens).
- ``input_tokens`` of a score is the sum of the returned windows' ``tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import EngineError

MAX_CONTENT_BYTES = 50 * 1024
WINDOW_TOKENS = 256


class SegmentError(EngineError):
    """Bad segmentation arguments."""


@dataclass(frozen=True)
class Window:
    text: str
    tokens: int


def truncate_utf8(text: str, max_bytes: int = MAX_CONTENT_BYTES) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits in ``max_bytes``."""
    if max_bytes < 0:
        raise SegmentError("max_bytes must be non-negative")
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    # errors="ignore" drops the partial trailing character left by the byte cut.
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def segment(text: str, embedder, max_depth: int = 1) -> list[Window]:
    """Split content into the windows that get embedded, honouring ``max_depth``."""
    if max_depth < 0:
        raise SegmentError("max_depth must be >= 0")
    text = truncate_utf8(text)
    if not text.strip():
        return [Window(text=text, tokens=int(embedder.count_tokens(text)))]
    pieces = embedder.split_windows(text, WINDOW_TOKENS)
    if not pieces:  # defensive: an embedder that returns nothing still gives one window
        return [Window(text=text, tokens=int(embedder.count_tokens(text)))]
    windows = [Window(text=piece, tokens=int(tokens)) for piece, tokens in pieces]
    if max_depth == 0:
        return windows[:1]
    return windows
