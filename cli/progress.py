"""A terminal progress bar fed by `last_operation.progress` (`{phase, done, total, fraction, message}`).

On a terminal the bar is redrawn in place; when the output is a pipe or a file, a line is written only
when the phase changes or the fraction has moved by a tenth, so logs stay readable.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from contracts.states import OPEN_STATUSES, ModelState

BAR_CELLS = 30
LOG_STEP = 0.1  # in a log, a new line at most every tenth of the way


def render_bar(kind: str, progress: dict[str, Any] | None) -> str:
    progress = progress or {}
    fraction = progress.get("fraction")
    if not isinstance(fraction, (int, float)):
        done, total = progress.get("done"), progress.get("total")
        fraction = done / total if isinstance(done, int) and isinstance(total, int) and total > 0 else 0.0
    fraction = min(1.0, max(0.0, float(fraction)))
    filled = round(fraction * BAR_CELLS)
    bar = "█" * filled + "░" * (BAR_CELLS - filled)
    phase = progress.get("phase") or "queued"
    message = progress.get("message") or ""
    text = f"{kind:<8} [{bar}] {fraction * 100:3.0f}%  {phase}"
    return f"{text}: {message}" if message else text


class ProgressBar:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last_line = ""
        self.last_key: tuple | None = None
        self.last_fraction = -1.0
        self.shown = False  # a run is on screen and has not been closed yet

    def update(self, model: dict[str, Any]) -> None:
        """Called with every polled ModelDetail, busy or settled."""
        operation = model.get("last_operation") or {}
        if model.get("state") != ModelState.BUSY or operation.get("status") not in OPEN_STATUSES:
            self._close(operation)
            return
        progress = operation.get("progress")
        line = render_bar(operation.get("kind") or "run", progress)
        self.shown = True
        if self.live:
            padding = " " * max(0, len(self.last_line) - len(line))
            self.stream.write("\r" + line + padding)
            self.stream.flush()
            self.last_line = line
            return
        progress = progress or {}
        key = (operation.get("kind"), progress.get("phase"))
        fraction = float(progress.get("fraction") or 0.0)
        if key != self.last_key or fraction - self.last_fraction >= LOG_STEP:
            print(line, file=self.stream, flush=True)
            self.last_key, self.last_fraction = key, fraction

    def _close(self, operation: dict[str, Any]) -> None:
        """A run this bar was showing has ended: draw it complete, or stopped where it was."""
        if not self.shown or operation.get("kind") is None:
            return
        self.shown, self.last_key, self.last_fraction = False, None, -1.0
        if operation.get("status") == "succeeded":
            line = render_bar(operation["kind"], {"phase": "done", "fraction": 1.0})
        else:
            line = f"{operation['kind']:<8} {operation.get('status', 'ended')}"
        if self.live:
            padding = " " * max(0, len(self.last_line) - len(line))
            self.stream.write("\r" + line + padding)
            self.last_line = line
        else:
            print(line, file=self.stream, flush=True)

    def finish(self) -> None:
        """Ends the in-place line so what follows starts on a fresh one."""
        if self.live and self.last_line:
            self.stream.write("\n")
            self.stream.flush()
        self.last_line = ""
