"""The dataclasses that travel through Temporal: one in and one out for every workflow and activity.

Only references (ids, handles, run ids) and small numbers travel; samples and fitted snapshots stay
in the database and are read or written by the activities. Field types are part of the recorded
histories: a StrEnum field is sent as its string value, exactly like the plain string it replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.progress import Progress, running_fraction
from contracts.states import OperationKind, RunStatus

# Signal-with-start names its signal as a string (the SDK has no method-reference form for it), so
# the retrain loop declares its signal under this name and the API sends it by this name.
SAMPLES_ADDED_SIGNAL = "samples_added"


@dataclass
class OperationInput:
    """What the API (or the retrain loop) hands to a train, discover or synthesize run."""

    run_id: str
    model_id: int
    handle: str
    kind: OperationKind
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
    kind: OperationKind = OperationKind.TRAIN


@dataclass
class FitInput:
    run_id: str
    model_id: int
    handle: str
    kind: OperationKind
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
    kind: OperationKind
    code: str
    message: str
    status: RunStatus = RunStatus.FAILED  # or CANCELLED


@dataclass
class FinalizeResult:
    run_id: str
    changed: bool  # False when the run had already been closed (retry, or reconciled by the API)
    status: str = ""  # the run's status in the store afterwards ("" from workers before it was sent)


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


# Webhook delivery (SPEC §9.4). The production schedule is the default so old histories and tests
# that shorten it agree on the field; the secret never travels (the activity reads it from the store).
PRODUCTION_RETRY_DELAYS_S = (1.0, 5.0, 30.0, 120.0, 600.0, 3600.0)
PRODUCTION_GIVE_UP_AFTER_S = 86400.0


@dataclass
class DeliveryInput:
    webhook_id: str
    event_id: str  # also the webhook-id header, the same on every attempt
    event: str
    body: str  # the JSON payload, fixed at publish time so every attempt sends the same bytes
    # Seconds to wait after each failed attempt; the last one repeats until give_up_after_s.
    retry_delays_s: list[float] = field(default_factory=lambda: list(PRODUCTION_RETRY_DELAYS_S))
    give_up_after_s: float = PRODUCTION_GIVE_UP_AFTER_S
    attempt_timeout_s: float = 10.0


@dataclass
class DeliveryAttempt:
    webhook_id: str
    event_id: str
    event: str
    body: str
    attempt: int
    timeout_s: float = 10.0


@dataclass
class AttemptOutcome:
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    webhook_gone: bool = False


@dataclass
class DeliveryResult:
    webhook_id: str
    event_id: str
    status: str  # delivered, gave_up, webhook_deleted
    attempts: int
# --- Score jobs (SPEC §9.2): items and results stay in the database; only references travel. ---

@dataclass
class ScoreJobInput:
    """A ScoreJobWorkflow run; carried (with the counts so far) across continue-as-new."""

    job_id: str
    handle: str
    total: int
    chunk_size: int = 250
    chunks_in_flight: int = 4
    history_limit: int = 1500  # events; past it the run continues as new (see docs/decisions.md)
    next_chunk: int = 0  # chunks before this one are written
    scored: int = 0
    failed: int = 0
    started: bool = False  # start_score_job has run (a continued run skips it)


@dataclass
class ScoreJobRef:
    job_id: str


@dataclass
class ScoreJobStarted:
    job_id: str
    running: bool  # False: the job was closed (cancelled) before a worker picked it up
    state: str = "running"


@dataclass
class ScoreChunkInput:
    job_id: str
    chunk_no: int
    first_seq: int
    count: int


@dataclass
class ScoreChunkResult:
    job_id: str
    chunk_no: int
    scored: int
    failed: int
    written: bool  # False when an earlier attempt had written this chunk already


@dataclass
class FinishScoreJobInput:
    job_id: str
    state: RunStatus
    error_code: str = ""
    error_message: str = ""


@dataclass
class FinishScoreJobResult:
    job_id: str
    changed: bool  # False when the job had been closed already (cancelled through the API, a retry)


@dataclass
class ScoreJobResult:
    job_id: str
    state: str
    scored: int = 0
    failed: int = 0


@dataclass
class ScoreJobProgress:
    """The ``progress`` query of a ScoreJobWorkflow: items whose chunk is written."""

    done: int = 0
    total: int = 0
    state: str = "queued"


# --- Evaluations (SPEC §9.5): one score job per version, then the report; only references travel. ---

@dataclass
class EvaluationInput:
    evaluation_id: str
    handle: str
    job_ids: list[str]  # one ScoreJobWorkflow child per version, workflow id = job id
    total: int
    chunk_size: int = 250
    chunks_in_flight: int = 4


@dataclass
class EvaluationRef:
    evaluation_id: str


@dataclass
class EvaluationStarted:
    evaluation_id: str
    running: bool  # False: closed before a worker picked it up


@dataclass
class FinishEvaluationInput:
    evaluation_id: str
    state: RunStatus
    error_code: str = ""
    error_message: str = ""


@dataclass
class FinishEvaluationResult:
    evaluation_id: str
    changed: bool


@dataclass
class EvaluationResult:
    evaluation_id: str
    state: str
