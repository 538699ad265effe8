"""The database unreachable under a real API process: every request that needs it answers 503
`unavailable` in the envelope (SPEC §2), never a 500, and the process keeps serving what needs no
database. The database here is a PostgreSQL address nobody listens on, so the test needs no
database server to be stopped and runs the same on SQLite and PostgreSQL sessions.

(The soak's PostgreSQL restart drill covers recovery: `bench/soak.py`.)"""

from __future__ import annotations

import httpx

from tests.faults.api_process import ApiProcess
from tests.workflows.support import free_port


async def test_database_unreachable_answers_503_unavailable(settings, owner, tmp_path):
    nowhere = settings.model_copy(update={"database_url": f"postgresql://assay@127.0.0.1:{free_port()}/gone"})
    api = ApiProcess(nowhere, tmp_path)
    await api.start()
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
            keyed = owner["headers"]  # a well-formed key: checking it needs the database
            for method, path, body in (("GET", "/v1/models", None), ("GET", "/v1/models/acme.tone", None),
                                       ("POST", "/v1/models/acme.tone/score", {"content": "Hello there."})):
                response = await client.request(method, path, json=body, headers=keyed)
                assert response.status_code == 503, (path, response.text)
                error = response.json()["error"]
                assert error["code"] == "unavailable" and error["request_id"] == response.headers["x-request-id"]

            health = await client.get("/v1/health")
            assert health.status_code == 503
            assert health.json()["error"]["details"]["checks"]["database"] == "unreachable"

            assert (await client.get("/v1/openapi.json")).status_code == 200  # still serving
    finally:
        api.kill()
