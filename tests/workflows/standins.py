"""Stand-ins for the activities, registered under the real activity names, for fast tests of the
real workflows: a scripted store that logs every call."""

from __future__ import annotations

import time
from collections import Counter

from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.payloads import (
    AuthoringInput,
    AuthoringResult,
    BeginRetrainInput,
    BeginRetrainResult,
    BufferedQuery,
    BufferedState,
    EmbedResult,
    FailureInput,
    FinalizeResult,
    FitInput,
    FitResult,
    PublishResult,
    RunRef,
)


class FakeStore:
    """Stand-ins for the store-facing activities, with a scripted buffer and a log of the calls."""

    def __init__(self, *, count: int = 0, first_at: float | None = None, busy_answers: int = 0,
                 busy_claims: int = 0, failing_fits: int = 0) -> None:
        self.count, self.first_at = count, first_at
        self.busy_answers, self.busy_claims, self.failing_fits = busy_answers, busy_claims, failing_fits
        self.calls: list[tuple[str, float]] = []
        self.versions = 0

    def called(self, name: str) -> int:
        return Counter(call for call, _ in self.calls)[name]

    def _log(self, name: str) -> None:
        self.calls.append((name, time.time()))

    @activity.defn(name="buffered_feedback")
    async def buffered_feedback(self, query: BufferedQuery) -> BufferedState:
        self._log("buffered_feedback")
        busy = self.busy_answers > 0
        self.busy_answers -= busy
        return BufferedState(True, self.count, self.first_at, busy)

    @activity.defn(name="begin_retrain")
    async def begin_retrain(self, inp: BeginRetrainInput) -> BeginRetrainResult:
        self._log("begin_retrain")
        if self.busy_claims > 0:
            self.busy_claims -= 1
            return BeginRetrainResult(inp.run_id, False, "busy")
        return BeginRetrainResult(inp.run_id, True)

    @activity.defn(name="mark_running")
    async def mark_running(self, ref: RunRef) -> FinalizeResult:
        self._log("mark_running")
        return FinalizeResult(ref.run_id, True)

    @activity.defn(name="embed_samples")
    async def embed_samples(self, inp: FitInput) -> EmbedResult:
        self._log("embed_samples")
        return EmbedResult(inp.run_id, self.count, 0, 1)

    @activity.defn(name="fit_model")
    async def fit_model(self, inp: FitInput) -> FitResult:
        self._log("fit_model")
        if self.failing_fits > 0:
            self.failing_fits -= 1
            raise ApplicationError("stand-in fit refused", type="invalid_configuration", non_retryable=True)
        return FitResult(inp.run_id, "0" * 64, self.count)

    @activity.defn(name="publish_version")
    async def publish_version(self, ref: RunRef) -> PublishResult:
        self._log("publish_version")
        self.versions += 1
        self.count, self.first_at = 0, None  # the new version's watermark covers the buffer
        return PublishResult(ref.run_id, self.versions, self.versions, True)

    @activity.defn(name="finalize_failure")
    async def finalize_failure(self, inp: FailureInput) -> FinalizeResult:
        self._log("finalize_failure")
        return FinalizeResult(inp.run_id, True)

    @activity.defn(name="discover_traits")
    async def discover_traits(self, inp: AuthoringInput) -> AuthoringResult:
        raise AssertionError("not used by the retrain loop")

    @activity.defn(name="synthesize_samples")
    async def synthesize_samples(self, inp: AuthoringInput) -> AuthoringResult:
        raise AssertionError("not used by the retrain loop")

    def activities(self, *, real_buffered=None) -> list:
        return [real_buffered or self.buffered_feedback, self.begin_retrain, self.mark_running,
                self.embed_samples, self.fit_model, self.publish_version, self.finalize_failure,
                self.discover_traits, self.synthesize_samples]
