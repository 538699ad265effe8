"""One router per resource; the app mounts them all under /v1."""

from api.routers import extract, health, models, runs, samples, score_jobs, scoring, traits, versions

ROUTERS = [
    health.router,
    models.router,
    traits.router,
    samples.router,
    runs.router,
    scoring.router,
    versions.router,
    extract.router,
    score_jobs.router,
]
