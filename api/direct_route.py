"""Routes whose requests skip FastAPI's per-request dependency solving.

FastAPI resolves an endpoint's dependencies anew on every request (a walk of the dependency tree,
an exit stack per request and per function, keyword matching): about 0.24 ms of CPU, ~4 % of a
short text's whole score (bench/results/scoring_profile_findings.md, round four). For the scoring
hot path a hand-written handler supplies the same values directly. The endpoint keeps its
FastAPI signature, so the OpenAPI document is built from it as for any route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

DirectHandler = Callable[[Request], Awaitable[Response]]


def direct_route(handler: DirectHandler) -> type[APIRoute]:
    """A route class whose requests go straight to ``handler``. ``handler`` must give the endpoint
    every value its dependencies would: tests/api/test_direct_route.py compares the two."""

    class DirectRoute(APIRoute):
        def get_route_handler(self) -> DirectHandler:
            return handler

    return DirectRoute
