"""Score-job throughput: items/s of a job on 1 and on 2 worker processes, next to the in-process
embed rate of this machine in the same run.

The script starts its own embedded stack (as bench/orchestration.py): a Temporal dev server
(in memory), SQLite in a temporary directory, `python -m worker` processes with
ASSAY_WORKER_CONCURRENCY=1 (one chunk at a time, so a worker is one core's worth of scoring), and
the app in-process. It measures

1. the one-core embed rate: MiniLM `embed` of the short texts, in this process, items/s; and the
   one-core score rate (`Scorer.score`: embed + card) of the same texts;
2. a job of --items unique short texts (unique, so the worker's card cache saves nothing) on one
   worker, then on two: items/s from the job's own started_at → finished_at, and the wall time from
   POST to `succeeded`. Target: 2 workers ≥ 0.85 × (2 × the one-core embed rate).

Results go to bench/results/score_jobs.json and .md.

With --memory-items N (e.g. 100000) it instead runs one N-item job on two workers and samples the
resident memory of each worker and of this process (which serves the API) every second:
bench/results/score_jobs_memory.json and .md.

Run: .venv/bin/python -m bench.score_jobs [--items 4000] [--memory-items 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from bench import dev_server
from bench.orchestration import CLEAR, COLD, VAGUE, WARM, build, train_once

RESULTS = Path(__file__).parent / "results"
REPO_ROOT = Path(__file__).resolve().parents[1]
HEADS = WARM + COLD + CLEAR + VAGUE


def short_texts(count: int, salt: str) -> list[str]:
    return [f"{HEADS[n % len(HEADS)]}, order {n} {salt}." for n in range(count)]


def in_process_rates(texts: list[str], snapshot_json: str) -> dict:
    from engine.embedders import get_embedder
    from engine.scorer import Scorer
    from engine.snapshot import Snapshot

    embedder = get_embedder("minilm")
    embedder.embed("warm up")
    started = time.perf_counter()
    for text in texts:
        embedder.embed(text)
    embed_rate = len(texts) / (time.perf_counter() - started)
    scorer = Scorer(Snapshot.from_json(snapshot_json), embedder)
    started = time.perf_counter()
    for text in texts:
        scorer.score(text)
    score_rate = len(texts) / (time.perf_counter() - started)
    return {"embed_items_per_s": round(embed_rate, 1), "score_items_per_s": round(score_rate, 1)}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class MemorySampler:
    """RSS of the named processes, once a second, while a job runs."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: dict[str, list[float]] = {name: [] for name in pids}

    async def run(self) -> None:
        while True:
            for name, pid in self.pids.items():
                self.samples[name].append(round(rss_mb(pid), 1))
            await asyncio.sleep(1.0)

    def summary(self) -> dict:
        out = {}
        for name, values in self.samples.items():
            tenth = max(1, len(values) // 10)
            out[name] = {"first_tenth_mean_mb": round(sum(values[:tenth]) / tenth, 1),
                         "last_tenth_mean_mb": round(sum(values[-tenth:]) / tenth, 1),
                         "peak_mb": max(values), "samples": len(values)}
        return out


async def run_job(http: httpx.AsyncClient, headers: dict, handle: str, texts: list[str]) -> dict:
    body = "\n".join(json.dumps({"content": t}) for t in texts).encode()
    posted = time.perf_counter()
    response = await http.post(f"/v1/models/{handle}/score-jobs", content=body,
                               headers={**headers, "Content-Type": "application/x-ndjson"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    while True:
        job = (await http.get(f"/v1/score-jobs/{job_id}", headers=headers)).json()
        if job["state"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.2)
    wall = time.perf_counter() - posted
    assert job["state"] == "succeeded" and job["counts"]["scored"] == len(texts), job
    running = (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()
    return {"items": len(texts), "running_s": round(running, 2), "wall_s": round(wall, 2),
            "items_per_s": round(len(texts) / running, 1)}


def start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "worker"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for process in workers:
        process.send_signal(signal.SIGTERM)
    for process in workers:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


async def main(items: int, memory_items: int = 0) -> dict:
    from sqlalchemy import select
    from api.app import create_app
    from settings import Settings
    from store import keys
    from store.db import make_async_engine, make_sessionmaker
    from store.migrate import upgrade
    from store.tables import Model, Version

    workdir = Path(tempfile.mkdtemp(prefix="assay-bench-jobs-"))
    server, address, client = await dev_server.start()
    workers: list[subprocess.Popen] = []
    try:
        url = f"sqlite:///{workdir / 'assay.db'}"
        upgrade(url)
        settings = Settings(environment="test", data_dir=workdir, database_url=url, temporal_address=address,
                            task_queue="bench-jobs")
        env = {**os.environ, "ASSAY_ENVIRONMENT": "test", "ASSAY_DATABASE_URL": url,
               "ASSAY_TEMPORAL_ADDRESS": address, "ASSAY_TASK_QUEUE": "bench-jobs", "ASSAY_WORKER_CONCURRENCY": "1"}
        workers.append(start_worker(env))
        engine = make_async_engine(url)
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session:
            issued = await keys.create_key(session, ["bench"], "authoring")
            await session.commit()
        headers = {"Authorization": f"Bearer {issued.secret}"}

        app = create_app(settings, temporal_client=client)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=300) as http:
                handle = "bench.jobs"
                await build(http, headers, handle)
                _, body = await train_once(http, headers, handle)
                assert body["state"] == "ready", body["last_operation"]
                async with sessionmaker() as session:
                    model = await session.scalar(select(Model).where(Model.handle == handle))
                    snapshot_json = (await session.get(Version, model.active_version_id)).snapshot
                if memory_items:
                    workers.append(start_worker(env))
                    await run_job(http, headers, handle, short_texts(1000, "warmup"))
                    pids = {"api": os.getpid(), "worker_1": workers[0].pid, "worker_2": workers[1].pid}
                    sampler = MemorySampler(pids)
                    sampling = asyncio.create_task(sampler.run())
                    job = await run_job(http, headers, handle, short_texts(memory_items, "memory"))
                    sampling.cancel()
                    await engine.dispose()
                    return {"job_2_workers": job, "rss": sampler.summary(),
                            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                                        "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}}
                rates = in_process_rates(short_texts(1000, "inproc"), snapshot_json)
                one = await run_job(http, headers, handle, short_texts(items, "one"))
                workers.append(start_worker(env))
                await run_job(http, headers, handle, short_texts(1000, "warmup"))  # the new worker loads MiniLM
                two = await run_job(http, headers, handle, short_texts(2 * items, "two"))
        await engine.dispose()
    finally:
        stop_workers(workers)
        dev_server.stop(server)

    target = round(0.85 * 2 * rates["embed_items_per_s"], 1)
    return {
        "in_process_one_core": rates,
        "job_1_worker": one,
        "job_2_workers": two,
        "target_2_workers_items_per_s": target,
        "met": two["items_per_s"] >= target,
        "settings": {"chunk_size": settings.job_chunk_size, "chunks_in_flight": settings.job_chunks_in_flight,
                     "worker_concurrency": 1, "texts": "short (5–9 words), all unique"},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
    }


def write(results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "score_jobs.json").write_text(json.dumps(results, indent=2) + "\n")
    rates, one, two = results["in_process_one_core"], results["job_1_worker"], results["job_2_workers"]
    (RESULTS / "score_jobs.md").write_text(
        "# Score-job throughput\n\n"
        "Embedded stack started by `bench/score_jobs.py`: Temporal dev server, SQLite, `python -m worker` "
        "processes with one chunk at a time each, the app in-process. Short unique texts.\n\n"
        "| | items | items/s | running | wall (POST → succeeded) |\n|---|---:|---:|---:|---:|\n"
        f"| in-process `embed`, one core | 1000 | {rates['embed_items_per_s']} | | |\n"
        f"| in-process `Scorer.score`, one core | 1000 | {rates['score_items_per_s']} | | |\n"
        f"| job, 1 worker | {one['items']} | {one['items_per_s']} | {one['running_s']} s | {one['wall_s']} s |\n"
        f"| job, 2 workers | {two['items']} | {two['items_per_s']} | {two['running_s']} s | {two['wall_s']} s |\n\n"
        f"Target: 2 workers ≥ 0.85 × 2 × embed rate = {results['target_2_workers_items_per_s']} items/s — "
        f"{'met' if results['met'] else 'not met'}.\n\n"
        f"Machine: {results['machine']['cpus']} CPUs, Python {results['machine']['python']}, load average at the "
        f"end {results['machine']['load_average_at_end']} (shared with other work while measured).\n")


def write_memory(results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "score_jobs_memory.json").write_text(json.dumps(results, indent=2) + "\n")
    job = results["job_2_workers"]
    rows = "".join(f"| {name} | {r['first_tenth_mean_mb']} MB | {r['last_tenth_mean_mb']} MB | {r['peak_mb']} MB |\n"
                   for name, r in results["rss"].items())
    (RESULTS / "score_jobs_memory.md").write_text(
        "# Score-job memory\n\n"
        f"One {job['items']}-item job of short unique texts on two workers ({job['items_per_s']} items/s, "
        f"{job['running_s']} s running). Resident memory sampled every second; `api` is the benchmark "
        "process, which serves the API in-process.\n\n"
        "| process | mean, first tenth | mean, last tenth | peak |\n|---|---:|---:|---:|\n" + rows +
        f"\nMachine: {results['machine']['cpus']} CPUs, load average at the end "
        f"{results['machine']['load_average_at_end']} (shared with other work while measured).\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--memory-items", type=int, default=0)
    args = parser.parse_args()
    results = asyncio.run(main(args.items, args.memory_items))
    (write_memory if args.memory_items else write)(results)
    print(json.dumps(results, indent=2))
