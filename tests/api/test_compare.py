"""POST …/compare, and URL content on score and compare (fetched from a loopback, allowlisted site)."""

from __future__ import annotations

import uuid

import pytest

from engine.render import render_compare
from tests.api.local_site import ARTICLE_TEXT, fetching_http, local_site  # noqa: F401 (fixtures)
from tests.api.trained import create_model, train_now

A = "Per the aforementioned synergies, deliverables may or may not be impacted going forward."
B = "Your refund was sent today. It reaches your card within five days. Thanks for waiting!"


@pytest.fixture(scope="module")
async def trained(make_key, http, sessionmaker_):
    namespace = f"c{uuid.uuid4().hex[:12]}"
    owner = await make_key(namespace)
    handle = f"{namespace}.replies"
    await create_model(http, owner["headers"], handle)
    await train_now(sessionmaker_, handle)
    return {"handle": handle, "headers": (await make_key(namespace, scope="scoring"))["headers"]}


async def test_compare_reports_per_trait_deltas(http, trained):
    url = f"/v1/models/{trained['handle']}/compare"
    response = await http.post(url, json={"a": A, "b": B}, headers=trained["headers"])
    assert response.status_code == 200, response.text
    result = response.json()
    assert set(result) == {"a", "b", "improvement", "per_trait"}
    card_a = (await http.post(f"/v1/models/{trained['handle']}/score", json={"content": A},
                              headers=trained["headers"])).json()
    assert result["a"]["scores"] == card_a["scores"] and result["a"]["metadata"]["version_id"] == "v1"
    assert result["improvement"] == result["b"]["composite"] - result["a"]["composite"]
    for key in ("clarity", "warmth"):
        delta = result["per_trait"][key]
        assert delta == {"a": result["a"]["scores"][key], "b": result["b"]["scores"][key],
                         "delta": result["b"]["scores"][key] - result["a"]["scores"][key]}
    assert result["per_trait"]["clarity"]["delta"] > 0


async def test_compare_text_view(http, trained):
    url = f"/v1/models/{trained['handle']}/compare"
    result = (await http.post(url, json={"a": A, "b": B}, headers=trained["headers"])).json()
    text = await http.post(url, json={"a": A, "b": B}, headers={**trained["headers"], "Accept": "text/plain"})
    assert text.status_code == 200 and text.text == render_compare(result)
    header, clarity = text.text.splitlines()[:2]
    assert header.split() == ["a", "b", "delta"]
    delta = result["per_trait"]["clarity"]["delta"]
    assert clarity.split() == ["clarity", str(result["per_trait"]["clarity"]["a"]),
                               str(result["per_trait"]["clarity"]["b"]), f"+{delta}" if delta > 0 else str(delta)]


async def test_compare_traits_filter_and_unknown(http, trained):
    url = f"/v1/models/{trained['handle']}/compare"
    only = (await http.post(url, json={"a": A, "b": B, "traits": ["Clarity"]}, headers=trained["headers"])).json()
    assert list(only["per_trait"]) == ["clarity"]
    bad = await http.post(url, json={"a": A, "b": B, "traits": ["depth"]}, headers=trained["headers"])
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_trait"


async def test_a_lone_url_is_fetched_and_scored(fetching_http, local_site, trained):
    headers = trained["headers"]
    by_url = await fetching_http.post(f"/v1/models/{trained['handle']}/score",
                                      json={"content": f"  {local_site.url('/article')}\n"}, headers=headers)
    assert by_url.status_code == 200, by_url.text
    extracted = (await fetching_http.post("/v1/extract", json={"url": local_site.url("/article")},
                                          headers=headers)).json()["content"]
    assert ARTICLE_TEXT in extracted
    by_text = await fetching_http.post(f"/v1/models/{trained['handle']}/score", json={"content": extracted},
                                       headers=headers)
    assert by_url.json()["scores"] == by_text.json()["scores"]


async def test_url_content_refused_when_private(http, local_site, trained):
    for content in (local_site.url("/article"), "http://169.254.169.254/latest/meta-data/"):
        response = await http.post(f"/v1/models/{trained['handle']}/score", json={"content": content},
                                   headers=trained["headers"])
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "fetch_failed"
        assert response.json()["error"]["details"]["reason"] == "address_not_allowed"


async def test_compare_fetches_either_side(fetching_http, local_site, trained):
    url = f"/v1/models/{trained['handle']}/compare"
    response = await fetching_http.post(url, json={"a": A, "b": local_site.url("/plain")}, headers=trained["headers"])
    assert response.status_code == 200
    plain = (await fetching_http.post(f"/v1/models/{trained['handle']}/score", json={"content": ARTICLE_TEXT},
                                      headers=trained["headers"])).json()
    assert response.json()["b"]["scores"] == plain["scores"]
    failed = await fetching_http.post(url, json={"a": local_site.url("/to-private"), "b": B},
                                      headers=trained["headers"])
    assert failed.status_code == 422 and failed.json()["error"]["code"] == "fetch_failed"
