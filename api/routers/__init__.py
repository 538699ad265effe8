"""One router per resource; the app mounts them all under /v1."""

from api.routers import evaluations, extract, health, models, runs, samples, score_jobs, scoring, traits, versions, webhooks

ROUTERS = [
    health.router,
    models.router,
    traits.router,
    samples.router,
    runs.router,
    scoring.router,
    versions.router,
    extract.router,
    webhooks.router,
    score_jobs.router,
    evaluations.router,
]
