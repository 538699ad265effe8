"""The dataclasses that travel through Temporal: one in and one out for every workflow and activity.

Only references (ids, handles, run ids) and small numbers travel; samples and fitted snapshots stay
in the database and are read or written by the activities.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Operation kinds as stored in operations.kind and shown in last_operation.kind (SPEC §1.5).
TRAIN = "train"
RETUNE = "retune"
RETRAIN = "retrain_buffered"
DISCOVER = "discover"
SYNTHESIZE = "synthesize"
TRAINING_KINDS = (TRAIN, RETUNE, RETRAIN)
DRAFT_KINDS = (DISCOVER, SYNTHESIZE)


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


@dataclass
class OperationInput:
    """What the API (or the retrain loop) hands to a train, discover or synthesize run."""

    run_id: str
    model_id: int
    handle: str
    kind: str
    effort: str = "high"
    synth_type: str | None = None


@dataclass
class OperationResult:
    run_id: str
    status: str
    version_no: int | None = None
    activated: bool = False
    added: int = 0  # traits attached by discovery, samples written by synthesis


@dataclass
class RunRef:
    """Activities that only need to know which run they belong to."""

    run_id: str
    model_id: int
    kind: str = TRAIN


@dataclass
class FitInput:
    run_id: str
    model_id: int
    handle: str
    kind: str
    effort: str
    embedded: int = 0  # texts embed_samples embedded for this run: progress counts them as done


@dataclass
class EmbedResult:
    run_id: str
    sample_count: int
    embedded: int  # texts that were not in the embedding cache yet
    search_units: int  # configuration evaluations the fit will report after them

    def progress(self) -> Progress:
        """Where the run stands when embedding is done; the fit's progress goes on from here."""
        total = self.embedded + self.search_units
        return Progress("search", self.embedded, total, running_fraction(self.embedded, total),
                        "running · searching configurations")


@dataclass
class FitResult:
    run_id: str
    param_hash: str
    sample_count: int


@dataclass
class PublishResult:
    run_id: str
    version_id: int
    version_no: int
    activated: bool


@dataclass
class FailureInput:
    run_id: str
    model_id: int
    kind: str
    code: str
    message: str
    status: str = "failed"  # or "cancelled"


@dataclass
class FinalizeResult:
    run_id: str
    changed: bool  # False when the run had already been closed (retry, or reconciled by the API)


@dataclass
class AuthoringInput:
    run_id: str
    model_id: int
    handle: str
    effort: str
    synth_type: str | None = None


@dataclass
class AuthoringResult:
    run_id: str
    added: int


@dataclass
class RetrainInput:
    """State of the per-model background retrain loop; carried across continue-as-new."""

    model_id: int
    handle: str
    min_samples: int = 20
    delay_seconds: float = 600.0
    retrains_done: int = 0
    # Waits of the loop; the defaults are the production values, tests shorten them.
    busy_recheck_seconds: float = 15.0
    idle_limit_seconds: float = 86400.0
    history_limit: int = 80  # events; past it the loop continues as new


@dataclass
class SamplesAdded:
    count: int = 1


@dataclass
class BufferedQuery:
    model_id: int


@dataclass
class BufferedState:
    eligible: bool  # model exists, not archived, not under ZDR, has an active version
    count: int = 0
    first_at: float | None = None  # epoch seconds of the oldest buffered feedback sample
    busy: bool = False


@dataclass
class BeginRetrainInput:
    run_id: str
    model_id: int


@dataclass
class BeginRetrainResult:
    run_id: str
    began: bool
    reason: str = ""


@dataclass
class ProgressReport:
    """Signal payload of ``report_progress``. Activities no longer send it (their progress rides on
    heartbeats); the handler stays because histories of older runs contain these signals."""

    progress: Progress = field(default_factory=Progress)
