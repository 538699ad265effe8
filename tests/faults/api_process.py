"""A real API process for fault tests: `uvicorn api.app:create_app --factory` with the test
settings passed through ASSAY_* variables, on a free loopback port, so it can be SIGKILLed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.workflows.support import REPO_ROOT, free_port


class ApiProcess:
    def __init__(self, settings, data_dir: Path, temporal_address: str | None = None,
                 extra_env: dict[str, str] | None = None, source_tree: Path = REPO_ROOT, processes: int = 1) -> None:
        self.extra_env = extra_env or {}
        self.processes = processes  # above 1: uvicorn's supervisor and its server processes, as `assay up` runs them
        self.settings = settings
        self.source_tree = source_tree  # the code it runs (a benchmark compares two revisions)
        self.data_dir = data_dir
        self.temporal_address = temporal_address or settings.temporal_address
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def _env(self) -> dict[str, str]:
        # Only our own ASSAY_* values: a developer's shell must not leak into the process under test.
        env = {key: value for key, value in os.environ.items() if not key.startswith("ASSAY_")}
        env.update(
            ASSAY_ENVIRONMENT="test",
            ASSAY_DATA_DIR=str(self.data_dir),
            ASSAY_DATABASE_URL=self.settings.resolved_database_url,
            ASSAY_TEMPORAL_ADDRESS=self.temporal_address,
            ASSAY_TEMPORAL_NAMESPACE=self.settings.temporal_namespace,
            ASSAY_TASK_QUEUE=self.settings.task_queue,
            ASSAY_EMBEDDER=self.settings.embedder,
        )
        env.update(self.extra_env)
        return env

    async def start(self, limit: float = 60.0) -> None:
        many = ["--workers", str(self.processes)] if self.processes > 1 else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "cli.api_process:create_app" if many else "api.app:create_app",
             "--factory", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", *many],
            cwd=self.source_tree, env=self._env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = asyncio.get_running_loop().time() + limit
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as client:
            while True:
                assert self.process.poll() is None, f"the API process exited with {self.process.returncode}"
                try:
                    if (await client.get("/v1/openapi.json")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert asyncio.get_running_loop().time() < deadline, "the API process did not come up"
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
