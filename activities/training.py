"""The steps of a training run: embed, fit (search and calibration), publish.

embed_samples reads the training set by reference and embeds every text not yet in the DB-backed
embedding cache. fit_model runs ``engine.training.train_model`` in the CPU pool while heartbeating
(its embeddings then come from the cache; runs started before embed_samples existed embed here) and
stages the snapshot keyed by run id. publish_version turns the staged snapshot into a version in one
transaction.

A background retrain is judged by the retrain gate inside fit_model, once the new snapshot exists:
both it and the active version score the held-out feedback (``store.feedback.held_out``) and
``engine.evaluation.gate_decision``'s verdict goes into the staged metrics, where publish reads
whether to activate. It runs in the fit activity rather than a step of its own because the fit
already holds the snapshot, the embedder and a heartbeat, and an activity body is never replayed:
the workflow's commands stay as recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.progress import ProgressSink, run_reporting
from activities.webhooks import publish as publish_events
from activities.webhooks import run_events
from contracts.payloads import EmbedResult, FitInput, FitResult, PublishResult, RunRef
from contracts.states import OperationKind
from engine.effort import InvalidConfig, UnknownEffort
from engine.cache import embed_with_cache
from engine.embedders import get_embedder
from engine.errors import EngineError
from engine.evaluation import gate_decision, gate_trait
from engine.scorer import Scorer
from engine.snapshot import Snapshot
from engine.training import (
    InsufficientSamples,
    InvalidTrainingInput,
    LabelledSample,
    TraitSpec,
    search_units,
    train_model,
)
from store.embedding_cache import DbEmbeddingCache
from store.publish import PublishRefused, publish, stage_fit
from store.tables import Model, Version
from store.training_set import load_label_sets, sample_texts, stored_search


def user_fault(code: str, message: str, **details) -> ApplicationError:
    return ApplicationError(message, details or None, type=code, non_retryable=True)


@contextmanager
def _engine_faults() -> Iterator[None]:
    """The engine's input errors as typed, non-retryable user faults."""
    try:
        yield
    except InsufficientSamples as exc:
        raise user_fault("insufficient_samples", "Every trait needs at least one positive and one "
                         "negative sample.", lacking=exc.lacking) from None
    except (InvalidTrainingInput, InvalidConfig, UnknownEffort) as exc:
        raise user_fault("invalid_configuration", str(exc)) from None


class TrainingActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="embed_samples")
    async def embed_samples(self, inp: FitInput) -> EmbedResult:
        sink = ProgressSink("embed", "loading samples")
        return await run_reporting(self.deps, inp.run_id, sink, self._embed, inp, sink)

    def _embed(self, inp: FitInput, sink: ProgressSink) -> EmbedResult:
        specs, samples, effort, configs, _ = self._training_set(inp)
        with _engine_faults():
            units = search_units(specs, effort, configs)
        fresh = [0]

        def on_embedded(done: int, total: int) -> None:
            fresh[0] = total
            sink.embedding_callback(done, total, units)

        embed_with_cache(get_embedder(self.deps.settings.embedder), [s.text for s in samples],
                         DbEmbeddingCache(self.deps.engine), on_embedded=on_embedded)
        return EmbedResult(inp.run_id, len(samples), fresh[0], units)

    @activity.defn(name="fit_model")
    async def fit_model(self, inp: FitInput) -> FitResult:
        sink = ProgressSink("embed", "loading samples", done_before=inp.embedded)
        return await run_reporting(self.deps, inp.run_id, sink, self._fit, inp, sink)

    def _training_set(self, inp: FitInput) -> tuple[list[TraitSpec], list[LabelledSample], str, dict | None,
                                                    int | None]:
        """(traits, samples, effort, stored configs of a retrain, highest sample id read) of the model,
        read by reference. Held-out feedback is not in the samples but counts in the highest id, so
        it is never buffered again."""
        with self.deps.transaction() as session:
            model = session.get(Model, inp.model_id)
            if model is None:
                raise user_fault("model_gone", "The model no longer exists.")
            sets = load_label_sets(session, model.id)
            traits, labels = sets.traits, sets.training
            text_of = sample_texts(session, sorted({sample_id for pairs in labels.values() for sample_id, _ in pairs}))
            effort, configs = inp.effort, None
            if inp.kind == OperationKind.RETRAIN and model.active_version_id is not None:
                # A background retrain reuses the active version's chosen configuration: no search.
                stored_effort, configs = stored_search(session, model.active_version_id)
                effort = stored_effort or effort
        specs = [TraitSpec(t.key, t.name, t.aggregation,
                           tuple(t.frozen_direction) if t.frozen_direction else None) for t in traits]
        samples = [LabelledSample(key, text_of[sample_id], quality, sample_id)
                   for key, pairs in labels.items() for sample_id, quality in pairs if sample_id in text_of]
        return specs, samples, effort, configs, sets.max_sample_id

    def _fit(self, inp: FitInput, sink: ProgressSink) -> FitResult:
        specs, samples, effort, configs, max_sample_id = self._training_set(inp)
        with _engine_faults():
            result = train_model(specs, samples, get_embedder(self.deps.settings.embedder), effort,
                                 cache=DbEmbeddingCache(self.deps.engine), progress=sink.training_callback,
                                 configs=configs)
        snapshot = result.snapshot
        metrics = result.metrics
        if inp.kind == OperationKind.RETRAIN:
            sink.set("publish", 1, 1, "judging the retrain on held-out feedback")
            gate = self._gate(inp.model_id, snapshot, {s.text for s in samples})
            if gate is not None:
                metrics = {**metrics, "gate": gate}
        sink.set("publish", 1, 1, "staging the fitted snapshot")
        with self.deps.transaction() as session:
            stage_fit(session, inp.run_id, inp.model_id, snapshot.to_json(), snapshot.param_hash, metrics,
                      len(samples), max_sample_id)
        return FitResult(inp.run_id, snapshot.param_hash, len(samples))

    def _gate(self, model_id: int, snapshot: Snapshot, trained_texts: set[str]) -> dict | None:
        """The retrain gate's verdict on ``snapshot`` against the active version; None when the model
        turned the gate off or serves nothing to compare with. A held-out text that is also a
        training sample's (an authored sample sent back as feedback) is left out: the versions saw it."""
        with self.deps.transaction() as session:
            model = session.get(Model, model_id)
            if model is None or not model.retrain_gate or model.active_version_id is None:
                return None
            active = session.get(Version, model.active_version_id)
            sets = load_label_sets(session, model_id)
            text_of = sample_texts(session, sorted({i for pairs in sets.held_out.values() for i, _ in pairs}))
        text_of = {i: text for i, text in text_of.items() if text not in trained_texts}
        embedder = get_embedder(self.deps.settings.embedder)
        try:
            scorers = (Scorer(Snapshot.from_json(active.snapshot), embedder), Scorer(snapshot, embedder))
        except EngineError as exc:  # e.g. the active version was trained with another embedder
            return {"verdict": "not_judged", "activate": True, "compared_with": active.version_no,
                    "reason": str(exc)}
        texts = [text_of[i] for i in sorted(text_of)]
        row_of = {sample_id: row for row, sample_id in enumerate(sorted(text_of))}
        vectors = embed_with_cache(embedder, texts, DbEmbeddingCache(self.deps.engine))
        active_p, new_p = (scorer.probabilities(vectors, texts) if texts else {} for scorer in scorers)
        expected = (active.metrics or {}).get("traits") or {}
        traits = {}
        for key, pairs in sets.held_out.items():
            rows = [row_of[i] for i, _ in pairs if i in row_of]
            q = [quality for i, quality in pairs if i in row_of]
            if key not in new_p or key not in active_p:
                continue  # a trait the active version does not have: nothing to compare
            traits[key] = gate_trait(active_p[key][rows], new_p[key][rows], q, expected.get(key))
        return gate_decision(traits, active_version_no=active.version_no, holdout_samples=len(texts))

    @activity.defn(name="publish_version")
    def publish_version(self, ref: RunRef) -> PublishResult:
        try:
            with self.deps.transaction() as session:
                published = publish(session, ref.run_id)
                events = run_events(session, ref.run_id, published.activated)
        except PublishRefused as exc:
            raise user_fault(exc.code, exc.message) from None
        publish_events(self.deps, events)  # after the commit; a retry publishes the same events again
        return PublishResult(ref.run_id, published.version_id, published.version_no, published.activated)
