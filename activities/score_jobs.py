"""The steps of a score job (SPEC §9.2): start, score one chunk, finish with the summary.

A chunk reads its items by reference (job id, first seq, count), scores them with the job's pinned
version through the same engine call as ``POST …/score`` (so each result is the same card, byte for
byte, apart from ``request_id``), and writes every result in one transaction guarded by a marker
row: a retried chunk writes nothing twice (``store.score_jobs.write_chunk``).

Decisions (SPEC is silent):
- Identical texts are scored once per worker process: cards are kept in an LRU keyed by version,
  traits, depth and the text's SHA-256 (``CARD_CACHE_ENTRIES``). A card is a pure function of those,
  so a cached one is the card. Only hashes and cards are kept, never text (ZDR holds).
- The chunk's ``metadata.request_id`` is the job id: a result answers the job, not a request.
- Cancellation: the chunk heartbeats every ``TICK_SECONDS``; on cancellation the scoring thread
  stops before its next item and nothing of the chunk is written. The write itself is refused
  once the job is no longer ``running`` (cancelled through the API a moment before).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import OrderedDict

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.webhooks import publish, score_job_events
from contracts.payloads import (
    FinishScoreJobInput,
    FinishScoreJobResult,
    ScoreChunkInput,
    ScoreChunkResult,
    ScoreJobRef,
    ScoreJobStarted,
)
from contracts.states import RunStatus
from engine.card import response_json, with_metadata
from engine.embedders import get_embedder
from engine.job_summary import JobSummary
from engine.scorer import Scorer, UnknownTrait
from engine.snapshot import EmbedderMismatch, Snapshot
from store import score_jobs as job_store
from store.tables import Version

TICK_SECONDS = 0.25
CARD_CACHE_ENTRIES = 20_000
SCORERS_KEPT = 4
# Faults of the job itself: retrying cannot help.
JOB_FAULTS = ("job_gone", "version_gone", "embedder_mismatch", "unknown_trait")


def job_fault(code: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=code, non_retryable=True)


class _Stopped(Exception):
    """The chunk was cancelled while it scored."""


class ScoreJobActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps
        self._lock = threading.Lock()
        self._scorers: OrderedDict[int, Scorer] = OrderedDict()
        self._cards: OrderedDict[tuple, str] = OrderedDict()  # key → card JSON without its closing brace

    @activity.defn(name="start_score_job")
    def start_job(self, ref: ScoreJobRef) -> ScoreJobStarted:
        with self.deps.transaction() as session:
            job_store.mark_running(session, ref.job_id)
            job = job_store.job_by_id(session, ref.job_id)
            if job is None:
                raise job_fault("job_gone", "The job no longer exists.")
            return ScoreJobStarted(ref.job_id, job.state == RunStatus.RUNNING, job.state)

    @activity.defn(name="score_job_chunk")
    async def score_chunk(self, inp: ScoreChunkInput) -> ScoreChunkResult:
        stop = threading.Event()
        done = [0]
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.deps.cpu_executor, self._score_chunk, inp, stop, done)
        try:
            while True:
                finished, _ = await asyncio.wait({future}, timeout=TICK_SECONDS)
                activity.heartbeat({"chunk": inp.chunk_no, "done": done[0], "count": inp.count})
                if finished:
                    return future.result()
        except asyncio.CancelledError:
            stop.set()  # the thread stops before its next item and writes nothing
            future.add_done_callback(lambda stopped: stopped.exception())  # its _Stopped is expected
            raise

    def _score_chunk(self, inp: ScoreChunkInput, stop: threading.Event, done: list[int]) -> ScoreChunkResult:
        with self.deps.transaction() as session:
            job = job_store.job_by_id(session, inp.job_id)
            if job is None:
                raise job_fault("job_gone", "The job no longer exists.")
            earlier = job_store.written_chunk(session, job.id, inp.chunk_no)
            if earlier is not None:
                return ScoreChunkResult(inp.job_id, inp.chunk_no, earlier.scored, earlier.failed, written=False)
            items = job_store.chunk_items(session, job.id, inp.first_seq, inp.count)
            job_pk, version_id, version_no = job.id, job.version_id, job.version_no
            traits, max_depth, zdr, job_id = job.traits, job.max_depth, job.zero_data_retention, job.job_id
        scorer = self._scorer(version_id)
        metadata_tail = ',"metadata":' + response_json(
            with_metadata({}, job_id, f"v{version_no}", [])["metadata"]) + "}"
        outcomes = []
        for item in items:
            if stop.is_set():
                raise _Stopped()
            if item.error is not None or item.content is None:
                outcomes.append(job_store.ItemOutcome(item.seq, None, item.error or _not_scored()))
            else:
                body = self._card_body(scorer, version_id, traits, max_depth, item.content)
                outcomes.append(job_store.ItemOutcome(item.seq, body + metadata_tail, None))
            done[0] += 1
        if stop.is_set():
            raise _Stopped()
        try:
            with self.deps.transaction() as session:
                written = job_store.write_chunk(session, job_pk, inp.chunk_no, outcomes, drop_content=zdr)
        except job_store.JobClosed:
            written = job_store.ChunkWrite(False, 0, 0)
        return ScoreChunkResult(inp.job_id, inp.chunk_no, written.scored, written.failed, written.written)

    def _scorer(self, version_id: int) -> Scorer:
        with self._lock:
            scorer = self._scorers.get(version_id)
            if scorer is not None:
                self._scorers.move_to_end(version_id)
                return scorer
        with self.deps.transaction() as session:
            row = session.get(Version, version_id)
            snapshot_json = row.snapshot if row is not None else None
        if snapshot_json is None:
            raise job_fault("version_gone", "The job's pinned version no longer exists.")
        try:
            scorer = Scorer(Snapshot.from_json(snapshot_json), get_embedder(self.deps.settings.embedder))
        except EmbedderMismatch:
            raise job_fault("embedder_mismatch", "The pinned version was trained with another embedder than "
                                                 "the workers run.") from None
        with self._lock:
            self._scorers[version_id] = scorer
            while len(self._scorers) > SCORERS_KEPT:
                self._scorers.popitem(last=False)
        return scorer

    def _card_body(self, scorer: Scorer, version_id: int, traits: list[str] | None, max_depth: int,
                   text: str) -> str:
        key = (version_id, tuple(traits) if traits else None, max_depth,
               hashlib.sha256(text.encode("utf-8")).digest())
        with self._lock:
            body = self._cards.get(key)
            if body is not None:
                self._cards.move_to_end(key)
                return body
        try:
            card = scorer.score(text, traits=traits, max_depth=max_depth)
        except UnknownTrait as exc:
            raise job_fault("unknown_trait", f"Unknown traits: {', '.join(exc.names)}") from None
        body = response_json(card)[:-1]  # the metadata block is appended per job
        with self._lock:
            self._cards[key] = body
            while len(self._cards) > CARD_CACHE_ENTRIES:
                self._cards.popitem(last=False)
        return body

    @activity.defn(name="finish_score_job")
    def finish_job(self, inp: FinishScoreJobInput) -> FinishScoreJobResult:
        summary, error = None, None
        with self.deps.transaction() as session:
            job = job_store.job_by_id(session, inp.job_id)
            if job is None:
                return FinishScoreJobResult(inp.job_id, False)
            if inp.state == RunStatus.SUCCEEDED:
                summary = _summarize(session, job.id)
            elif inp.error_code:
                error = {"code": inp.error_code, "message": inp.error_message}
            changed = job_store.finish(session, inp.job_id, inp.state, summary=summary, error=error)
            events = score_job_events(session, inp.job_id)
        publish(self.deps, events)  # after the commit; a retry publishes the same event ids again
        return FinishScoreJobResult(inp.job_id, changed)


def _summarize(session, job_pk: int) -> dict:
    summary = JobSummary()
    for _seq, _item_id, result, _error in job_store.iter_results(session, job_pk):
        if result is not None:
            summary.add(json.loads(result))
    return summary.result()


def _not_scored() -> dict:
    return {"code": "internal_error", "message": "This item has no content to score.", "details": {}}
