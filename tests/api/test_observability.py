"""Rate limiting, metrics and logs — the operational surface of the API."""

import json
import logging
import uuid

import httpx
import pytest

from api.app import create_app
from api.ratelimit import InvalidRateLimit, parse_rate_limit

REDIS_URL = "redis://127.0.0.1:6379/0"


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize("spec", ["100", "0/10s", "10/0s", "ten/s", "5/d"])
def test_bad_rate_limit_specs_are_refused(spec):
    with pytest.raises(InvalidRateLimit):
        parse_rate_limit(spec)


def test_rate_limit_spec_parses_amount_and_window():
    item = parse_rate_limit("100/10s")
    assert (item.amount, item.get_expiry()) == (100, 10)
    assert parse_rate_limit("5/m").get_expiry() == 60


async def test_over_the_limit_gets_429_with_retry_after(settings, temporal_env, make_key, namespace):
    key = await make_key(namespace)
    app = create_app(settings.model_copy(update={"rate_limit": "3/60s"}), temporal_client=temporal_env.client)
    async with app.router.lifespan_context(app), _client(app) as client:
        statuses = [(await client.get("/v1/models", headers=key["headers"])).status_code for _ in range(4)]
        limited = await client.get("/v1/models", headers=key["headers"])
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
    body = limited.json()["error"]
    assert body["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60


async def test_limits_are_per_key(settings, temporal_env, make_key, namespace):
    first, second = await make_key(namespace), await make_key(namespace)
    app = create_app(settings.model_copy(update={"rate_limit": "1/60s"}), temporal_client=temporal_env.client)
    async with app.router.lifespan_context(app), _client(app) as client:
        assert (await client.get("/v1/models", headers=first["headers"])).status_code == 200
        assert (await client.get("/v1/models", headers=first["headers"])).status_code == 429
        assert (await client.get("/v1/models", headers=second["headers"])).status_code == 200


async def test_redis_counters_are_shared_between_api_processes(settings, temporal_env, make_key, namespace):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    key = await make_key(namespace)
    shared = settings.model_copy(update={"rate_limit": "2/60s", "redis_url": REDIS_URL})
    one = create_app(shared, temporal_client=temporal_env.client)
    two = create_app(shared, temporal_client=temporal_env.client)
    async with one.router.lifespan_context(one), two.router.lifespan_context(two):
        async with _client(one) as a, _client(two) as b:
            assert (await a.get("/v1/models", headers=key["headers"])).status_code == 200
            assert (await b.get("/v1/models", headers=key["headers"])).status_code == 200
            # The third request in the window is refused whichever process takes it.
            assert (await a.get("/v1/models", headers=key["headers"])).status_code == 429


async def test_no_limit_configured_means_no_429(http, make_key, namespace):
    key = await make_key(namespace)
    statuses = {(await http.get("/v1/models", headers=key["headers"])).status_code for _ in range(30)}
    assert statuses == {200}


async def test_metrics_count_requests_by_route_template(http, make_key, namespace):
    key = await make_key(namespace)
    await http.get(f"/v1/models/{namespace}.nope-{uuid.uuid4().hex[:6]}", headers=key["headers"])
    response = await http.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'assay_http_requests_total{method="GET",route="/models/{handle}",status="404"}' in text
    assert "assay_http_request_duration_seconds_bucket" in text
    # Raw paths never become label values.
    assert namespace not in text


async def test_access_log_is_json_with_request_id_and_no_body(http, make_key, namespace, caplog):
    key = await make_key(namespace)
    secret_text = f"private words {uuid.uuid4().hex}"
    with caplog.at_level(logging.INFO, logger="assay.access"):
        response = await http.post(f"/v1/models/{namespace}.x/samples", headers=key["headers"],
                                   json={"samples": [{"trait": "t", "text": secret_text, "quality": 1}]})
    records = [r for r in caplog.records if r.name == "assay.access"]
    assert any(r.request_id == response.headers["x-request-id"] for r in records)
    assert all(secret_text not in r.getMessage() and secret_text not in json.dumps(r.__dict__, default=str)
               for r in records)
    assert any(getattr(r, "handle", None) == f"{namespace}.x" for r in records)
