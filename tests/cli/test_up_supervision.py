"""`assay up` as a process supervisor: its parts die with it, a dead worker is replaced, leftovers of
a crash are stopped at the next start, and a crash loop stops the stack. Real `assay up` processes."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client

from cli.ports import free_port
from cli.supervisor import PidRecord, identify
from tests.cli.cli_runner import REPO_ROOT, cli_command, cli_env
from tests.cli.test_up import STOP_WAIT, RunningStack, _alive, stack_processes

SUPPORT_REPLY = REPO_ROOT / "examples" / "support-reply" / "model.yaml"
TRAINING_WAIT = 600  # seconds; a max-effort fit plus a heartbeat timeout and a retry, on a busy machine
PARENT_DEATH_WAIT = 5  # the acceptance bound: nothing of a SIGKILLed `assay up` outlives it by more
REPLACEMENT_WAIT = 15  # a dead worker's replacement must be running within this many seconds


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "stack"


def wait_for(condition, what: str, timeout: float, stack: RunningStack | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if stack is not None:
            assert stack.process.poll() is None, f"assay up exited waiting for {what}:\n{stack.output()}"
        assert time.monotonic() < deadline, f"no {what} within {timeout}s:\n{stack.output() if stack else ''}"
        time.sleep(0.25)


def test_sigkill_of_up_leaves_no_part_running_and_the_next_start_keeps_every_model(data_dir):
    # Two API processes: uvicorn's server processes are grandchildren of `assay up`.
    first = RunningStack(data_dir, "--workers", "2", "--api-workers", "2", "--no-examples")
    try:
        first.wait_until_up()
        created = httpx.post(f"{first.url}/v1/models", json={"handle": "dev.kept"},
                             headers=first.dev_key_headers(), timeout=30)
        assert created.status_code == 201
        # Temporal, two workers, uvicorn's supervisor and its two server processes.
        assert len(stack_processes(data_dir)) >= 6

        first.process.kill()
        first.process.wait()
        deadline = time.monotonic() + PARENT_DEATH_WAIT
        while stack_processes(data_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stack_processes(data_dir) == set()
    finally:
        first.kill()

    # Same ports: a leftover holding one would stop this start.
    again = RunningStack(data_dir, "--workers", "2", "--api-workers", "2", "--no-examples", ports=first.ports)
    try:
        again.wait_until_up()
        kept = httpx.get(f"{again.url}/v1/models/dev.kept", headers=again.dev_key_headers(), timeout=30)
        assert kept.status_code == 200
        assert again.stop() == 0
        assert stack_processes(data_dir) == set()
    finally:
        again.kill()


def fit_worker_pid(temporal_address: str, run_id: str) -> int | None:
    """The pid of the worker running the run's fit, from Temporal's pending activity (`pid@host`)."""

    async def describe() -> int | None:
        client = await Client.connect(temporal_address)
        description = await client.get_workflow_handle(run_id).describe()
        for pending in description.raw_description.pending_activities:
            if (pending.activity_type.name == "fit_model"
                    and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                    and pending.last_worker_identity):
                return int(pending.last_worker_identity.split("@", 1)[0])
        return None

    return asyncio.run(describe())


def fit_attempts(temporal_address: str, run_id: str) -> list[int]:
    """The attempt numbers of the run's completed fit activities, from its history."""

    async def history() -> list[int]:
        client = await Client.connect(temporal_address)
        events = (await client.get_workflow_handle(run_id).fetch_history()).events
        fits = {event.event_id for event in events
                if event.HasField("activity_task_scheduled_event_attributes")
                and event.activity_task_scheduled_event_attributes.activity_type.name == "fit_model"}
        return [event.activity_task_started_event_attributes.attempt for event in events
                if event.HasField("activity_task_started_event_attributes")
                and event.activity_task_started_event_attributes.scheduled_event_id in fits]

    return asyncio.run(history())


def test_a_killed_worker_is_replaced_and_the_training_it_ran_completes(data_dir):
    stack = RunningStack(data_dir, "--workers", "2", "--no-examples")
    try:
        stack.wait_until_up()
        headers = stack.dev_key_headers()
        draft = subprocess.run(
            cli_command("build", str(SUPPORT_REPLY), "--handle", "dev.interrupted", "--no-train",
                        "--url", stack.url, "--key", headers["Authorization"].removeprefix("Bearer ")),
            cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, timeout=300,
        )
        assert draft.returncode == 0, draft.stderr
        started = httpx.post(f"{stack.url}/v1/models/dev.interrupted/train", json={"effort": "max"},
                             headers=headers, timeout=60)
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        workers = stack.children(b"-m\0worker")
        assert len(workers) == 2

        # The worker running the fit, not just any worker.
        victim = wait_for(lambda: fit_worker_pid(stack.temporal_address, run_id), "fit running", 300, stack)
        assert victim in workers
        os.kill(victim, signal.SIGKILL)

        replacement = wait_for(lambda: stack.children(b"-m\0worker") - workers, "replacement worker",
                               REPLACEMENT_WAIT, stack)
        assert len(replacement) == 1

        def trained() -> bool:
            model = httpx.get(f"{stack.url}/v1/models/dev.interrupted", headers=headers, timeout=30).json()
            assert model["state"] in ("busy", "ready"), model
            return model["state"] == "ready"

        wait_for(trained, "ready model", TRAINING_WAIT, stack)
        # The fit was cut off on the killed worker and ran again (retried on a live one).
        assert max(fit_attempts(stack.temporal_address, run_id)) >= 2
        assert httpx.get(f"{stack.url}/v1/health", timeout=30).status_code == 200
        assert stack.children(b"-m\0worker") == workers - {victim} | replacement
        assert f"(pid {victim}) was killed by SIGKILL" in stack.output()
        assert stack.stop() == 0
    finally:
        stack.kill()


# Stands in for an API process of a crashed `assay up`: holds the API port, and has started a
# process of its own (as uvicorn's supervisor does).
HOLD_PORT = """
import socket, subprocess, sys, time
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], stdout=subprocess.DEVNULL)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen()
print(helper.pid, flush=True)
time.sleep(600)
"""


# Stands in for a worker of a crashed `assay up` that itself died, leaving a process it had started.
LEAVE_ORPHAN = """
import subprocess, sys
orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], stdout=subprocess.DEVNULL)
print(orphan.pid, flush=True)
sys.stdin.readline()
"""


def test_leftovers_of_a_crashed_run_are_stopped_at_the_next_start_and_strangers_left_alone(data_dir):
    ports = (free_port(), free_port(), free_port())
    data_dir.mkdir(parents=True)
    ours = {**cli_env(), "ASSAY_DATA_DIR": str(data_dir.resolve())}
    leftover = subprocess.Popen([sys.executable, "-c", HOLD_PORT, str(ports[0])], env=ours,
                                start_new_session=True, stdout=subprocess.PIPE, text=True)
    # Carries our data dir too, but is not the process that was recorded under its pid: that one
    # ended and the pid was handed to this one (another start time, another command line).
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], env=ours)
    gone = subprocess.Popen([sys.executable, "-c", LEAVE_ORPHAN], env=ours, start_new_session=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    stack, strays = None, []
    try:
        helper = int(leftover.stdout.readline())
        orphan = int(gone.stdout.readline())
        strays = [helper, orphan]
        recorded_gone = identify("worker-2", gone.pid)
        gone.stdin.write("exit\n")
        gone.stdin.close()
        gone.wait(timeout=60)
        as_running = identify("worker-1", stranger.pid)
        recorded_stranger = dataclasses.replace(as_running, start_ticks=as_running.start_ticks - 1,
                                                cmdline=[sys.executable, "-m", "worker"])
        PidRecord(data_dir).write([identify("api", leftover.pid), recorded_stranger, recorded_gone])
        assert _alive(orphan)

        stack = RunningStack(data_dir, "--workers", "1", "--no-examples", ports=ports)
        stack.wait_until_up()

        assert leftover.wait(timeout=STOP_WAIT) == -signal.SIGTERM
        assert not _alive(helper)
        assert not _alive(orphan)
        assert f"api (pid {leftover.pid})" in stack.output()
        assert stranger.poll() is None
        assert httpx.get(f"{stack.url}/v1/health", timeout=30).status_code == 200
        assert stack.stop() == 0
        assert stranger.poll() is None
    finally:
        for process in (leftover, stranger, gone):
            process.kill()
            process.wait()
        for pid in set(strays) & stack_processes(data_dir):  # not our children: only while they carry our dir
            os.kill(pid, signal.SIGKILL)
        if stack is not None:
            stack.kill()


# A worker that runs once, then crashes on every restart (`python -m worker` resolves against the
# working directory first).
FLAKY_WORKER = f"""
import os, sys
marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "started-once")
if os.path.exists(marker):
    print("worker cannot start: boom-5678", flush=True)
    sys.exit(3)
open(marker, "w").close()
os.execv(sys.executable, [sys.executable, "-c",
                          "import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); import worker; worker.main()"])
"""


def test_a_crash_loop_stops_the_stack_and_shows_the_end_of_the_log(data_dir, tmp_path):
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    (workdir / "worker.py").write_text(FLAKY_WORKER)
    stack = RunningStack(data_dir, "--workers", "1", "--no-examples", cwd=workdir)
    try:
        stack.wait_until_up()
        [worker] = stack.children(b"worker.main()")
        os.kill(worker, signal.SIGKILL)

        # Five restarts 1, 2, 4, 8 and 16 s apart, each crashing at once; then the stack stops.
        assert stack.process.wait(timeout=STOP_WAIT * 3) == 1
        output = stack.output()
        assert "worker-1 is crash-looping" in output
        assert "boom-5678" in output and "exited with status 3" in output
        assert stack_processes(data_dir) == set()
    finally:
        stack.kill()
