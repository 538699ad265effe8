"""POST …/score on a model trained by the real engine with the real MiniLM embedder."""

from __future__ import annotations

import json
import uuid

import pytest

from engine.card import composite_score
from engine.render import render_card
from tests.api.trained import create_model, train_now, trained_model

TEXT = "Open Settings, choose Security, and press Reset password. You'll get an email within a minute."


@pytest.fixture(scope="module")
async def trained(make_key, http, sessionmaker_):
    return await trained_model(http, make_key, sessionmaker_, "s")


async def score(http, handle, headers, **body):
    return await http.post(f"/v1/models/{handle}/score", json=body, headers=headers)


def assert_card_rules(card: dict) -> None:
    """Every rule of SPEC §4 that can be checked from the card alone."""
    assert list(card["scores"]) == list(card["detail"])
    for key, detail in card["detail"].items():
        score = detail["score"]
        assert isinstance(score, int) and 0 <= score <= 100 and card["scores"][key] == score
        assert detail["confidence"] in ("high", "moderate", "low")
        breaks = detail["breaks"]
        assert breaks["developing"] <= breaks["solid"] <= breaks["strong"]
        tier = ("Strong" if score >= breaks["strong"] else "Solid" if score >= breaks["solid"]
                else "Developing" if score >= breaks["developing"] else "Weak")
        if detail["confidence"] == "low":
            assert detail["label"] is None and detail["headroom"] is None
        else:
            assert detail["label"] == tier
            expected = {"Weak": breaks["developing"] - score, "Developing": breaks["solid"] - score,
                        "Solid": breaks["strong"] - score, "Strong": 0}[tier]
            assert detail["headroom"] == max(0, expected) and detail["headroom"] >= 0
        low, high = detail["band"]
        assert isinstance(low, int) and isinstance(high, int) and low <= high
        assert -1.0 <= detail["native"]["polarity"] <= 1.0
    assert card["composite"] == composite_score(list(card["scores"].values()))
    order = ["low", "moderate", "high"]
    assert card["confidence"] == min((d["confidence"] for d in card["detail"].values()), key=order.index)
    headrooms = [d["headroom"] for d in card["detail"].values() if d["headroom"] is not None]
    assert card["headroom"] == (max(headrooms) if headrooms else None)
    assert card["input_tokens"] > 0


async def test_score_json_follows_every_card_rule(http, trained):
    response = await score(http, trained["handle"], trained["scorer"]["headers"], content=TEXT)
    assert response.status_code == 200, response.text
    card = response.json()
    assert set(card) == {"scores", "composite", "confidence", "headroom", "detail", "input_tokens", "metadata"}
    assert set(card["scores"]) == {"clarity", "warmth"}
    assert_card_rules(card)
    assert card["metadata"] == {"request_id": response.headers["x-request-id"], "version_id": "v1", "sample_ids": []}


async def test_clear_text_outscores_muddled_text(http, trained):
    clear = (await score(http, trained["handle"], trained["owner"]["headers"], content=TEXT)).json()
    muddled = (await score(http, trained["handle"], trained["owner"]["headers"],
                           content="Going forward, synergies may be actioned holistically, kind of, as it were.")).json()
    assert clear["scores"]["clarity"] > muddled["scores"]["clarity"]


async def test_same_text_gives_byte_identical_json(http, trained):
    bodies = []
    for _ in range(2):
        response = await score(http, trained["handle"], trained["scorer"]["headers"], content=TEXT)
        body = response.json()
        body["metadata"]["request_id"] = None
        bodies.append(json.dumps(body))
    assert bodies[0] == bodies[1]


async def test_plain_text_body_is_the_content(http, trained):
    as_json = (await score(http, trained["handle"], trained["scorer"]["headers"], content=TEXT)).json()
    response = await http.post(f"/v1/models/{trained['handle']}/score", content=TEXT.encode(),
                               headers={**trained["scorer"]["headers"], "Content-Type": "text/plain"})
    assert response.status_code == 200
    assert response.json()["scores"] == as_json["scores"]


async def test_text_view_is_the_bar_chart(http, trained):
    card = (await score(http, trained["handle"], trained["scorer"]["headers"], content=TEXT)).json()
    response = await http.post(f"/v1/models/{trained['handle']}/score", json={"content": TEXT},
                               headers={**trained["scorer"]["headers"], "Accept": "text/plain"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-version-id"] == "v1"
    assert response.text == render_card(card)
    lines = response.text.splitlines()
    assert len(lines) == 4 and lines[3].startswith("Composite")
    for key, line in zip(["clarity", "warmth"], lines[:2]):
        cells = (2 * card["scores"][key] + 5) // 10
        assert line.startswith(key.ljust(len("Composite")) + "  " + "█" * cells + "░" * (20 - cells))
        assert f"{card['scores'][key]:>3}" in line


async def test_traits_filter_by_key_or_name(http, trained):
    by_key = (await score(http, trained["handle"], trained["scorer"]["headers"], content=TEXT, traits=["warmth"])).json()
    by_name = (await score(http, trained["handle"], trained["scorer"]["headers"], content=TEXT, traits=["Warmth"])).json()
    assert list(by_key["scores"]) == ["warmth"] and by_key["scores"] == by_name["scores"]
    assert by_key["composite"] == by_key["scores"]["warmth"]  # one trait: the composite is that score
    assert_card_rules(by_key)
    text = await http.post(f"/v1/models/{trained['handle']}/score", json={"content": TEXT, "traits": ["warmth"]},
                           headers={**trained["scorer"]["headers"], "Accept": "text/plain"})
    assert "Composite" not in text.text and len(text.text.splitlines()) == 1


async def test_unknown_trait_is_422(http, trained):
    response = await score(http, trained["handle"], trained["scorer"]["headers"], content=TEXT, traits=["nope"])
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "unknown_trait" and error["details"]["traits"] == ["nope"]


async def test_bad_bodies(http, trained):
    url = f"/v1/models/{trained['handle']}/score"
    headers = trained["scorer"]["headers"]
    empty = await http.post(url, content=b"", headers={**headers, "Content-Type": "application/json"})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "bad_request"
    broken = await http.post(url, content=b"{not json", headers={**headers, "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "bad_request"
    missing = await http.post(url, json={"traits": ["clarity"]}, headers=headers)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "validation_error"


async def test_pinned_handles(http, trained, sessionmaker_):
    owner = trained["owner"]["headers"]
    tagged = await http.post(f"/v1/models/{trained['handle']}/versions/first", headers=owner)
    assert tagged.status_code == 201 and tagged.json()["version_no"] == 1
    by_number = (await score(http, trained["handle"] + "@v1", trained["scorer"]["headers"], content=TEXT)).json()
    by_tag = (await score(http, trained["handle"] + "@first", trained["scorer"]["headers"], content=TEXT)).json()
    assert by_number["metadata"]["version_id"] == by_tag["metadata"]["version_id"] == "v1"
    assert by_number["scores"] == by_tag["scores"]
    missing = await score(http, trained["handle"] + "@v9", trained["scorer"]["headers"], content=TEXT)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_unreadable_model_is_404(http, trained, make_key):
    stranger = await make_key(f"x{uuid.uuid4().hex[:10]}", scope="scoring")
    response = await score(http, trained["handle"], stranger["headers"], content=TEXT)
    assert response.status_code == 404


async def test_model_not_ready_and_archived(http, owner, namespace, sessionmaker_):
    handle = f"{namespace}.fresh"
    await create_model(http, owner["headers"], handle, trait_keys=("clarity",))
    response = await score(http, handle, owner["headers"], content=TEXT)
    assert response.status_code == 409 and response.json()["error"]["code"] == "model_not_ready"
    await train_now(sessionmaker_, handle)
    assert (await score(http, handle, owner["headers"], content=TEXT)).status_code == 200
    assert (await http.delete(f"/v1/models/{handle}", headers=owner["headers"])).status_code == 200
    response = await score(http, handle, owner["headers"], content=TEXT)
    assert response.status_code == 409 and response.json()["error"]["code"] == "model_archived"


async def test_public_models_score_for_any_key(http, make_key, sessionmaker_):
    publisher = await make_key("public")
    handle = f"public.replies-{uuid.uuid4().hex[:8]}"
    await create_model(http, publisher["headers"], handle, trait_keys=("warmth",))
    await train_now(sessionmaker_, handle)
    outsider = await make_key(f"o{uuid.uuid4().hex[:10]}", scope="scoring")
    response = await score(http, handle, outsider["headers"], content="Thanks so much, happy to help!")
    assert response.status_code == 200 and list(response.json()["scores"]) == ["warmth"]
