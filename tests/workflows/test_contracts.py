"""The names Temporal routes by stay in one place: the API starts, queries and signals workflows
through method references or the contracts module, and every signal a workflow handles has a
sender (or is kept on purpose for old histories). Renaming a signal or query on one side only
fails here or on import."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import contracts
from contracts.payloads import SAMPLES_ADDED_SIGNAL
from tests.domain.test_import_boundaries import loaded_top_level_packages, submodules
from api.run_status import PROGRESS_QUERY
from workflows.registry import ALL_WORKFLOWS, RUN_FOR_KIND
from workflows.retrain import RetrainWorkflow

ROOT = Path(__file__).resolve().parents[2]
# Handled so that histories which contain it still replay; nothing sends it any more.
KEPT_FOR_OLD_HISTORIES = {"report_progress"}


def handlers(cls) -> tuple[set[str], set[str]]:
    """(signal names, query names) the SDK registers for a workflow class."""
    from temporalio.workflow import _Definition  # the SDK offers no public reader of a definition

    definition = _Definition.must_from_class(cls)
    return set(definition.signals), set(definition.queries)


def query_name(method) -> str:
    return getattr(method, "__temporal_query_definition").name


def test_every_signal_has_a_sender_or_is_kept_for_old_histories():
    sent = {SAMPLES_ADDED_SIGNAL}  # api.run_control.signal_retrain, by the contract's name
    signals = set().union(*(handlers(cls)[0] for cls in ALL_WORKFLOWS))
    assert signals == sent | KEPT_FOR_OLD_HISTORIES
    assert handlers(RetrainWorkflow)[0] == {SAMPLES_ADDED_SIGNAL}


def test_every_run_the_api_starts_answers_the_progress_query_the_api_sends():
    asked = query_name(PROGRESS_QUERY)
    started = [cls for cls in ALL_WORKFLOWS if cls.run in RUN_FOR_KIND.values()]
    assert len(started) == 3
    for cls in started:
        assert asked in handlers(cls)[1], cls.__name__


def test_no_workflow_or_signal_is_named_by_a_string_outside_the_contracts():
    names = {cls.__temporal_workflow_definition.name for cls in ALL_WORKFLOWS}
    names |= set().union(*(handlers(cls)[0] for cls in ALL_WORKFLOWS))
    found = []
    for package in ("api", "activities", "cli", "client", "workflows"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in names:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert found == []


def test_contracts_import_nothing_but_the_standard_library():
    at_startup = loaded_top_level_packages([])
    added = loaded_top_level_packages(submodules(contracts)) - at_startup
    assert "contracts" in added
    assert added - {"contracts"} <= sys.stdlib_module_names, added
