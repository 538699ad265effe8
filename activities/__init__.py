"""Side-effecting steps of the operation workflows; see ``all_activities``."""

from __future__ import annotations

from activities.authoring import AuthoringActivities
from activities.deps import ActivityDeps
from activities.evaluations import EvaluationActivities
from activities.lifecycle import LifecycleActivities
from activities.score_jobs import ScoreJobActivities
from activities.training import TrainingActivities
from activities.webhooks import WebhookActivities


def all_activities(deps: ActivityDeps) -> list:
    training = TrainingActivities(deps)
    lifecycle = LifecycleActivities(deps)
    authoring = AuthoringActivities(deps)
    score_jobs = ScoreJobActivities(deps)
    evaluations = EvaluationActivities(deps)
    return [
        training.embed_samples,
        training.fit_model,
        training.publish_version,
        lifecycle.mark_running,
        lifecycle.finalize_failure,
        lifecycle.buffered_feedback,
        lifecycle.begin_retrain,
        authoring.discover_traits,
        authoring.synthesize_samples,
        WebhookActivities(deps).deliver,
        score_jobs.start_job,
        score_jobs.score_chunk,
        score_jobs.finish_job,
        evaluations.start_evaluation,
        evaluations.finish_evaluation,
    ]


__all__ = ["ActivityDeps", "all_activities"]
