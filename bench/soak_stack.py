"""The stack under soak: `assay up`'s own `Stack` (same commands, same env, same logs), driven from
the soak script so single parts can be stopped, killed and restarted.

Why not `assay up` as a subprocess: its supervisor deliberately takes the whole stack down when any
part dies (cli/up.py), which is right for an operator and wrong for a fault drill that kills one
worker or stops Temporal for 30 s and watches the rest carry on. Startup, the children and their
command lines are `assay up`'s; only the supervision loop is replaced by the soak's phases.

RSS is read from /proc (Linux), summed per process and labelled by part (temporal, worker-N, api
supervisor, each uvicorn worker process). The Temporal server's memory is also broken down, to tell
what grows when its RSS does: anonymous, file-backed and shared pages from /proc, and the Go
runtime's heap, stack and goroutine count from its own Prometheus endpoint (one process, so every
service in it reports the same runtime figures).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cli.context import load_settings
from cli.ports import free_port
from cli.processes import Child
from cli.up import Stack, StackOptions

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")



def _children_of() -> dict[int, list[int]]:
    """ppid → pids for every process on the machine, from /proc/<pid>/stat."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _descendants(pid: int, tree: dict[int, list[int]]) -> list[int]:
    found, todo = [], list(tree.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo += tree.get(child, [])
    return found


# Temporal's runtime gauges → the names the soak reports them under.
GO_RUNTIME_GAUGES = {"memory_heap": "go_heap_alloc", "memory_heapinuse": "go_heap_inuse",
                     "memory_heapidle": "go_heap_idle",
                     "memory_heapreleased": "go_heap_released", "memory_stack": "go_stack",
                     "num_goroutines": "goroutines"}
PROC_STATUS_FIELDS = {"RssAnon": "rss_anon", "RssFile": "rss_file", "RssShmem": "rss_shmem"}


def proc_status_bytes(pid: int) -> dict[str, int]:
    """RssAnon, RssFile and RssShmem of a process, in bytes (empty once it has gone)."""
    found = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in PROC_STATUS_FIELDS:
                    found[PROC_STATUS_FIELDS[key]] = int(value.split()[0]) * 1024
    except OSError:
        return {}
    return found


def go_runtime_gauges(metrics_url: str) -> dict[str, int]:
    """The Go runtime gauges a Temporal server publishes (empty when it does not answer)."""
    try:
        text = httpx.get(metrics_url, timeout=3).text
    except httpx.HTTPError:
        return {}
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name in GO_RUNTIME_GAUGES and family.samples:
            found[GO_RUNTIME_GAUGES[family.name]] = int(family.samples[0].value)
    return found


def rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except OSError:
        return None


class SoakStack:
    def __init__(self, data_dir: Path, api_workers: int = 2, workers: int = 2) -> None:
        self.settings = load_settings(data_dir)
        self.options = StackOptions(
            host="127.0.0.1", api_port=free_port(), temporal_port=free_port(), ui_port=free_port(),
            workers=workers, api_workers=api_workers, startup_timeout=240.0, stop_grace=20.0,
            temporal_metrics_port=free_port())
        self.stack = Stack(self.settings, self.options)
        self.dev_key = ""

    @property
    def api_url(self) -> str:
        return self.options.api_url

    @property
    def temporal_address(self) -> str:
        return self.options.temporal_address

    def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.dev_key = self.stack._start()

    def stop(self) -> None:
        self.stack._stop_all()

    # --- parts -------------------------------------------------------------------------------

    def parts(self) -> dict[str, Child]:
        named = {"temporal": self.stack.temporal, "api": self.stack.api}
        named.update({worker.name: worker for worker in self.stack.workers})
        return {name: child for name, child in named.items() if child is not None}

    def labelled_pids(self) -> dict[str, int]:
        """label → pid for every running process of the stack (uvicorn's workers included)."""
        tree = _children_of()
        labelled = {}
        for name, child in self.parts().items():
            if child.pid is None or child.has_exited():
                continue
            if name == "api":
                labelled["api-supervisor"] = child.pid
                for pid in sorted(_descendants(child.pid, tree)):
                    labelled[f"api-{pid}"] = pid
            else:
                labelled[name] = child.pid
        return labelled

    def sample_rss(self) -> dict[str, int]:
        sample = {}
        for label, pid in self.labelled_pids().items():
            value = rss_bytes(pid)
            if value is not None:
                sample[label] = value
        return sample

    def temporal_memory(self) -> dict[str, int]:
        """What the Temporal server's memory is made of right now (see the module docstring)."""
        temporal = self.stack.temporal
        if temporal is None or temporal.pid is None or temporal.has_exited():
            return {}
        metrics_url = f"http://{self.options.client_host}:{self.options.temporal_metrics_port}/metrics"
        return {**proc_status_bytes(temporal.pid), **go_runtime_gauges(metrics_url)}

    def dead_parts(self) -> list[str]:
        return [name for name, child in self.parts().items() if child.has_exited()]

    # --- faults ------------------------------------------------------------------------------

    def stop_temporal(self) -> None:
        self.stack.temporal.stop()

    def start_temporal(self) -> None:
        self.stack.temporal.start()

    def worker_by_pid(self, pid: int) -> Child | None:
        return next((worker for worker in self.stack.workers if worker.pid == pid), None)

    def kill_worker(self, worker: Child) -> None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.finish_stop()  # reaps it and closes its log

    def respawn_worker(self, worker: Child) -> Child:
        """A fresh process in the dead worker's place (same name, same log file)."""
        replacement = self.stack._spawn(worker.name, worker.command)
        self.stack.workers[self.stack.workers.index(worker)] = replacement
        return replacement

    def kill_api(self) -> None:
        """SIGKILL to the API's whole process group: the supervisor and every uvicorn worker."""
        api = self.stack.api
        os.killpg(api.pid, signal.SIGKILL)
        api.finish_stop()

    def start_api(self) -> None:
        self.stack.api.start()

    def wait_api_healthy(self, limit: float = 120.0) -> float:
        """Seconds until /v1/health answers 200."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            try:
                if httpx.get(f"{self.api_url}/v1/health", timeout=3).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the API did not become healthy again")
