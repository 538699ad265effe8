"""One router per resource; the app mounts them all under /v1."""

from api.routers import health

ROUTERS = [health.router]
