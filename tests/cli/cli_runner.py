"""Runs the real `assay` command in a subprocess, the way an operator would."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def cli_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ASSAY_")}
    env.update(ASSAY_ENVIRONMENT="test", **overrides)
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


async def run_cli(*args: str, env: dict[str, str], timeout: float = 120, cwd: Path = REPO_ROOT) -> CliResult:
    process = await asyncio.create_subprocess_exec(
        *cli_command(*args), env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    return CliResult(process.returncode, stdout.decode(), stderr.decode())
