"""`assay --version` names the installed release."""

from __future__ import annotations

from importlib.metadata import version

from tests.cli.cli_runner import cli_env, run_cli


async def test_version_prints_the_installed_release():
    result = await run_cli("--version", env=cli_env())
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"assay {version('assay')}"
