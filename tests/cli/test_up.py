"""`assay up` end to end: a real subprocess running Temporal, a worker and the API on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from cli.ports import free_port
from cli.stack import recorded_url
from tests.cli.cli_runner import REPO_ROOT, cli_command, cli_env

STARTUP_WAIT = 240  # seconds; bounded, generous for a cold start on a 2-core machine
STOP_WAIT = 90



def stack_processes(data_dir: Path) -> set[int]:
    """Live (non-zombie) processes started for this data dir: every child gets ASSAY_DATA_DIR."""
    marker = f"ASSAY_DATA_DIR={data_dir}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ.split(b"\0") and state != "Z":
            found.add(int(entry.name))
    return found


class RunningStack:
    def __init__(self, data_dir: Path, *extra: str, ports: tuple[int, int, int] | None = None,
                 cwd: Path = REPO_ROOT) -> None:
        self.data_dir = data_dir
        self.ports = ports or (free_port(), free_port(), free_port())
        self.api_port, self.temporal_port, ui_port = self.ports
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.temporal_address = f"127.0.0.1:{self.temporal_port}"
        self.stdout_path = data_dir.parent / f"{data_dir.name}-up-{self.api_port}-{time.monotonic_ns()}.out"
        with open(self.stdout_path, "wb") as out:
            self.process = subprocess.Popen(
                cli_command("up", "--data-dir", str(data_dir), "--api-port", str(self.api_port),
                            "--temporal-port", str(self.temporal_port), "--ui-port", str(ui_port), *extra),
                cwd=cwd, env=cli_env(), stdout=out, stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_WAIT
        while "Assay is up." not in self.output():
            assert self.process.poll() is None, f"assay up exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"assay up not ready in {STARTUP_WAIT}s:\n{self.output()}"
            time.sleep(0.5)

    def children(self, marker: bytes) -> set[int]:
        """Live direct children of this `assay up` whose command line contains `marker`."""
        return {pid for pid in stack_processes(self.data_dir)
                if _parent(pid) == self.process.pid and marker in _cmdline(pid)}

    def dev_key_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {(self.data_dir / 'dev-key').read_text().strip()}"}

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_WAIT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in stack_processes(self.data_dir):
            # The process itself too: one whose group leader has gone is no longer reached through it.
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except OSError:
                    pass


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "stack"


def test_up_serves_keeps_data_across_restarts_and_leaves_nothing_running(data_dir):
    metrics_port = free_port()
    first = RunningStack(data_dir, "--workers", "1", "--temporal-metrics-port", str(metrics_port))
    try:
        first.wait_until_up()
        dev_key = (data_dir / "dev-key").read_text().strip()
        headers = {"Authorization": f"Bearer {dev_key}"}
        assert (data_dir / "dev-key").stat().st_mode & 0o777 == 0o600
        assert dev_key in first.output()
        assert (data_dir / "temporal.db").exists()

        health = httpx.get(f"{first.url}/v1/health", timeout=10)
        page = httpx.get(f"{first.url}/v1/models", params={"namespace": "dev"}, headers=headers, timeout=10)
        created = httpx.post(f"{first.url}/v1/models", json={"handle": "dev.survivor"}, headers=headers, timeout=10)
        assert health.status_code == 200
        assert page.status_code == 200
        assert set(page.json()) >= {"items", "next_cursor", "limit"}
        assert created.status_code == 201
        temporal_metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert temporal_metrics.status_code == 200
        assert "num_goroutines" in temporal_metrics.text

        running = stack_processes(data_dir)
        # Temporal, one worker, the API at least.
        assert len(running) >= 3

        second_on_same_dir = subprocess.run(
            cli_command("up", "--data-dir", str(data_dir), "--api-port", str(free_port()),
                        "--temporal-port", str(free_port()), "--ui-port", str(free_port())),
            cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, timeout=60,
        )
        assert second_on_same_dir.returncode != 0
        assert "already running" in second_on_same_dir.stderr

        assert first.stop() == 0
        assert not any(_alive(pid) for pid in running)
        assert stack_processes(data_dir) == set()
    finally:
        first.kill()

    again = RunningStack(data_dir, "--workers", "1")
    try:
        again.wait_until_up()
        assert (data_dir / "dev-key").read_text().strip() == dev_key
        kept = httpx.get(f"{again.url}/v1/models/dev.survivor", headers=headers, timeout=10)
        assert kept.status_code == 200
        assert kept.json()["handle"] == "dev.survivor"
        assert again.stop() == 0
        assert stack_processes(data_dir) == set()
    finally:
        again.kill()


def test_taken_api_port_fails_fast_and_starts_nothing(data_dir):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        result = subprocess.run(
            cli_command("up", "--data-dir", str(data_dir), "--api-port", str(taken),
                        "--temporal-port", str(free_port()), "--ui-port", str(free_port())),
            cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, timeout=60,
        )
    assert result.returncode != 0
    assert str(taken) in result.stderr and "API" in result.stderr
    assert stack_processes(data_dir) == set()
    assert not (data_dir / "temporal.db").exists()
    assert not (data_dir / "up.lock").exists()  # a refused start leaves no lock file behind


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_part_that_dies_during_startup_is_reported_and_the_rest_stopped(data_dir, tmp_path):
    # `python -m worker` resolves against the working directory first, so a worker.py there
    # stands in for a worker that crashes on start.
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    (workdir / "worker.py").write_text("import sys\nprint('worker cannot start: boom-1234')\nsys.exit(3)\n")
    result = subprocess.run(
        cli_command("up", "--data-dir", str(data_dir), "--workers", "1", "--api-port", str(free_port()),
                    "--temporal-port", str(free_port()), "--ui-port", str(free_port())),
        cwd=workdir, env=cli_env(), capture_output=True, text=True, timeout=STARTUP_WAIT,
    )
    assert result.returncode == 1
    assert "worker-1" in result.stderr and "status 3" in result.stderr
    assert "boom-1234" in result.stderr
    assert stack_processes(data_dir) == set()


def test_temporal_dying_later_stops_the_stack_with_an_error(data_dir):
    stack = RunningStack(data_dir, "--workers", "0", "--no-examples")
    try:
        stack.wait_until_up()
        temporal = stack.children(b"start-dev")
        assert len(temporal) == 1
        os.kill(temporal.pop(), signal.SIGKILL)

        exit_code = stack.process.wait(timeout=STOP_WAIT)

        assert exit_code == 1
        assert "temporal (pid" in stack.output() and "was killed by SIGKILL" in stack.output()
        assert "Stopping the other parts" in stack.output()
        assert stack_processes(data_dir) == set()
    finally:
        stack.kill()


def test_client_commands_find_a_stack_on_other_ports_from_its_directory_and_below(tmp_path):
    """No --url, no --data-dir: the running stack's recorded URL and dev key are found, and the
    banner's hint runs as printed."""
    project = tmp_path / "project"
    (project / "sub" / "dir").mkdir(parents=True)
    stack = RunningStack(project / ".assay", "--workers", "1", "--no-examples", cwd=project)
    try:
        stack.wait_until_up()
        assert stack.api_port != 8000
        for where in (project, project / "sub" / "dir"):
            listed = subprocess.run(cli_command("models", "--namespace", "dev", "--json"), cwd=where,
                                    env=cli_env(), capture_output=True, text=True, timeout=60)
            assert listed.returncode == 0, listed.stderr
            assert json.loads(listed.stdout) == []
        [hint] = [line.strip() for line in stack.output().splitlines() if " models " in line and "--url" in line]
        ran = subprocess.run(hint, shell=True, cwd=project, env=cli_env(), capture_output=True, text=True,
                             timeout=60)
        assert ran.returncode == 0, (hint, ran.stderr)
        assert recorded_url(project / ".assay") == stack.url
        assert stack.stop() == 0
        assert recorded_url(project / ".assay") is None  # a stopped stack's file is not believed
    finally:
        stack.kill()
