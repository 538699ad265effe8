"""The handle grammar (SPEC §1.1, §1.6): namespaces, model names, tags and version references.

Grammars are matched with `fullmatch`: `^…$` would also accept a trailing newline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAMESPACE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,38}")
MODEL_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
TAG_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# "vN" with ASCII digits only (\d would take any Unicode digit: "v١" read as v1).
_VERSION_REF = re.compile(r"v([0-9]+)")
# More digits than a 64-bit integer holds name no version; they are never parsed (a 5,000-digit int
# is slow to build and would overflow the column).
MAX_VERSION_DIGITS = 18
NO_SUCH_VERSION = 0  # version numbers start at 1


class InvalidHandle(ValueError):
    """A string that is not `<namespace>.<name>` (with an optional `@pin` where allowed)."""

    def __init__(self, raw: str) -> None:
        super().__init__("a handle is '<namespace>.<name>' in lowercase")
        self.raw = raw


@dataclass(frozen=True)
class Handle:
    namespace: str
    name: str
    # `handle@v3` or `handle@stable` on score and compare; None means the active version.
    pin: str | None = None

    @property
    def full(self) -> str:
        return f"{self.namespace}.{self.name}"


def parse_handle(raw: str, *, allow_pin: bool = False) -> Handle:
    """The parts of `raw`; raises InvalidHandle when any part breaks the grammar."""
    base, at, pin = raw.partition("@")
    if at and (not allow_pin or not TAG_RE.fullmatch(pin)):
        raise InvalidHandle(raw)
    namespace, dot, name = base.partition(".")
    if not dot or not NAMESPACE_RE.fullmatch(namespace) or not MODEL_NAME_RE.fullmatch(name):
        raise InvalidHandle(raw)
    return Handle(namespace, name, pin or None)


def version_number(ref: str) -> int | None:
    """N for a reference written "vN", else None (it is a tag). Too many digits → NO_SUCH_VERSION."""
    match = _VERSION_REF.fullmatch(ref)
    if match is None:
        return None
    digits = match.group(1)
    return int(digits) if len(digits) <= MAX_VERSION_DIGITS else NO_SUCH_VERSION
