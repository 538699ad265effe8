"""The scoring hot path reads no database once warm (issue #15), yet a revoked key and an archived
model are refused by every API process within 2 s, and at once by the process that made the change."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import event

from api.lookup_cache import TtlCache, model_cache
from tests.api.lookup_waits import refused_within
from tests.api.trained import CLEAR, trained_model
from tests.cli.cli_runner import cli_env, run_cli
from tests.faults.api_process import ApiProcess

SPREAD_LIMIT = 2.0


@pytest.fixture
async def model(http, make_key, sessionmaker_):
    return await trained_model(http, make_key, sessionmaker_, "c")


@pytest.fixture
async def two_api_processes(settings, tmp_path):
    processes = [ApiProcess(settings, tmp_path / str(index)) for index in range(2)]
    try:
        await asyncio.gather(*(process.start() for process in processes))
        clients = [httpx.AsyncClient(base_url=process.base_url, timeout=30) for process in processes]
        yield clients
        for client in clients:
            await client.aclose()
    finally:
        for process in processes:
            process.stop()


def score_url(handle: str) -> str:
    return f"/v1/models/{handle}/score"


async def test_warm_score_runs_no_sql(app, http, model):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = app.state.engine.sync_engine
    body = {"content": CLEAR[0]}
    assert (await http.post(score_url(model["handle"]), json=body, headers=model["scorer"]["headers"])).status_code == 200
    event.listen(engine, "before_cursor_execute", count)
    try:
        warm = await http.post(score_url(model["handle"]), json=body, headers=model["scorer"]["headers"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert warm.status_code == 200
    assert statements == []


async def test_revoked_key_is_refused_by_every_api_process_within_2_s(database_url, model, two_api_processes):
    headers, handle = model["scorer"]["headers"], model["handle"]
    for client in two_api_processes:  # each process has verified (and cached) the key
        assert (await client.post(score_url(handle), json={"content": CLEAR[0]}, headers=headers)).status_code == 200
    revoked = await run_cli("keys", "revoke", model["scorer"]["prefix"], env=cli_env(ASSAY_DATABASE_URL=database_url))
    assert revoked.exit_code == 0, revoked.stderr
    answers = await asyncio.gather(*(refused_within(client, SPREAD_LIMIT, "POST", score_url(handle),
                                                    json={"content": CLEAR[1]}, headers=headers)
                                     for client in two_api_processes))
    for answer in answers:
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


async def test_archived_model_stops_scoring_at_once_here_and_within_2_s_elsewhere(model, two_api_processes):
    here, elsewhere = two_api_processes
    handle, scorer = model["handle"], model["scorer"]["headers"]
    for client in two_api_processes:
        assert (await client.post(score_url(handle), json={"content": CLEAR[0]}, headers=scorer)).status_code == 200
    archived = await here.delete(f"/v1/models/{handle}", headers=model["owner"]["headers"])
    assert archived.status_code == 200, archived.text
    at_once = await here.post(score_url(handle), json={"content": CLEAR[0]}, headers=scorer)
    assert at_once.status_code == 409 and at_once.json()["error"]["code"] == "model_archived"
    later = await refused_within(elsewhere, SPREAD_LIMIT, "POST", f"{score_url(handle)}/batch",
                                 json={"items": [{"content": CLEAR[0]}]}, headers=scorer)
    assert later.status_code == 409 and later.json()["error"]["code"] == "model_archived"


async def test_a_cached_row_naming_a_pruned_version_is_read_again(http, model):
    """Another process activated a newer version and pruned the one this process's cached row names."""
    headers, handle = model["scorer"]["headers"], model["handle"]
    first = await http.post(score_url(handle), json={"content": CLEAR[0]}, headers=headers)
    cache = model_cache()
    stale = replace(cache.get(handle), active_version_id=10**12)  # no such version any more
    cache.put(handle, stale, cache.generation, read_at=time.monotonic())
    again = await http.post(score_url(handle), json={"content": CLEAR[0]}, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["scores"] == first.json()["scores"]


def test_entries_expire_and_a_lookup_older_than_a_clear_is_not_kept(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("api.lookup_cache.time.monotonic", lambda: now[0])
    cache: TtlCache[str, int] = TtlCache(ttl=1.0, max_entries=2)
    cache.put("a", 1, cache.generation, read_at=100.0)
    now[0] = 100.99
    assert cache.get("a") == 1
    now[0] = 101.0
    assert cache.get("a") is None  # expired one TTL after it was read, however often it was used
    started = cache.generation
    cache.clear()  # a change committed while the lookup below was in flight
    cache.put("b", 2, started, read_at=now[0])
    assert cache.get("b") is None
    for key in "xyz":
        cache.put(key, 3, cache.generation, read_at=now[0])
    assert len(cache) == 2 and cache.get("x") is None  # bounded: the oldest went first
