"""The scoring hot path: which version serves a request, and a per-process cache of decoded snapshots.

No Temporal call and no write happen on the scoring path itself; feedback (below) writes samples
and wakes the retrain workflow. The embedder is loaded once per process and every call
into it (and the snapshot decode) runs in a worker thread, never on the event loop.

Decisions (SPEC is silent):
- The cache is bounded by the bytes of its decoded arrays (``ASSAY_SCORER_CACHE_MB``, default 128
  per API process) and by ``SCORER_CACHE_ENTRIES`` versions, least recently used out first. A count
  alone does not bound memory: a version's support set grows with every retrain on feedback. The
  version just loaded is always kept, even when it alone exceeds the budget. Versions are
  immutable, so an entry never goes stale; it is keyed by version row id.
- When a model's new active version is loaded, the version that was active before is dropped at
  once instead of ageing out: under steady feedback a model publishes a version every few minutes,
  and superseded versions would otherwise fill the budget. A pinned request for it loads it again.
- A pinned handle (``handle@v3`` / ``handle@stable``) serves that version even on a model whose
  active version is another one; ``@vN`` is read as a version number, anything else as a tag. An
  unknown number or tag is ``404 not_found``.
- A snapshot trained with another embedder than the one this server loaded is refused with
  ``409 model_not_ready`` and ``details.reason = "embedder_mismatch"`` (never a wrong score).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiError, model_archived, not_found, validation_error
from api.inline_turns import inline_turns
from api.lookup_cache import CachedModel
from api.observability import SCORER_CACHE_BYTES, SCORER_CACHE_VERSIONS
from api.run_control import signal_retrain
from contracts.states import ModelState
from domain.handles import Handle, version_number
from domain.labels import InvalidLabel, parse_quality
from engine.embedders import get_embedder
from engine.scorer import Scorer, UnknownTrait
from engine.snapshot import EmbedderMismatch, Snapshot
from store import catalog
from store import versions as version_store
from store.tables import Model, Version

SCORER_CACHE_ENTRIES = 256
DEFAULT_SCORER_CACHE_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class ServedVersion:
    """A decoded, ready-to-score version."""

    version_id: int
    version_no: int
    model_id: int
    scorer: Scorer

    @property
    def label(self) -> str:
        return f"v{self.version_no}"


class ScorerCache:
    """Thread-safe LRU of decoded snapshots keyed by version id, bounded in bytes and in entries."""

    def __init__(self, max_bytes: int = DEFAULT_SCORER_CACHE_BYTES, max_entries: int = SCORER_CACHE_ENTRIES) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._entries: OrderedDict[int, ServedVersion] = OrderedDict()
        self._active: dict[int, int] = {}  # model id → the version id last loaded as its active one
        self._bytes = 0
        self._lock = threading.Lock()

    def configure(self, *, max_bytes: int, max_entries: int = SCORER_CACHE_ENTRIES) -> None:
        with self._lock:
            self.max_bytes, self.max_entries = max_bytes, max_entries
            self._evict()

    def get(self, version_id: int) -> ServedVersion | None:
        with self._lock:
            entry = self._entries.get(version_id)
            if entry is not None:
                self._entries.move_to_end(version_id)
            return entry

    def put(self, entry: ServedVersion, *, active: bool = False) -> None:
        """Cache ``entry``; ``active`` when it was loaded as its model's active version."""
        with self._lock:
            if active:
                superseded = self._active.get(entry.model_id)
                self._active[entry.model_id] = entry.version_id
                if superseded is not None and superseded != entry.version_id:
                    self._drop(superseded)
            self._drop(entry.version_id)
            self._entries[entry.version_id] = entry
            self._bytes += entry.scorer.nbytes
            self._evict()

    def _drop(self, version_id: int) -> None:
        entry = self._entries.pop(version_id, None)
        if entry is not None:
            self._bytes -= entry.scorer.nbytes

    def _evict(self) -> None:
        while len(self._entries) > 1 and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.scorer.nbytes
            if self._active.get(evicted.model_id) == evicted.version_id:
                del self._active[evicted.model_id]
        SCORER_CACHE_BYTES.set(self._bytes)
        SCORER_CACHE_VERSIONS.set(len(self._entries))

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


_cache = ScorerCache()

# Embeddings in flight in this process (ASSAY_EMBEDDING_SLOTS). More than the cores only share them,
# so every embedding of a burst finishes late, where a FIFO queue would let the first ones finish on
# time; None leaves anyio's default pool (bench/results/open_loop_findings.md says why).
_embedding_slots: anyio.CapacityLimiter | None = None


def configure_embedding_slots(slots: int | None) -> None:
    global _embedding_slots
    _embedding_slots = None if slots is None else anyio.CapacityLimiter(slots)


def embedding_slots() -> anyio.CapacityLimiter | None:
    return _embedding_slots


# Content this short is scored on the event loop (ASSAY_INLINE_SCORE_CHARS): docs/decisions.md
# "Short content is scored on the event loop".
_inline_score_chars = 0


def configure_inline_scoring(max_chars: int) -> None:
    global _inline_score_chars
    _inline_score_chars = max_chars


def scores_on_event_loop(text: str) -> bool:
    return len(text) <= _inline_score_chars


def scorer_cache() -> ScorerCache:
    return _cache


async def load_embedder(name: str):
    """The process-wide embedder; the first call loads the model off the event loop."""
    return await anyio.to_thread.run_sync(get_embedder, name)


def model_not_ready(model: Model | CachedModel) -> ApiError:
    return ApiError(409, "model_not_ready", f"Model '{model.handle}' has no trained version to score with yet.",
                    {"state": model.state})


def require_scorable(model: Model | CachedModel, handle: Handle) -> None:
    if model.state == ModelState.ARCHIVED:
        raise model_archived()
    if handle.pin is None and model.active_version_id is None:
        raise model_not_ready(model)


async def _version_row(session: AsyncSession, model: Model | CachedModel, handle: Handle) -> Version:
    if handle.pin is None:
        row = await version_store.get_by_id(session, model.active_version_id)
        if row is None and isinstance(model, CachedModel):
            # A row cached up to a second ago may name a version pruned since another process
            # activated a newer one: ask the database which version is active now.
            fresh = await catalog.model_by_handle(session, model.handle)
            if fresh is None:
                raise not_found("model")
            require_scorable(fresh, handle)
            model = fresh
            row = await version_store.get_by_id(session, model.active_version_id)
    else:
        number = version_number(handle.pin)
        row = (await version_store.get_by_tag(session, model.id, handle.pin) if number is None
               else await version_store.get_by_number(session, model.id, number))
        if row is None:
            raise not_found("version")
    if row is None or row.model_id != model.id:
        raise model_not_ready(model)
    return row


def _decode(row: Version, embedder) -> ServedVersion:
    return ServedVersion(row.id, row.version_no, row.model_id, Scorer(Snapshot.from_json(row.snapshot), embedder))


async def served_version(session: AsyncSession, model: Model | CachedModel, handle: Handle, embedder_name: str) -> ServedVersion:
    """The decoded version that answers for ``handle`` (active, or the pinned one)."""
    require_scorable(model, handle)
    if handle.pin is None:
        cached = _cache.get(model.active_version_id)
        if cached is not None:
            return cached
    row = await _version_row(session, model, handle)
    cached = _cache.get(row.id)
    if cached is not None:
        return cached
    embedder = await load_embedder(embedder_name)
    try:
        entry = await anyio.to_thread.run_sync(_decode, row, embedder)
    except EmbedderMismatch as exc:
        raise ApiError(409, "model_not_ready",
                       "This version was trained with an embedder this server does not run.",
                       {"reason": "embedder_mismatch", "expected": exc.expected[0], "loaded": exc.loaded[0]}) from exc
    _cache.put(entry, active=handle.pin is None)
    return entry


def unknown_trait(names: list[str]) -> ApiError:
    return validation_error("Some requested traits are not traits of this model.",
                            {"traits": names}, code="unknown_trait")


def check_traits(served: ServedVersion, traits: list[str] | None) -> None:
    """Fail fast with 422 unknown_trait before any fetch or embedding work."""
    try:
        served.scorer.resolve(traits)
    except UnknownTrait as exc:
        raise unknown_trait(exc.names) from exc


async def score_card(served: ServedVersion, text: str, traits: list[str] | None, max_depth: int,
                     *, single: bool = False) -> dict:
    """The score card (without metadata). ``single``: the request asks for this one card (not one of
    a batch's many), so short content is scored right here on the event loop; anything else in a
    worker thread."""
    score = partial(served.scorer.score, text, traits=traits, max_depth=max_depth)
    try:
        if single and scores_on_event_loop(text):
            async with inline_turns():
                return score()
        return await anyio.to_thread.run_sync(score, limiter=_embedding_slots)
    except UnknownTrait as exc:
        raise unknown_trait(exc.names) from exc


# --- Feedback (SPEC §1.10): labels sent with a score become samples of the scored text. ---------

@dataclass(frozen=True)
class FeedbackEntry:
    trait_id: int
    quality: float


def feedback_off_under_zdr() -> ApiError:
    return ApiError(409, "feature_unavailable",
                    "Feedback is off for models with zero-data retention: their content is never stored.")


async def plan_feedback(session: AsyncSession, principal, model: Model, feedback: dict) -> list[FeedbackEntry]:
    """Check rights, ZDR and every label up front, so a rejected request writes nothing."""
    principal.require_author(model.namespace)
    if model.zero_data_retention:
        raise feedback_off_under_zdr()
    traits = await catalog.list_traits(session, model.id, by_id=True)
    by_key = {t.key: t for t in traits}
    by_name = {t.name: t for t in traits}
    unknown = [name for name in feedback if name not in by_key and name not in by_name]
    if unknown:
        raise unknown_trait(unknown)
    plan, invalid = [], {}
    for name, value in feedback.items():
        trait = by_key.get(name) or by_name[name]
        try:
            plan.append(FeedbackEntry(trait.id, parse_quality(value, trait)))
        except InvalidLabel:
            invalid[name] = value
    if invalid:
        raise validation_error("Feedback labels must be a number in [0, 1] or a known label word.",
                               {"labels": invalid}, code="invalid_label")
    return plan


async def store_feedback(session: AsyncSession, temporal, settings, model: Model, plan: list[FeedbackEntry],
                         text: str, source_url: str | None, content_sha256: str | None) -> list[int]:
    """Append the samples in the order given, commit, then wake the model's background retrain."""
    if "\x00" in text:
        # Stored strings never hold NUL (PostgreSQL cannot); the text can still be scored without feedback.
        raise validation_error("Text with NUL characters cannot be stored as feedback.", {"field": "content"})
    await session.commit()  # end the read snapshot: the claim must see what other requests committed
    try:
        # Re-checked here, in the writing transaction: ZDR may have been switched on while the
        # content was fetched and scored, and a sample written after that would outlive the switch.
        await catalog.claim_for_feedback(session, model.id)
    except catalog.FeedbackRefused as refused:
        await session.rollback()
        raise (model_archived() if refused.reason == "archived" else feedback_off_under_zdr()) from None
    ids = await catalog.insert_samples(session, model.id, [
        catalog.NewSample(trait_id=entry.trait_id, text=text, quality=entry.quality, source_url=source_url,
                          content_sha256=content_sha256, provenance="score_feedback")
        for entry in plan])
    await session.commit()
    await signal_retrain(temporal, settings, model, new_samples=len(ids))
    return ids
