"""Evaluations in the API (SPEC §9.5): reading a labelled upload, choosing the versions, starting,
and showing an evaluation. Items are read by the score-job upload (``api.score_jobs.Upload``), so
content and id rules are the score job's; labels are read here with the sample rules.

Decisions (SPEC is silent):
- An item is a line of a samples file (SPEC §7): ``content``, an optional ``id``, and one field per
  labelled trait (key or name, ``catalog.match_trait``) holding a number in [0, 1] or a label word
  (``domain.labels.parse_quality``); ``source_url`` and fields starting with ``_`` are ignored, as
  ``assay build`` ignores them; a null label means "not labelled". Any other field is refused
  (422 ``unknown_trait``: a mistyped trait would otherwise drop its labels silently), as is a bad
  label (422 ``invalid_label``) and an item with no label (422 ``validation_error``, reason
  ``no_label``) — each with the item's ``index`` (JSON) or ``line`` (NDJSON). Nothing is stored then.
- ``versions``: 1 or 2 distinct versions by ``vN`` or tag (JSON body field, or repeated
  ``versions`` query parameters with NDJSON); default the active one. Every labelled trait must be a
  trait of every version (422 ``unknown_trait`` naming the version).
- One score job per version is created with the evaluation, in the same transaction; they are
  ordinary score jobs (readable at ``/v1/score-jobs/{id}``, results and all, by the same keys), so
  the report can be checked against the scores it was computed from.
- Progress is the sum over the jobs (live from their workflows while open), over items × versions.
"""

from __future__ import annotations

from ulid import ULID

from api.errors import ApiError, validation_error
from api.labels import invalid_label_error
from api.score_jobs import Upload, live_done, start_background_run
from api.scoring_service import ServedVersion, served_version
from api.temporal import TemporalGateway
from api.views import iso
from contracts.payloads import EvaluationInput
from contracts.states import OperationKind
from domain.handles import TAG_RE, Handle
from domain.labels import InvalidLabel, parse_quality
from settings import Settings
from store import catalog
from store.tables import Evaluation, Model, ScoreJob, Trait
from workflows.evaluation import EvaluationWorkflow

IGNORED_FIELDS = ("content", "id", "source_url")
MAX_VERSIONS = 2


def new_evaluation_id() -> str:
    return f"eval_{ULID()}"


class LabelledUpload(Upload):
    """A score-job upload whose items also carry labels: ``labels[i]`` is item i's ``{trait key: q}``."""

    def __init__(self, traits: list[Trait]) -> None:
        super().__init__()
        self.model_traits = traits
        self.labels: list[dict[str, float]] = []
        self.numeric: dict[str, bool] = {}  # trait key → every label so far was a number

    def add(self, raw: object, where: dict, max_items: int) -> None:
        labels = self._labels(raw, where) if isinstance(raw, dict) else {}
        super().add(raw, where, max_items)
        self.labels.append(labels)

    def _labels(self, raw: dict, where: dict) -> dict[str, float]:
        labels: dict[str, float] = {}
        for field, value in raw.items():
            if field in IGNORED_FIELDS or field.startswith("_"):
                continue
            trait = catalog.match_trait(self.model_traits, field)
            if trait is None:
                raise validation_error("This field is not a trait of the model.",
                                       {**where, "field": field[:200]}, code="unknown_trait")
            if value is None:
                continue
            if trait.key in labels:
                raise validation_error("This item labels the same trait twice.",
                                       {**where, "field": field[:200], "reason": "duplicate_label"})
            try:
                labels[trait.key] = parse_quality(value, trait)
            except InvalidLabel:
                raise invalid_label_error({**where, "field": field[:200]}) from None
            self.numeric[trait.key] = self.numeric.get(trait.key, True) and isinstance(value, (int, float))
        if not labels:
            raise validation_error("Each item needs a label for at least one trait.", {**where, "reason": "no_label"})
        return labels

    def labelled_traits(self) -> list[str]:
        """The keys labelled at least once, in the model's trait order."""
        return [t.key for t in self.model_traits if t.key in self.numeric]


def read_versions(raw: object) -> list[str] | None:
    if raw is None:
        return None
    if (not isinstance(raw, list) or not 1 <= len(raw) <= MAX_VERSIONS
            or not all(isinstance(v, str) and TAG_RE.fullmatch(v) for v in raw)):
        raise validation_error(f"`versions` names 1 or {MAX_VERSIONS} versions (`vN` or a tag), or is left out.",
                               {"field": "versions"})
    return raw


async def resolve_versions(session, model: Model, versions: list[str] | None, embedder: str) -> list[ServedVersion]:
    """The versions to score, in the order asked; the active one by default."""
    handle = Handle(model.namespace, model.name)
    if versions is None:
        return [await served_version(session, model, handle, embedder)]
    served = []
    for ref in versions:
        try:
            served.append(await served_version(session, model, Handle(model.namespace, model.name, ref), embedder))
        except ApiError as exc:
            if exc.status != 404:
                raise
            raise validation_error("No such version of this model.", {"field": "versions", "version": ref},
                                   code="unknown_version") from None
    if len({s.version_id for s in served}) != len(served):
        raise validation_error("The versions name the same version twice.", {"field": "versions"})
    return served


def check_versions_have(served: list[ServedVersion], traits: list[str]) -> None:
    for version in served:
        missing = [key for key in traits if key not in version.scorer.trait_keys]
        if missing:
            raise validation_error(f"Some labelled traits are not traits of {version.label}.",
                                   {"traits": missing, "version": version.label}, code="unknown_trait")


async def start_evaluation(temporal: TemporalGateway, settings: Settings, evaluation: Evaluation) -> None:
    """Starts the evaluation's workflow (id = evaluation id); 503 ``unavailable`` if Temporal does not take it."""
    inp = EvaluationInput(evaluation.evaluation_id, evaluation.handle, list(evaluation.job_ids), evaluation.total,
                          settings.job_chunk_size, settings.job_chunks_in_flight)
    await start_background_run(temporal, EvaluationWorkflow.run, inp, evaluation.evaluation_id, evaluation.handle,
                               OperationKind.EVALUATION, "evaluation")


async def live_progress(temporal: TemporalGateway, evaluation: Evaluation, jobs: list[ScoreJob | None]) -> dict:
    total = evaluation.total * len(evaluation.job_ids)
    if evaluation.finished_at is not None and evaluation.state == "succeeded":
        done = total
    else:
        done = 0
        for job in jobs:
            if job is not None:
                done += max(job.scored + job.failed, await live_done(temporal, job) or 0)
    return {"done": done, "total": total, "fraction": round(done / total, 4) if total else 1.0}


def evaluation_view(evaluation: Evaluation, progress: dict | None = None) -> dict:
    versions = [f"v{no}" for no in evaluation.version_nos]
    return {
        "evaluation_id": evaluation.evaluation_id,
        "handle": evaluation.handle,
        "state": evaluation.state,
        "versions": versions,
        "jobs": [{"version_id": v, "job_id": j} for v, j in zip(versions, evaluation.job_ids)],
        "traits": evaluation.traits,
        "items": evaluation.total,
        "created_at": iso(evaluation.created_at),
        "started_at": iso(evaluation.started_at) if evaluation.started_at else None,
        "finished_at": iso(evaluation.finished_at) if evaluation.finished_at else None,
        "progress": progress,
        "report": evaluation.report,
        "error": evaluation.error,
    }

