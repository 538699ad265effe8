"""What `assay up` does about its parts beyond starting and stopping them: restarting one that
dies (with backoff, up to a crash-loop limit), and recording their pids so that the next start can
stop what a crashed run left behind.

Recognising leftovers never trusts a pid alone. A recorded process is ours only if the same pid is
still the same process: same boot, same start time (clock ticks since boot, from /proc) and same
command line. Processes it started (uvicorn's server processes) are ours when they sit in the
session of a recorded leader, started no earlier than it, and carry this data dir in their
environment (`ASSAY_DATA_DIR`, which `assay up` gives every child). Anything else is left alone.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

RECORD_FILE = "up.pids"
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
# Leftovers stop in the order a running stack does: API, workers, Temporal.
STOP_ORDER = ("api", "worker", "temporal")


# --- restarts ----------------------------------------------------------------------------------

@dataclass
class RestartPolicy:
    """systemd's StartLimitBurst/StartLimitIntervalSec with an exponential delay before each restart.

    A part may be restarted `burst` times within `window` seconds; dying once more within the window
    is a crash loop. The n-th restart inside the window waits `first_delay * 2**(n-1)` seconds,
    at most `max_delay`."""

    burst: int = 5
    window: float = 120.0
    first_delay: float = 1.0
    max_delay: float = 30.0

    def tracker(self) -> RestartTracker:
        return RestartTracker(self)


class RestartTracker:
    """The restart history of one part."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self.restarts: deque[float] = deque()

    def delay_after_death(self, now: float) -> float | None:
        """Seconds to wait before restarting, or None when the part is in a crash loop."""
        while self.restarts and self.restarts[0] <= now - self.policy.window:
            self.restarts.popleft()
        if len(self.restarts) >= self.policy.burst:
            return None
        return min(self.policy.first_delay * 2 ** len(self.restarts), self.policy.max_delay)

    def restarted(self, now: float) -> None:
        self.restarts.append(now)

    @property
    def recent(self) -> int:
        return len(self.restarts)


# --- process identity --------------------------------------------------------------------------

@dataclass(frozen=True)
class ProcessRecord:
    """Enough about one started process to tell it apart from a later one with the same pid."""

    name: str
    pid: int
    start_ticks: int
    cmdline: list[str]
    boot_id: str

    def role(self) -> int:
        base = self.name.split("-", 1)[0]
        return STOP_ORDER.index(base) if base in STOP_ORDER else len(STOP_ORDER)


@dataclass(frozen=True)
class _ProcStat:
    pid: int
    session: int
    start_ticks: int
    zombie: bool


def _stat(pid: int) -> _ProcStat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text.rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); session is field 6, starttime field 22.
    return _ProcStat(pid=pid, session=int(fields[3]), start_ticks=int(fields[19]), zombie=fields[0] in "ZX")


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def _boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def identify(name: str, pid: int) -> ProcessRecord | None:
    """The record of a running process, or None when it is gone."""
    stat, cmdline = _stat(pid), _cmdline(pid)
    if stat is None or cmdline is None or stat.zombie:
        return None
    return ProcessRecord(name=name, pid=pid, start_ticks=stat.start_ticks, cmdline=cmdline, boot_id=_boot_id())


def still_running(record: ProcessRecord) -> bool:
    """True when the recorded process itself (not a later one that reuses its pid) is alive."""
    now = identify(record.name, record.pid)
    return now is not None and now == record


# --- the record file ---------------------------------------------------------------------------

class PidRecord:
    """`<data dir>/up.pids`: the processes a running `assay up` has started, rewritten on each change."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / RECORD_FILE

    def write(self, records: list[ProcessRecord]) -> None:
        staging = self.path.with_suffix(".tmp")
        staging.write_text(json.dumps([asdict(record) for record in records], indent=1))
        os.replace(staging, self.path)  # a crash mid-write never leaves half a record

    def read(self) -> list[ProcessRecord]:
        try:
            entries = json.loads(self.path.read_text())
            return [ProcessRecord(**entry) for entry in entries]
        except (OSError, ValueError, TypeError):
            return []

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


# --- leftovers ---------------------------------------------------------------------------------

def _carries_data_dir(pid: int, data_dir: Path) -> bool:
    marker = f"ASSAY_DATA_DIR={data_dir}".encode()
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, or another user's process
        return False


def find_leftovers(data_dir: Path) -> list[ProcessRecord]:
    """The recorded processes of an earlier `assay up` on this data dir that still run, and the
    processes they started (even when they outlived their recorded parent); in stopping order."""
    recorded = [record for record in PidRecord(data_dir).read() if record.boot_id == _boot_id()]
    found = {record.pid: record for record in recorded if still_running(record)}
    # A session whose recorded leader has gone may still hold its children (the kernel does not
    # reuse a pid while it names a session); one whose leader pid now runs something else is not ours.
    by_session = {record.pid: record for record in recorded
                  if record.pid in found or identify(record.name, record.pid) is None}
    if not by_session:
        return []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in found:
            continue
        stat = _stat(int(entry))
        leader = by_session.get(stat.session) if stat else None
        if (leader is None or stat.zombie or stat.start_ticks < leader.start_ticks
                or not _carries_data_dir(stat.pid, data_dir)):
            continue
        member = identify(leader.name, stat.pid)
        if member is not None:
            found[stat.pid] = member
    return sorted(found.values(), key=lambda record: (record.role(), record.pid))


def stop_leftovers(data_dir: Path, grace: float) -> list[ProcessRecord]:
    """Stops what `find_leftovers` finds: SIGTERM, then SIGKILL for whatever outlives `grace`.
    Returns what was stopped."""
    leftovers = find_leftovers(data_dir)
    for role in sorted({record.role() for record in leftovers}):
        group = [record for record in leftovers if record.role() == role]
        _signal_each(group, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(still_running(record) for record in group) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_each(group, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while any(still_running(record) for record in leftovers) and time.monotonic() < deadline:
        time.sleep(0.1)
    return leftovers


def _signal_each(records: list[ProcessRecord], sig: int) -> None:
    for record in records:
        # Checked again right before each signal: the pid may have been freed and reused meanwhile.
        if still_running(record):
            try:
                os.kill(record.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
