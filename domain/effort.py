"""Effort levels (SPEC §5.3): how hard training, discovery and synthesis search."""

from __future__ import annotations

from typing import Literal, get_args

# A Literal so the wire schemas (REST and MCP) list the levels; the tuple for everything else.
Effort = Literal["low", "medium", "high", "xhigh", "max"]
EFFORTS: tuple[str, ...] = get_args(Effort)
DEFAULT_EFFORT: Effort = "high"
