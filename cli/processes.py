"""Child processes of `assay up`: each in its own process group, its output in a log file, and
bound to the life of `assay up` itself.

The binding is Linux's parent-death signal (`prctl(PR_SET_PDEATHSIG)`): when `assay up` ends in
any way, SIGKILL included, the kernel sends SIGKILL to each child. It fires on the death of the
*thread* that forked the child, so only a child started from the main thread gets it (one started
from another thread, which may end first, relies on the leftover sweep of the next start). It is
not inherited by a child's own children: the API's uvicorn server processes set it themselves
(`cli/api_process.py`). A crash of the manager is a crash of the stack: SIGKILL, not SIGTERM, so
nothing lingers on the ports for the next start (SQLite in WAL mode and Temporal's activity retries
are made for that).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

LOG_TAIL_LINES = 20
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# Looked up once, here: a preexec_fn runs between fork and exec and should do as little as it can.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent(parent_pid: int) -> None:
    """Asks the kernel for SIGKILL when the parent ends; ends at once if it already has."""
    if _prctl is None:
        return
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died before the prctl took effect: then nobody would ever send the signal.
    if os.getppid() != parent_pid:
        os._exit(1)


@dataclass
class Child:
    """One part of the stack (Temporal, a worker, the API) and where its output goes."""

    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    # Where this run's output starts in the (appended) log, so a tail never shows an older run.
    log_offset: int = 0
    stop_grace: float = 15.0
    _log_file: object = field(default=None, repr=False)

    def start(self) -> None:
        """Starts (or restarts) the process; from the main thread, bound to this process's life."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        log.write(f"--- {self.name} starting at {datetime.now(timezone.utc).isoformat()} ---\n".encode())
        log.flush()
        self.log_offset = log.tell()
        self._log_file = log
        parent = os.getpid()
        bind = threading.current_thread() is threading.main_thread()
        # A new session makes the child the leader of its own process group: a terminal's Ctrl-C
        # reaches only `assay up`, which then stops the parts in order, and killpg reaches the
        # grandchildren too (uvicorn's worker processes).
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=self.env, start_new_session=True,
            preexec_fn=(lambda: die_with_parent(parent)) if bind else None,
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exit_code(self) -> int | None:
        """None while running (or never started), else the exit status."""
        return self.process.poll() if self.process else None

    def has_exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def exit_description(self) -> str:
        code = self.exit_code()
        if code is not None and code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with status {code}"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def request_stop(self) -> None:
        """SIGTERM to the whole group; `finish_stop` escalates to SIGKILL after the grace period."""
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)

    def finish_stop(self) -> None:
        if self.process is None:
            return
        deadline = time.monotonic() + self.stop_grace
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        # Even when the leader has exited, a grandchild may linger in the group: kill what is left.
        _signal_group(self.process.pid, signal.SIGKILL)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self) -> None:
        self.request_stop()
        self.finish_stop()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_in_order(groups: list[list[Child]]) -> None:
    """Stops group after group; the children within one group stop in parallel."""
    for group in groups:
        for child in group:
            child.request_stop()
        for child in group:
            child.finish_stop()
