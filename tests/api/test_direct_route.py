"""`POST …/score` is served without FastAPI's per-request dependency solving (api/direct_route.py):
its handler supplies what the endpoint's dependencies would, and everything else about the route
(its OpenAPI entry, its errors, its card) stays as it was (issue #15)."""

from __future__ import annotations

import json

import fastapi.routing
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import get_principal, get_session, get_settings_dep, get_temporal
from api.routers import scoring
from tests.api.trained import CLEAR, trained_model


def score_route():
    return next(route for route in scoring.router.routes if route.path == "/models/{handle}/score")


def test_the_direct_handler_supplies_every_dependency_of_the_endpoint():
    """Adding a dependency to `score` (or to its router) must come with a change to `_score_directly`,
    which passes exactly these values."""
    route = score_route()
    assert route.get_route_handler() is scoring._score_directly
    assert route.dependencies == [] and scoring.router.dependencies == []
    dependant = route.dependant
    assert [param.name for param in dependant.path_params] == ["handle"]
    assert dependant.request_param_name == "request"
    assert not (dependant.query_params or dependant.header_params or dependant.cookie_params or dependant.body_params)
    supplied = {dependency.name: dependency.call for dependency in dependant.dependencies}
    assert supplied == {"principal": get_principal, "session": get_session, "settings": get_settings_dep,
                        "temporal": get_temporal}
    principal = next(dependency for dependency in dependant.dependencies if dependency.name == "principal")
    assert [sub.call for sub in principal.dependencies] == [get_session]


@pytest.fixture
def solved(monkeypatch) -> list[str]:
    """The path of every request whose dependencies FastAPI solved."""
    seen: list[str] = []
    real = fastapi.routing.solve_dependencies

    async def spy(*, request, **kwargs):
        seen.append(request.url.path)
        return await real(request=request, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", spy)
    return seen


async def test_scoring_solves_no_dependencies_and_other_routes_still_do(http, make_key, sessionmaker_, solved):
    model = await trained_model(http, make_key, sessionmaker_, "direct")
    solved.clear()
    url, headers = f"/v1/models/{model['handle']}/score", model["scorer"]["headers"]
    response = await http.post(url, json={"content": CLEAR[0]}, headers=headers)
    assert response.status_code == 200, response.text
    assert set(response.json()["scores"]) == {"clarity", "warmth"}
    assert url not in solved
    response = await http.get(f"/v1/models/{model['handle']}", headers=headers)
    assert response.status_code == 200, response.text
    assert solved == [f"/v1/models/{model['handle']}"]


async def test_errors_on_the_direct_route_use_the_envelope(http, make_key, sessionmaker_):
    model = await trained_model(http, make_key, sessionmaker_, "direct")
    url = f"/v1/models/{model['handle']}/score"

    response = await http.post(url, json={"content": CLEAR[0]})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]

    response = await http.post(url, json={"content": CLEAR[0], "traits": ["nope"]}, headers=model["scorer"]["headers"])
    assert response.status_code == 422 and response.json()["error"]["code"] == "unknown_trait"

    response = await http.post(url, json={"text": CLEAR[0]}, headers=model["scorer"]["headers"])
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"

    response = await http.post(f"/v1/models/{model['namespace']}.missing/score", json={"content": CLEAR[0]},
                               headers=model["scorer"]["headers"])
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


async def test_the_session_closes_after_the_answer_is_sent(app, http, make_key, sessionmaker_, monkeypatch):
    """Closing a session awaits a task of its own: done before sending, the answer would wait a turn of
    the event loop, behind whatever other requests' scores that turn runs."""
    model = await trained_model(http, make_key, sessionmaker_, "direct")
    await http.post(f"/v1/models/{model['handle']}/score", json={"content": CLEAR[0]},
                    headers=model["scorer"]["headers"])  # warm: the lookups come from the caches
    events: list[str] = []
    real_close = AsyncSession.close

    async def close(self):
        events.append("session closed")
        await real_close(self)

    monkeypatch.setattr(AsyncSession, "close", close)
    body = json.dumps({"content": CLEAR[0]}).encode()
    path = f"/v1/models/{model['handle']}/score"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "server": ("assay.test", 80), "client": ("127.0.0.1", 1000),
             "headers": [(b"host", b"assay.test"), (b"content-type", b"application/json"),
                         (b"authorization", model["scorer"]["headers"]["Authorization"].encode())]}

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        events.append(f"{message['type']} {message.get('status', '')}".strip())

    await app(scope, receive, send)
    assert events == ["http.response.start 200", "http.response.body", "session closed"]
