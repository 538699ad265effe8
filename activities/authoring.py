"""Discovery and synthesis activities: they change the draft's definition and close their run in
the same transaction (model back to ``draft``), so a retry after the commit finds the run closed and
writes nothing twice.

Decisions (SPEC is silent):
- Discovery feeds only extrinsic traits to the engine (an intrinsic trait is already a fixed axis)
  and pools every sample of the model; what it writes back is ``store.drafts.attach_discovered``.
- Texts already present for a trait are skipped by the synthesis engine's de-duplication.
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from temporalio import activity

from activities.deps import ActivityDeps
from activities.progress import ProgressSink, run_reporting
from activities.training import user_fault
from activities.webhooks import publish, run_events
from contracts.payloads import AuthoringInput, AuthoringResult
from contracts.states import OPEN_STATUSES, RunStatus
from engine.cache import embed_with_cache
from engine.discovery import DiscoveryError, discover
from engine.embedders import get_embedder
from engine.synthesis import (
    ExistingSample,
    SynthesisError,
    SynthesisRequest,
    make_generator,
)
from engine.synthesis import TraitSpec as SynthTrait
from store import drafts, runs
from store.embedding_cache import DbEmbeddingCache


def _already_done(session: Session, run_id: str) -> AuthoringResult | None:
    op = runs.run_by_id(session, run_id)
    if op is None:
        raise user_fault("operation_closed", "The run is unknown to the store.")
    if op.status == RunStatus.SUCCEEDED:
        return AuthoringResult(run_id, 0)
    if op.status not in OPEN_STATUSES:
        raise user_fault("operation_closed", "The run was closed before it could finish.")
    return None


def _finish(session: Session, run_id: str, added: int) -> None:
    if not runs.finish_draft(session, run_id, added):
        raise user_fault("operation_closed", "The run was closed before it could finish.")


class AuthoringActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    def _finished_before(self, run_id: str) -> AuthoringResult | None:
        """The result of a retry after the commit, whose end is announced again (deliveries are
        deduplicated); None when the work is still to do."""
        with self.deps.transaction() as session:
            done = _already_done(session, run_id)
            events = run_events(session, run_id) if done is not None else []
        publish(self.deps, events)
        return done

    @activity.defn(name="discover_traits")
    async def discover_traits(self, inp: AuthoringInput) -> AuthoringResult:
        sink = ProgressSink("discover", "embedding samples")
        return await run_reporting(self.deps, inp.run_id, sink, self._discover, inp, sink)

    def _discover(self, inp: AuthoringInput, sink: ProgressSink) -> AuthoringResult:
        if (done := self._finished_before(inp.run_id)) is not None:
            return done
        with self.deps.transaction() as session:
            traits, rows = drafts.draft_definition(session, inp.model_id)
            key_of = {t.id: t.key for t in traits}
        extrinsic = [(t.key, t.name, t.positive_label, t.negative_label) for t in traits if t.kind != "intrinsic"]
        embedder = get_embedder(self.deps.settings.embedder)
        vectors = embed_with_cache(  # each report is also where a cancelled discovery stops
            embedder, [r.text for r in rows], DbEmbeddingCache(self.deps.engine),
            on_embedded=lambda done, total: sink.set("discover", 0, 2, f"embedding samples {done}/{total}"))
        sink.set("discover", 1, 2, "fitting axes")
        try:
            found = discover(vectors, [(r.id, key_of[r.trait_id], r.quality) for r in rows], extrinsic,
                             inp.effort, {r.id: r.text for r in rows})
        except DiscoveryError as exc:
            raise user_fault("discovery_failed", str(exc)) from None
        sink.check_cancelled()  # a cancelled run attaches nothing (its close would refuse it anyway)
        with self.deps.transaction() as session:
            added = drafts.attach_discovered(session, inp.model_id, found)
            _finish(session, inp.run_id, added)
            events = run_events(session, inp.run_id)
        publish(self.deps, events)
        return AuthoringResult(inp.run_id, added)

    @activity.defn(name="synthesize_samples")
    async def synthesize_samples(self, inp: AuthoringInput) -> AuthoringResult:
        sink = ProgressSink("synthesize", "writing samples")
        return await run_reporting(self.deps, inp.run_id, sink, self._synthesize, inp, sink)

    def _synthesize(self, inp: AuthoringInput, sink: ProgressSink) -> AuthoringResult:
        if (done := self._finished_before(inp.run_id)) is not None:
            return done
        with self.deps.transaction() as session:
            traits, rows = drafts.draft_definition(session, inp.model_id)
            key_of = {t.id: t.key for t in traits}
        settings = self.deps.settings
        generator = make_generator(settings.synth_base_url, settings.synth_model, settings.synth_api_key)
        try:
            request = SynthesisRequest(
                inp.synth_type or "from_traits",
                tuple(SynthTrait(t.key, t.name, t.description, t.positive_label, t.negative_label) for t in traits),
                inp.effort,
                tuple(ExistingSample(key_of[r.trait_id], r.text, r.quality) for r in rows if r.trait_id in key_of),
            )
            generated = generator.generate(request)
        except SynthesisError as exc:
            raise user_fault("synthesis_failed", str(exc)) from None
        sink.check_cancelled()
        with self.deps.transaction() as session:
            added = drafts.add_synthesized(session, inp.model_id, {t.key: t.id for t in traits}, generated)
            _finish(session, inp.run_id, added)
            events = run_events(session, inp.run_id)
        publish(self.deps, events)
        return AuthoringResult(inp.run_id, added)
