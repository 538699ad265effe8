"""Discovery and synthesis activities: they change the draft's definition and close their run in
the same transaction (model back to ``draft``), so a retry after the commit finds the run closed and
writes nothing twice.

Decisions (SPEC is silent):
- Discovery feeds only extrinsic traits to the engine (an intrinsic trait is already a fixed axis)
  and pools every sample of the model. Re-running discovery replaces intrinsic traits with the same
  key; it never overwrites an extrinsic trait whose key happens to collide.
- Synthesized samples get ``provenance: synthesized``; texts already present for the trait are
  skipped by the engine's de-duplication.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio import activity

from activities.deps import ActivityDeps
from activities.embedding_cache import DbEmbeddingCache
from activities.progress import ProgressSink, run_reporting
from activities.training import user_fault
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
from store.operations import OPEN_STATUSES, utcnow
from store.tables import Model, Operation, Sample, Trait
from workflows.types import AuthoringInput, AuthoringResult


def _close_to_draft(session: Session, run_id: str, added: int) -> bool:
    """Marks the run succeeded and the model draft again; False if the run was closed meanwhile."""
    op = session.scalar(select(Operation).where(Operation.run_id == run_id).with_for_update())
    if op is None or op.status not in OPEN_STATUSES:
        return False
    op.status = "succeeded"
    op.finished_at = utcnow()
    op.progress = {"phase": "done", "done": 1, "total": 1, "fraction": 1.0, "message": f"{added} added"}
    model = session.get(Model, op.model_id)
    if model is not None and model.state == "busy" and model.last_operation_id == op.id:
        model.state = "draft"
        model.updated_at = utcnow()
    return True


def _already_done(session: Session, run_id: str) -> AuthoringResult | None:
    op = session.scalar(select(Operation).where(Operation.run_id == run_id))
    if op is None:
        raise user_fault("operation_closed", "The run is unknown to the store.")
    if op.status == "succeeded":
        return AuthoringResult(run_id, 0)
    if op.status not in OPEN_STATUSES:
        raise user_fault("operation_closed", "The run was closed before it could finish.")
    return None


class AuthoringActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="discover_traits")
    async def discover_traits(self, inp: AuthoringInput) -> AuthoringResult:
        sink = ProgressSink("discover", "embedding samples")
        return await run_reporting(self.deps, inp.run_id, sink, self._discover, inp, sink)

    def _discover(self, inp: AuthoringInput, sink: ProgressSink) -> AuthoringResult:
        with self.deps.transaction() as session:
            if (done := _already_done(session, inp.run_id)) is not None:
                return done
            traits = session.scalars(select(Trait).where(Trait.model_id == inp.model_id).order_by(Trait.id)).all()
            key_of = {t.id: t.key for t in traits}
            rows = session.execute(select(Sample.id, Sample.trait_id, Sample.text, Sample.quality)
                                   .where(Sample.model_id == inp.model_id).order_by(Sample.id)).all()
        extrinsic = [(t.key, t.name, t.positive_label, t.negative_label) for t in traits if t.kind != "intrinsic"]
        embedder = get_embedder(self.deps.settings.embedder)
        vectors = embed_with_cache(embedder, [r.text for r in rows], DbEmbeddingCache(self.deps.engine))
        sink.set("discover", 1, 2, "fitting axes")
        try:
            found = discover(vectors, [(r.id, key_of[r.trait_id], r.quality) for r in rows], extrinsic,
                             inp.effort, {r.id: r.text for r in rows})
        except DiscoveryError as exc:
            raise user_fault("discovery_failed", str(exc)) from None
        with self.deps.transaction() as session:
            existing = {t.key: t for t in session.scalars(select(Trait).where(Trait.model_id == inp.model_id))}
            added = 0
            for item in found:
                trait = existing.get(item.key)
                if trait is not None and trait.kind != "intrinsic":
                    continue
                if trait is None:
                    trait = Trait(model_id=inp.model_id, key=item.key, created_at=utcnow())
                    session.add(trait)
                trait.name = item.name
                trait.description = item.description
                trait.positive_label = item.positive_label
                trait.negative_label = item.negative_label
                trait.kind = "intrinsic"
                trait.discrimination = item.discrimination
                trait.explained_variance = item.explained_variance
                trait.anchor_sample_ids = item.anchor_sample_ids
                trait.frozen_direction = list(item.frozen_direction)
                trait.source_trait = item.source_trait
                added += 1
            if not _close_to_draft(session, inp.run_id, added):
                raise user_fault("operation_closed", "The run was closed before it could finish.")
        return AuthoringResult(inp.run_id, added)

    @activity.defn(name="synthesize_samples")
    async def synthesize_samples(self, inp: AuthoringInput) -> AuthoringResult:
        sink = ProgressSink("synthesize", "writing samples")
        return await run_reporting(self.deps, inp.run_id, sink, self._synthesize, inp)

    def _synthesize(self, inp: AuthoringInput) -> AuthoringResult:
        with self.deps.transaction() as session:
            if (done := _already_done(session, inp.run_id)) is not None:
                return done
            traits = session.scalars(select(Trait).where(Trait.model_id == inp.model_id).order_by(Trait.id)).all()
            key_of = {t.id: t.key for t in traits}
            rows = session.execute(select(Sample.trait_id, Sample.text, Sample.quality)
                                   .where(Sample.model_id == inp.model_id).order_by(Sample.id)).all()
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
        trait_id = {t.key: t.id for t in traits}
        with self.deps.transaction() as session:
            now = utcnow()
            added = 0
            for sample in generated:
                if sample.trait_key in trait_id:
                    session.add(Sample(model_id=inp.model_id, trait_id=trait_id[sample.trait_key], text=sample.text,
                                       quality=float(sample.quality), provenance="synthesized", created_at=now))
                    added += 1
            if not _close_to_draft(session, inp.run_id, added):
                raise user_fault("operation_closed", "The run was closed before it could finish.")
        return AuthoringResult(inp.run_id, added)
