"""One router per resource; the app mounts them all under /v1."""

from api.routers import extract, health, models, operations, samples, scoring, traits, versions

ROUTERS = [
    health.router,
    models.router,
    traits.router,
    samples.router,
    operations.router,
    scoring.router,
    versions.router,
    extract.router,
]
