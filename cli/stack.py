"""What a running `assay up` leaves in its data dir for the other commands: the lock that says it
runs, the URL its API listens on and the Temporal UI's URL for its workflows.

A stack counts as running while its `up.lock` is held (an flock, which the kernel drops when the
process dies, however it dies), so a file left by a crashed stack is never mistaken for a live one.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

DEFAULT_DATA_DIR = ".assay"
LOCK_FILE = "up.lock"
URL_FILE = "api-url"
WORKFLOWS_URL_FILE = "workflows-url"


def stack_running(data_dir: Path) -> bool:
    """True if an `assay up` holds this data dir's lock right now."""
    try:
        with open(data_dir / LOCK_FILE, "rb") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
            return False
    except OSError:
        return False


def nearest_running_stack(start: Path) -> Path | None:
    """The `.assay` data dir of a running stack in ``start`` or the nearest directory above it."""
    for directory in (start, *start.parents):
        candidate = directory / DEFAULT_DATA_DIR
        if stack_running(candidate):
            return candidate
    return None


def record_url(data_dir: Path, url: str) -> None:
    (data_dir / URL_FILE).write_text(url + "\n")


def record_workflows_url(data_dir: Path, url: str) -> None:
    """The Temporal UI's workflow list; ``<url>/<workflow id>`` is one run's page."""
    (data_dir / WORKFLOWS_URL_FILE).write_text(url + "\n")


def recorded_url(data_dir: Path) -> str | None:
    """The API URL a running stack recorded for this data dir (None when no stack runs there)."""
    return _recorded(data_dir, URL_FILE)


def recorded_workflows_url(data_dir: Path) -> str | None:
    """The Temporal UI workflow list a running stack recorded for this data dir (None when none runs)."""
    return _recorded(data_dir, WORKFLOWS_URL_FILE)


def _recorded(data_dir: Path, name: str) -> str | None:
    if not stack_running(data_dir):
        return None
    try:
        return (data_dir / name).read_text().strip() or None
    except OSError:
        return None
