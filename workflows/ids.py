"""Run ids: ``run_<ULID>``; also the Temporal workflow id, so a run can be pasted into the Web UI."""

from __future__ import annotations

from ulid import ULID


def new_run_id() -> str:
    return f"run_{ULID()}"


def run_id_from(timestamp_ms: int, randomness: bytes) -> str:
    """A run id built from given parts — workflows pass workflow.now() and workflow.random() bytes
    so the id is the same on every replay."""
    return f"run_{ULID.from_bytes(timestamp_ms.to_bytes(6, 'big') + randomness[:10])}"


def retrain_workflow_id(handle: str) -> str:
    return f"retrain/{handle}"
