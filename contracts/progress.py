"""A run's progress as the workflow's query answers it and the running activity heartbeats it."""

from __future__ import annotations

from dataclasses import dataclass


# Phases of a run in the order they happen. The API shows an activity's heartbeat progress only when
# it is not behind the phase the workflow reports (a heartbeat read just before a phase change is).
PHASES = ("queued", "discover", "synthesize", "embed", "search", "publish", "done")


# A running step's fraction stops here: 1.0 means the run has finished.
RUNNING_CEILING = 0.99


def phase_rank(phase: str) -> int:
    return PHASES.index(phase) if phase in PHASES else -1


def running_fraction(done: int, total: int) -> float:
    return round(min(RUNNING_CEILING, done / total), 4) if total else 0.0


@dataclass
class Progress:
    phase: str = "queued"
    done: int = 0
    total: int = 0
    fraction: float = 0.0
    message: str = ""

    def as_dict(self) -> dict:
        return {"phase": self.phase, "done": self.done, "total": self.total,
                "fraction": self.fraction, "message": self.message}

    @classmethod
    def from_dict(cls, value: dict) -> Progress:
        return cls(str(value.get("phase", "queued")), int(value.get("done", 0)), int(value.get("total", 0)),
                   float(value.get("fraction", 0.0)), str(value.get("message", "")))

    def refined_by(self, heartbeat: Progress | None) -> Progress:
        """The workflow's phase-level progress, or the running activity's finer one unless that is
        behind it (read just before the workflow moved on, or from a retried attempt)."""
        if heartbeat is None or (phase_rank(heartbeat.phase), heartbeat.fraction) < \
                (phase_rank(self.phase), self.fraction):
            return self
        return heartbeat
