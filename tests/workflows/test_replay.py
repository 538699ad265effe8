"""Every recorded history replays against the current workflow code (no server needed).

A failure here means a deployed change would break runs that are open when it ships: guard the
change with ``workflow.patched`` (docs/decisions.md, "Deploying workflow changes"). Histories live in
``tests/workflows/histories/<generation>/`` and are recorded by ``tests.workflows.record_histories``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.workflows.support import HISTORIES, workflow_type
from workflows.registry import ALL_WORKFLOWS

HISTORY_FILES = sorted(HISTORIES.glob("*/*.json"))


def load_history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def registered_names() -> set[str]:
    return {workflow._Definition.must_from_class(cls).name for cls in ALL_WORKFLOWS}


@pytest.mark.parametrize("path", HISTORY_FILES, ids=lambda p: str(p.relative_to(HISTORIES)))
async def test_recorded_history_replays_on_current_code(path):
    result = await Replayer(workflows=ALL_WORKFLOWS).replay_workflow(
        load_history(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"


def test_every_registered_workflow_type_has_a_recorded_history():
    recorded = {workflow_type(load_history(path)) for path in HISTORY_FILES}
    assert registered_names() <= recorded, f"no history for {sorted(registered_names() - recorded)}"


def test_every_generation_says_what_it_was_recorded_from():
    generations = {path.parent for path in HISTORY_FILES}
    assert generations
    for folder in generations:
        assert re.search(r"\b[0-9a-f]{40}\b", (folder / "README.md").read_text()), folder.name
