"""The CLI never loads the HTTP layer, and `domain` loads nothing of the project but itself
(ARCHITECTURE.md, "One home per rule")."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import cli
import domain

ROOT = Path(__file__).resolve().parents[2]


def loaded_top_level_packages(modules: list[str]) -> set[str]:
    """Top-level packages in sys.modules after a fresh interpreter imports `modules`."""
    script = ("import importlib, json, sys\n"
              f"for name in {modules!r}: importlib.import_module(name)\n"
              "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def submodules(package) -> list[str]:
    """Every module of the package (`__main__` would run the command instead of being imported)."""
    return sorted(f"{package.__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__)
                  if info.name != "__main__")


def test_no_cli_module_imports_the_api_or_fastapi():
    modules = submodules(cli)
    assert "cli.authoring" in modules and "cli.main" in modules
    assert loaded_top_level_packages(modules) & {"api", "fastapi", "starlette"} == set()


def test_domain_imports_nothing_but_itself_and_the_standard_library():
    # What the interpreter loads at startup (site hooks of the installed packages) is not domain's doing.
    at_startup = loaded_top_level_packages([])
    added = loaded_top_level_packages(submodules(domain)) - at_startup
    assert "domain" in added
    assert added - {"domain"} <= set(sys.stdlib_module_names), added
