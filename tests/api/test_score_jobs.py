"""Score jobs (SPEC §9.2) on the real stack: API, Temporal dev server, in-process worker, database, MiniLM."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import numpy as np
import pytest
from sqlalchemy import func, select

from store.tables import ScoreJob, ScoreJobItem
from tests.api.test_models import read_all_pages
from tests.api.trained import CLEAR, COLD, UNCLEAR, WARM, create_model, train_now

TEXTS = CLEAR + UNCLEAR + WARM + COLD


@pytest.fixture(scope="module")
async def trained(make_key, http, sessionmaker_, worker):
    namespace = f"j{uuid.uuid4().hex[:12]}"
    owner = await make_key(namespace)
    handle = f"{namespace}.replies"
    await create_model(http, owner["headers"], handle)
    await train_now(sessionmaker_, handle)
    return {"handle": handle, "owner": owner, "namespace": namespace}


async def wait_for_state(http, job_id: str, headers, states=("succeeded", "failed", "cancelled"),
                         bound: float = 120.0) -> dict:
    deadline = time.monotonic() + bound
    while True:
        response = await http.get(f"/v1/score-jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job = response.json()
        if job["state"] in states:
            return job
        assert time.monotonic() < deadline, f"job still {job['state']} after {bound} s: {job}"
        await asyncio.sleep(0.2)


async def all_results(http, job_id: str, headers, limit: int = 1000) -> list[dict]:
    return await read_all_pages(http, f"/v1/score-jobs/{job_id}/results", {"headers": headers}, limit=limit)


def recomputed_summary(results: list[dict]) -> dict:
    scores, tiers, confidence = {}, {}, {}
    for item in results:
        if "result" not in item:
            continue
        for key, detail in item["result"]["detail"].items():
            scores.setdefault(key, []).append(detail["score"])
            tier = tiers.setdefault(key, {"Weak": 0, "Developing": 0, "Solid": 0, "Strong": 0, "null": 0})
            tier[detail["label"] or "null"] += 1
            levels = confidence.setdefault(key, {"low": 0, "moderate": 0, "high": 0})
            levels[detail["confidence"]] += 1
    return {key: {"mean": round(sum(v) / len(v), 2),
                  **{f"p{q}": round(float(np.percentile(np.array(v, dtype=float), q)), 2) for q in (10, 50, 90)},
                  "tiers": tiers[key], "confidence": confidence[key]} for key, v in scores.items()}


def without_request_id(card: dict) -> dict:
    return {**card, "metadata": {k: v for k, v in card["metadata"].items() if k != "request_id"}}


async def test_small_job_gives_the_single_score_cards_in_input_order(http, trained):
    headers, handle = trained["owner"]["headers"], trained["handle"]
    contents = [TEXTS[i % 7] + (" Thanks." if i % 3 == 0 else "") for i in range(24)]
    items = [{"id": f"item-{i}", "content": c} for i, c in enumerate(contents)]
    items.append({"content": "https://example.com/page"})  # a lone URL fails alone; its id is its index
    response = await http.post(f"/v1/models/{handle}/score-jobs", json={"items": items}, headers=headers)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["state"] == "queued" and accepted["job_id"].startswith("job_")
    job = await wait_for_state(http, accepted["job_id"], headers)
    assert job["state"] == "succeeded", job
    assert job["counts"] == {"scored": 24, "failed": 1}
    assert job["progress"]["done"] == job["progress"]["total"] == 25 and job["version_id"] == "v1"

    results = await all_results(http, accepted["job_id"], headers, limit=7)
    assert [r["id"] for r in results] == [f"item-{i}" for i in range(24)] + ["24"]
    assert results[-1]["error"]["code"] == "fetch_failed"
    for content, item in zip(contents[:6], results):
        single = await http.post(f"/v1/models/{handle}/score", json={"content": content}, headers=headers)
        assert without_request_id(item["result"]) == without_request_id(single.json())
        # byte for byte: the NDJSON stream sends the stored card as the single score sends it
    streamed = await http.get(f"/v1/score-jobs/{accepted['job_id']}/results",
                              headers={**headers, "Accept": "application/x-ndjson"})
    lines = streamed.content.decode().splitlines()
    assert len(lines) == 25
    single = await http.post(f"/v1/models/{handle}/score", json={"content": contents[0]}, headers=headers)
    first = json.loads(lines[0])
    request_id = single.json()["metadata"]["request_id"]
    assert lines[0] == '{"id":"item-0","result":' + single.text.replace(request_id, first["result"]["metadata"]["request_id"]) + "}"
    assert job["summary"] == recomputed_summary(results)


async def test_ndjson_bad_line_is_refused_with_its_number_and_nothing_is_stored(http, trained, sessionmaker_):
    headers, handle = trained["owner"]["headers"], trained["handle"]
    good = json.dumps({"content": "A fine line."})
    body = "\n".join([good, good.replace("A fine", "Another"), "", '{"content": "   "}', good]).encode()
    async with sessionmaker_() as session:
        before = await session.scalar(select(func.count()).select_from(ScoreJob))
    response = await http.post(f"/v1/models/{handle}/score-jobs", content=body,
                               headers={**headers, "Content-Type": "application/x-ndjson"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["line"] == 4
    response = await http.post(f"/v1/models/{handle}/score-jobs", content=b'{"content": "ok"}\n{"content": ',
                               headers={**headers, "Content-Type": "application/x-ndjson"})
    assert response.status_code == 422 and response.json()["error"]["details"] == {"line": 2, "reason": "invalid_json"}
    async with sessionmaker_() as session:
        assert await session.scalar(select(func.count()).select_from(ScoreJob)) == before


async def test_another_namespace_gets_404_on_the_job_and_its_results(http, trained, make_key):
    headers, handle = trained["owner"]["headers"], trained["handle"]
    response = await http.post(f"/v1/models/{handle}/score-jobs", json={"items": [{"content": TEXTS[0]}]},
                               headers=headers)
    job_id = response.json()["job_id"]
    await wait_for_state(http, job_id, headers)
    stranger = await make_key(f"x{uuid.uuid4().hex[:12]}")
    for path in (f"/v1/score-jobs/{job_id}", f"/v1/score-jobs/{job_id}/results"):
        answer = await http.get(path, headers=stranger["headers"])
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    answer = await http.post(f"/v1/score-jobs/{job_id}/cancel", headers=stranger["headers"])
    assert answer.status_code == 404
    listed = await http.get(f"/v1/models/{handle}/score-jobs", headers=headers)
    assert job_id in [j["job_id"] for j in listed.json()["items"]]
    reader = await make_key(trained["namespace"], scope="scoring")  # shares the namespace: sees it
    assert (await http.get(f"/v1/score-jobs/{job_id}", headers=reader["headers"])).status_code == 200


async def test_cancel_mid_job_stops_within_5_s_and_nothing_more_is_scored(http, trained, sessionmaker_):
    headers, handle = trained["owner"]["headers"], trained["handle"]
    items = [{"content": f"{TEXTS[i % len(TEXTS)]} Case {i}."} for i in range(6000)]  # unique texts
    response = await http.post(f"/v1/models/{handle}/score-jobs", json={"items": items}, headers=headers)
    job_id = response.json()["job_id"]
    deadline = time.monotonic() + 120
    while (job := (await http.get(f"/v1/score-jobs/{job_id}", headers=headers)).json())["counts"]["scored"] == 0:
        assert time.monotonic() < deadline and job["state"] in ("queued", "running"), job
        await asyncio.sleep(0.1)
    asked = time.monotonic()
    response = await http.post(f"/v1/score-jobs/{job_id}/cancel", headers=headers)
    assert response.status_code == 200 and response.json()["state"] == "cancelled", (
        response.text, (await http.get(f"/v1/score-jobs/{job_id}", headers=headers)).text)
    assert time.monotonic() - asked < 5
    scored = response.json()["counts"]["scored"]
    assert scored < 6000
    await asyncio.sleep(3)  # chunks in flight notice the cancel at their next heartbeat
    async with sessionmaker_() as session:
        row = await session.scalar(select(ScoreJob).where(ScoreJob.job_id == job_id))
        written = await session.scalar(select(func.count()).select_from(ScoreJobItem).where(
            ScoreJobItem.job_pk == row.id, ScoreJobItem.result.is_not(None)))
    assert row.state == "cancelled" and row.scored == scored and written == scored
    again = await http.post(f"/v1/score-jobs/{job_id}/cancel", headers=headers)
    assert again.status_code == 200 and again.json()["counts"]["scored"] == scored
    results = await all_results(http, job_id, headers)
    assert sum("result" in r for r in results) == scored
    assert {r["error"]["code"] for r in results if "error" in r} == {"not_scored"}


async def test_a_20000_item_job_with_duplicates_completes_in_order_with_a_matching_summary(http, trained):
    headers, handle = trained["owner"]["headers"], trained["handle"]
    unique = [f"{TEXTS[i % len(TEXTS)]} Ref {i}." for i in range(2000)]
    lines = [json.dumps({"id": f"r{i}", "content": unique[(i * 7919) % len(unique)]}) for i in range(20_000)]
    started = time.monotonic()
    response = await http.post(f"/v1/models/{handle}/score-jobs", content="\n".join(lines).encode(),
                               headers={**headers, "Content-Type": "application/x-ndjson"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    job = await wait_for_state(http, job_id, headers, bound=300)
    assert job["state"] == "succeeded" and job["counts"] == {"scored": 20_000, "failed": 0}, job
    assert job["progress"]["items_per_s"] and job["progress"]["eta_s"] == 0.0
    results = await all_results(http, job_id, headers)
    assert [r["id"] for r in results] == [f"r{i}" for i in range(20_000)]
    assert job["summary"] == recomputed_summary(results)
    # identical texts got identical cards
    first_of = {}
    for i, item in enumerate(results):
        text = unique[(i * 7919) % len(unique)]
        assert first_of.setdefault(text, item["result"]["scores"]) == item["result"]["scores"]
    print(f"20,000 items ({len(unique)} unique) in {time.monotonic() - started:.1f} s")


async def test_archiving_the_model_cancels_its_open_jobs(http, make_key, sessionmaker_):
    namespace = f"a{uuid.uuid4().hex[:12]}"
    owner = await make_key(namespace)
    handle = f"{namespace}.replies"
    await create_model(http, owner["headers"], handle)
    await train_now(sessionmaker_, handle)
    items = [{"content": f"{TEXTS[i % len(TEXTS)]} Case {i}."} for i in range(4000)]
    job_id = (await http.post(f"/v1/models/{handle}/score-jobs", json={"items": items},
                              headers=owner["headers"])).json()["job_id"]
    assert (await http.delete(f"/v1/models/{handle}", headers=owner["headers"])).status_code == 200
    job = (await http.get(f"/v1/score-jobs/{job_id}", headers=owner["headers"])).json()
    assert job["state"] == "cancelled" and job["error"]["code"] == "model_archived"
    scored = job["counts"]["scored"]
    await asyncio.sleep(2)
    assert (await http.get(f"/v1/score-jobs/{job_id}", headers=owner["headers"])).json()["counts"]["scored"] == scored


async def test_a_job_past_retention_is_gone_with_its_items(http, trained, sessionmaker_, settings):
    from datetime import timedelta

    from store import score_jobs as job_store
    from store.tables import utcnow

    headers, handle = trained["owner"]["headers"], trained["handle"]
    job_id = (await http.post(f"/v1/models/{handle}/score-jobs", json={"items": [{"content": TEXTS[1]}]},
                              headers=headers)).json()["job_id"]
    await wait_for_state(http, job_id, headers)
    async with sessionmaker_() as session:
        row = await session.scalar(select(ScoreJob).where(ScoreJob.job_id == job_id))
        row.finished_at = utcnow() - timedelta(days=settings.job_retention_days, minutes=1)
        await session.commit()
    assert (await http.get(f"/v1/score-jobs/{job_id}", headers=headers)).status_code == 404
    async with sessionmaker_() as session:
        deleted = await session.run_sync(lambda s: job_store.delete_expired(s, timedelta(days=settings.job_retention_days)))
        await session.commit()
        left = await session.scalar(select(func.count()).select_from(ScoreJobItem).where(ScoreJobItem.job_pk == row.id))
    assert deleted >= 1 and left == 0


async def test_under_zdr_no_content_is_kept_after_scoring(http, make_key, sessionmaker_):
    namespace = f"z{uuid.uuid4().hex[:12]}"
    owner = await make_key(namespace)
    handle = f"{namespace}.private"
    await create_model(http, owner["headers"], handle, zero_data_retention=True)
    await train_now(sessionmaker_, handle)
    secret = "My account number is 4417 and my password is hunter2."
    response = await http.post(f"/v1/models/{handle}/score-jobs", json={"items": [{"content": secret}] * 3,
                                                                        "traits": ["warmth"]},
                               headers=owner["headers"])
    assert response.status_code == 202, response.text
    job = await wait_for_state(http, response.json()["job_id"], owner["headers"])
    assert job["state"] == "succeeded" and list(job["summary"]) == ["warmth"]
    async with sessionmaker_() as session:
        row = await session.scalar(select(ScoreJob).where(ScoreJob.job_id == job["job_id"]))
        items = list(await session.scalars(select(ScoreJobItem).where(ScoreJobItem.job_pk == row.id)))
    assert [i.content for i in items] == [None, None, None]
    assert all("hunter2" not in i.result and list(json.loads(i.result)["scores"]) == ["warmth"] for i in items)


async def test_ndjson_traits_come_from_the_query_and_unknown_ones_are_refused(http, trained):
    headers, handle = {**trained["owner"]["headers"], "Content-Type": "application/x-ndjson"}, trained["handle"]
    body = b'{"content": "Thanks so much, we are glad to help."}\n'
    refused = await http.post(f"/v1/models/{handle}/score-jobs", params={"traits": "nope"}, content=body,
                              headers=headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_trait"
    accepted = await http.post(f"/v1/models/{handle}/score-jobs", params={"traits": "Warmth"}, content=body,
                               headers=headers)
    assert accepted.status_code == 202, accepted.text
    job = await wait_for_state(http, accepted.json()["job_id"], trained["owner"]["headers"])
    assert job["traits"] == ["Warmth"] and list(job["summary"]) == ["warmth"]
