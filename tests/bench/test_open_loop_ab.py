"""The open-loop A/B bench runs an API as `assay up --api-workers 2` does and charges each request
the CPU of its server processes, not of uvicorn's supervisor or multiprocessing's helper."""

from __future__ import annotations

import httpx

from bench.open_loop_ab import cpu_by_process, parse_env, server_pids
from tests.faults.api_process import ApiProcess


def test_variables_of_a_variant():
    assert parse_env("ASSAY_EMBEDDING_SLOTS=1,ASSAY_X=a=b") == {"ASSAY_EMBEDDING_SLOTS": "1", "ASSAY_X": "a=b"}
    assert parse_env("") == {}


async def test_server_processes_of_a_two_process_api(settings, tmp_path):
    api = ApiProcess(settings, tmp_path, processes=2)
    try:
        await api.start()
        servers = server_pids(api.process.pid)
        assert len(servers) == 2 and api.process.pid not in servers
        before = cpu_by_process(servers)
        for _ in range(50):  # a new connection each: the kernel hands them to either process
            async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as fresh:
                assert (await fresh.get("/v1/openapi.json")).status_code == 200
        assert sum(cpu_by_process(servers)) > sum(before)
    finally:
        api.stop()
    lone = ApiProcess(settings, tmp_path)
    try:
        await lone.start()
        assert server_pids(lone.process.pid) == [lone.process.pid]
    finally:
        lone.stop()
