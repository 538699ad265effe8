"""The steps of an evaluation (SPEC §9.5) around its score jobs: start, and the report.

The report reads each version's scores from its score job's stored cards and the labels stored with
the evaluation, and computes every number with ``engine.evaluation``.

Decisions (SPEC is silent):
- A trait is judged on the items labelled for it that every evaluated version scored (an item that
  failed, e.g. a lone URL, is left out everywhere), so two versions are compared on the same items
  and the paired test is valid. ``n`` counts them.
- Scores are the card's universal scores (0–100 integers): the numbers a user sees, so the report
  can be recomputed from the job's results. Breaks and tiers are each version's own card parameters.
- Spearman's ρ is given for a trait whose every label in the upload was a number (word labels are
  poles, and a rank correlation over three values says little); otherwise null.
"""

from __future__ import annotations

import json

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from contracts.payloads import EvaluationRef, EvaluationStarted, FinishEvaluationInput, FinishEvaluationResult
from contracts.states import RunStatus
from engine.card import CardParams
from engine.evaluation import compare_versions, evaluate_trait
from store import evaluations as evaluation_store
from store import score_jobs as job_store
from store.tables import Version

# Faults of the evaluation itself: retrying cannot help.
EVALUATION_FAULTS = ("evaluation_gone", "version_gone")


def evaluation_fault(code: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=code, non_retryable=True)


class EvaluationActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="start_evaluation")
    def start_evaluation(self, ref: EvaluationRef) -> EvaluationStarted:
        with self.deps.transaction() as session:
            evaluation_store.mark_running(session, ref.evaluation_id)
            evaluation = evaluation_store.evaluation_by_id(session, ref.evaluation_id)
            if evaluation is None:
                raise evaluation_fault("evaluation_gone", "The evaluation no longer exists.")
            return EvaluationStarted(ref.evaluation_id, evaluation.state == RunStatus.RUNNING)

    @activity.defn(name="finish_evaluation")
    def finish_evaluation(self, inp: FinishEvaluationInput) -> FinishEvaluationResult:
        report, error = None, None
        with self.deps.transaction() as session:
            evaluation = evaluation_store.evaluation_by_id(session, inp.evaluation_id)
            if evaluation is None:
                return FinishEvaluationResult(inp.evaluation_id, False)
            if inp.state == RunStatus.SUCCEEDED:
                report = _report(session, evaluation)
            elif inp.error_code:
                error = {"code": inp.error_code, "message": inp.error_message}
            changed = evaluation_store.finish(session, inp.evaluation_id, inp.state, report=report, error=error)
        return FinishEvaluationResult(inp.evaluation_id, changed)


def _card_params(session, version_id: int) -> dict[str, CardParams]:
    row = session.get(Version, version_id)
    if row is None or row.snapshot is None:
        raise evaluation_fault("version_gone", "A version of the evaluation no longer exists.")
    return {entry["key"]: CardParams.from_dict(entry["card"]) for entry in json.loads(row.snapshot)["traits"]}


def _scores(session, job_id: str, traits: list[str]) -> dict[int, dict[str, int]]:
    """{seq: {trait: universal score}} of the job's scored items."""
    job = job_store.job_by_id(session, job_id)
    if job is None:
        raise evaluation_fault("evaluation_gone", "A score job of the evaluation no longer exists.")
    scores = {}
    for seq, _item_id, result, _error in job_store.iter_results(session, job.id):
        if result is not None:
            card = json.loads(result)["scores"]
            scores[seq] = {key: card[key] for key in traits}
    return scores


def _report(session, evaluation) -> dict:
    traits, numeric = evaluation.traits, set(evaluation.numeric_traits)
    labels = dict(evaluation_store.iter_labels(session, evaluation.id))
    version_labels = [f"v{no}" for no in evaluation.version_nos]
    per_version = [_scores(session, job_id, traits) for job_id in evaluation.job_ids]
    params = [_card_params(session, version_id) for version_id in evaluation.version_ids]
    scored_everywhere = [seq for seq in sorted(labels) if all(seq in scores for scores in per_version)]
    versions = [{"version_id": label, "traits": {}} for label in version_labels]
    paired = {"a": version_labels[0], "b": version_labels[1], "traits": {}} if len(version_labels) == 2 else None
    for trait in traits:
        seqs = [seq for seq in scored_everywhere if trait in labels[seq]]
        q = [labels[seq][trait] for seq in seqs]
        columns = [[scores[seq][trait] for seq in seqs] for scores in per_version]
        for block, column, version_params in zip(versions, columns, params):
            block["traits"][trait] = evaluate_trait(column, q, version_params[trait], numeric=trait in numeric)
        if paired is not None:
            paired["traits"][trait] = {"n": len(seqs), **compare_versions(columns[0], columns[1], q)}
    return {"items": {"total": evaluation.total, "scored": len(scored_everywhere)}, "versions": versions,
            "paired": paired}
