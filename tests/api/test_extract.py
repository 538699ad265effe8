"""POST /v1/extract on a real (loopback, allowlisted) web server."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from tests.api.local_site import ARTICLE_TEXT, fetching_http, local_site  # noqa: F401 (fixtures)


async def test_extract_returns_readable_text_and_its_hash(fetching_http, local_site, make_key, namespace):
    scoring_key = await make_key(namespace, scope="scoring")
    before = datetime.now(timezone.utc)
    url = local_site.url("/article")
    response = await fetching_http.post("/v1/extract", json={"url": url}, headers=scoring_key["headers"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"url", "content", "content_sha256", "fetched_at"}
    assert body["url"] == url
    assert ARTICLE_TEXT in body["content"]
    assert body["content_sha256"] == hashlib.sha256(body["content"].encode("utf-8")).hexdigest()
    fetched_at = datetime.fromisoformat(body["fetched_at"].replace("Z", "+00:00"))
    assert fetched_at.tzinfo is not None and fetched_at >= before.replace(microsecond=0)


async def test_extract_plain_text_is_kept_verbatim(fetching_http, local_site, owner):
    response = await fetching_http.post("/v1/extract", json={"url": local_site.url("/plain")},
                                        headers=owner["headers"])
    assert response.status_code == 200
    assert response.json()["content"] == ARTICLE_TEXT


async def test_extract_needs_a_key(fetching_http, local_site):
    response = await fetching_http.post("/v1/extract", json={"url": local_site.url("/article")})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_extract_without_allowlist_refuses_the_local_server(http, local_site, owner):
    response = await http.post("/v1/extract", json={"url": local_site.url("/article")}, headers=owner["headers"])
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "fetch_failed"
    assert error["details"]["reason"] == "address_not_allowed"


async def test_a_refused_private_address_names_the_allow_setting_and_entry(http, local_site, owner):
    response = await http.post("/v1/extract", json={"url": local_site.url("/article")}, headers=owner["headers"])

    details = response.json()["error"]["details"]
    assert details["allow_setting"] == "ASSAY_FETCH_ALLOW"
    assert details["allow_entry"] == local_site.allow_entry
    assert f"'{local_site.allow_entry}' to the server's ASSAY_FETCH_ALLOW" in response.json()["error"]["message"]


async def test_extract_missing_url_is_a_validation_error(http, owner):
    response = await http.post("/v1/extract", json={}, headers=owner["headers"])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_extract_upstream_failure_reports_the_reason(fetching_http, local_site, owner):
    response = await fetching_http.post("/v1/extract", json={"url": local_site.url("/missing")},
                                        headers=owner["headers"])
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert details["reason"] == "http_status" and details["status"] == 404
