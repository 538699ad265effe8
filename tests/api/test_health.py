import httpx

from api.app import create_app


async def test_health_reports_ok_when_database_and_temporal_are_up(http):
    response = await http.get("/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["x-request-id"].startswith("req_")


async def test_health_is_503_with_envelope_when_temporal_is_unreachable(settings):
    broken = settings.model_copy(update={"temporal_address": "127.0.0.1:1", "temporal_rpc_timeout": 0.5})
    app = create_app(broken)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.get("/v1/health")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    assert error["details"]["checks"] == {"database": "ok", "temporal": "unreachable"}
    assert error["request_id"] == response.headers["x-request-id"]


async def test_unknown_route_uses_the_envelope(http):
    response = await http.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_sane_incoming_request_id_is_honoured_and_injection_is_not(http):
    response = await http.get("/v1/health", headers={"X-Request-Id": "client-123"})
    assert response.headers["x-request-id"] == "client-123"
    response = await http.get("/v1/health", headers={"X-Request-Id": "a b\tc" + "x" * 300})
    assert response.headers["x-request-id"].startswith("req_")


async def test_openapi_and_docs_are_served_without_a_key(http):
    spec = await http.get("/v1/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["openapi"].startswith("3.1")
    docs = await http.get("/v1/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
