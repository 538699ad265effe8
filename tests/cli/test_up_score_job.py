"""Whole-stack restart drill: `assay up` is killed (every part, SIGKILL) in the middle of a score job
and started again on the same data directory; the job completes with every item exactly once."""

from __future__ import annotations

import time

import httpx

from tests.api.trained import CLEAR, TRAITS, WARM, sample_rows
from tests.cli.test_up import RunningStack

ITEMS = 6000


def _poll(check, bound: float, what: str):
    deadline = time.monotonic() + bound
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not reached in {bound} s"
        time.sleep(0.5)


def test_a_score_job_survives_killing_and_restarting_the_whole_stack(tmp_path):
    data_dir = tmp_path / "stack"
    first = RunningStack(data_dir, "--workers", "2")
    try:
        first.wait_until_up()
        headers = first.dev_key_headers()
        api = httpx.Client(base_url=first.url, headers=headers, timeout=30)
        handle = "dev.drill"
        assert api.post("/v1/models", json={"handle": handle}).status_code == 201
        assert api.post(f"/v1/models/{handle}/traits", json={"traits": TRAITS}).status_code == 200
        assert api.post(f"/v1/models/{handle}/samples",
                        json={"samples": sample_rows(["clarity", "warmth"])}).status_code == 200
        assert api.post(f"/v1/models/{handle}/train", json={"effort": "low"}).status_code == 202
        _poll(lambda: api.get(f"/v1/models/{handle}").json()["state"] == "ready", 300, "model ready")
        items = [{"id": f"d{i}", "content": f"{(CLEAR + WARM)[i % 14]} Drill {i}."} for i in range(ITEMS)]
        started = api.post(f"/v1/models/{handle}/score-jobs", json={"items": items})
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        _poll(lambda: api.get(f"/v1/score-jobs/{job_id}").json()["counts"]["scored"] > 0, 300, "first chunk")
        before = api.get(f"/v1/score-jobs/{job_id}").json()
        assert before["state"] == "running" and before["counts"]["scored"] < ITEMS, before
        api.close()
    finally:
        first.kill()  # every part at once: Temporal, the workers and the API

    again = RunningStack(data_dir, "--workers", "2")
    try:
        again.wait_until_up()
        api = httpx.Client(base_url=again.url, headers=again.dev_key_headers(), timeout=30)
        job = _poll(lambda: (j := api.get(f"/v1/score-jobs/{job_id}").json())["state"] not in ("queued", "running")
                    and j, 600, "job finished")
        assert job["state"] == "succeeded" and job["counts"] == {"scored": ITEMS, "failed": 0}, job
        ids, cursor = [], None
        while True:
            page = api.get(f"/v1/score-jobs/{job_id}/results",
                           params={"limit": 1000, **({"cursor": cursor} if cursor else {})}).json()
            ids += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert ids == [f"d{i}" for i in range(ITEMS)]
        api.close()
        assert again.stop() == 0
    finally:
        again.kill()
