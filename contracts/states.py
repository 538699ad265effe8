"""The model/run state machine's vocabulary. Stored as their string values (``models.state``,
``operations.kind``, ``operations.status``) and sent through Temporal the same way, so a StrEnum
compares equal to the plain string a row or an old history holds.

The transitions themselves live in ``store/runs.py``.
"""

from __future__ import annotations

from enum import StrEnum


class ModelState(StrEnum):
    DRAFT = "draft"  # authored, never trained (or back from discovery/synthesis)
    BUSY = "busy"  # a run holds the model (``models.last_operation_id`` names it)
    READY = "ready"  # has an active version and scores
    FAILED = "failed"  # the first training failed; editable, trainable again
    ARCHIVED = "archived"  # terminal: readable, never changed again


class OperationKind(StrEnum):
    TRAIN = "train"
    RETUNE = "retune"
    RETRAIN = "retrain_buffered"  # the background retrain loop's run
    DISCOVER = "discover"
    SYNTHESIZE = "synthesize"
    # Not an operation of the model (no ``operations`` row, the model stays as it is): the
    # ``OperationKind`` search attribute of a ScoreJobWorkflow, so jobs are findable in the Web UI.
    SCORE_JOB = "score_job"
    EVALUATION = "evaluation"  # likewise: an EvaluationWorkflow (SPEC §9.5)


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Operations that fit and publish a version; the others change a draft's definition.
TRAINING_KINDS = frozenset({OperationKind.TRAIN, OperationKind.RETUNE, OperationKind.RETRAIN})
DRAFT_KINDS = frozenset({OperationKind.DISCOVER, OperationKind.SYNTHESIZE})

OPEN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
# A run with the same inputs in one of these answers 409 run_exists instead of starting again.
REUSABLE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED)

# The states a model may be archived from: no run holds it.
ARCHIVABLE_STATES = (ModelState.DRAFT, ModelState.READY, ModelState.FAILED)

# Where each operation may start from.
TRAIN_FROM = (ModelState.DRAFT, ModelState.FAILED)
RETUNE_FROM = (ModelState.READY,)
DRAFT_ONLY = (ModelState.DRAFT,)


class WebhookEvent(StrEnum):
    """The event types a webhook can subscribe to (SPEC §9.4); the payload's ``type``."""

    RUN_SUCCEEDED = "run.succeeded"
    RUN_FAILED = "run.failed"
    RUN_CANCELLED = "run.cancelled"
    VERSION_ACTIVATED = "version.activated"
    SCORE_JOB_SUCCEEDED = "score_job.succeeded"
    SCORE_JOB_FAILED = "score_job.failed"


# The event a run's closing status announces.
RUN_EVENT_FOR_STATUS = {
    RunStatus.SUCCEEDED: WebhookEvent.RUN_SUCCEEDED,
    RunStatus.FAILED: WebhookEvent.RUN_FAILED,
    RunStatus.CANCELLED: WebhookEvent.RUN_CANCELLED,
}
# The event a score job's closing state announces (a cancelled job announces none).
SCORE_JOB_EVENT_FOR_STATE = {
    RunStatus.SUCCEEDED: WebhookEvent.SCORE_JOB_SUCCEEDED,
    RunStatus.FAILED: WebhookEvent.SCORE_JOB_FAILED,
}
