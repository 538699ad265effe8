"""Soak: sustained mixed load on the `assay up` stack, then fault drills under traffic.

1. Start the stack (2 API processes, 2 workers; SQLite in a temp data dir, or a fresh PostgreSQL
   database with `--database postgres`), train a few models through the REST API with the dev key.
2. `--minutes` (default 10) of closed-loop traffic: 88 % score, 2 % score with feedback on an owned
   model (so background retrains run), 10 % reads (model, list, samples), plus a new draft model
   trained every `--train-every` seconds. Every process's RSS is sampled every 5 s.
3. Fault drills, traffic still running: Temporal stopped for 30 s; PostgreSQL restarted (PostgreSQL
   mode only); the worker running a fit SIGKILLed; the API's process group SIGKILLed mid sample batch.
4. Every acknowledged write is looked up again; results go to bench/results/soak.json and soak.md.

Run: .venv/bin/python -m bench.soak [--minutes 10] [--clients 8] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx

from bench.soak_load import Ledger, Recorder, Traffic
from bench.soak_report import component_trend, markdown, memory_trend, verify_writes, versions, wait_settled
from bench.soak_stack import SoakStack

RESULTS = Path(__file__).parent / "results"
NAMESPACE = "dev"  # the dev key's namespace
RSS_EVERY = 5.0
TEMPORAL_OUTAGE = 30.0
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432"
DRILLS = ["temporal_down", "db_restart", "worker_kill", "api_kill"]


class Soak:
    def __init__(self, stack: SoakStack, args: argparse.Namespace) -> None:
        self.stack = stack
        self.args = args
        self.headers = {"Authorization": f"Bearer {stack.dev_key}"}
        self.recorder = Recorder()
        self.ledger = Ledger()
        self.rss: list[tuple[str, float, dict[str, int]]] = []
        self.temporal_memory: list[tuple[str, float, dict[str, int]]] = []
        self.client = httpx.AsyncClient(base_url=stack.api_url, limits=httpx.Limits(max_connections=64))
        scored = [f"{NAMESPACE}.soak-score-{n}" for n in range(3)]
        self.traffic = Traffic(self.client, self.headers, NAMESPACE, scored, f"{NAMESPACE}.soak-feedback",
                               self.recorder, self.ledger)

    # --- plumbing ----------------------------------------------------------------------------

    async def sample_rss(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sample = await asyncio.to_thread(self.stack.sample_rss)
            self.rss.append((self.recorder.phase, time.monotonic(), sample))
            breakdown = await asyncio.to_thread(self.stack.temporal_memory)
            self.temporal_memory.append((self.recorder.phase, time.monotonic(), breakdown))
            try:
                await asyncio.wait_for(stop.wait(), RSS_EVERY)
            except asyncio.TimeoutError:
                pass

    async def under_traffic(self, phase: str, body, trainer: bool = True):
        """Runs `body()` while the clients (and the trainer) keep going; returns body's result."""
        self.recorder.phase = phase
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self.traffic.clients(self.args.clients, stop))]
        if trainer:
            tasks.append(asyncio.create_task(self.traffic.trainer(self.args.train_every, stop)))
        try:
            return await body()
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    async def until(self, predicate, limit: float, pause: float = 0.5) -> float | None:
        """Seconds until `await predicate()` is true, or None after `limit`."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            if await predicate():
                return round(time.monotonic() - started, 2)
            await asyncio.sleep(pause)
        return None

    async def model(self, handle: str) -> dict:
        response = await self.client.get(f"/v1/models/{handle}", headers=self.headers, timeout=30)
        return response.json()

    # --- phases ------------------------------------------------------------------------------

    async def setup(self) -> dict:
        started = time.monotonic()
        for handle in [*self.traffic.scored, self.traffic.feedback_model]:
            assert await self.traffic.draft(handle, per_pole=10, salt=handle), f"could not build {handle}"
            response = await self.traffic.train(handle)
            assert response is not None and response.status_code == 202, response and response.text
        for handle in [*self.traffic.scored, self.traffic.feedback_model]:
            body = await wait_settled(self.client, self.headers, handle)
            assert body["state"] == "ready", body
        return {"models": len(self.traffic.scored) + 1, "seconds": round(time.monotonic() - started, 1)}

    async def sustained(self) -> dict:
        await self.under_traffic("soak", lambda: asyncio.sleep(self.args.minutes * 60))
        window = [(at, sample) for phase, at, sample in self.rss if phase == "soak"]
        temporal_window = [(at, sample) for phase, at, sample in self.temporal_memory if phase == "soak"]
        # Version numbers are never reused and pruning keeps only the newest 100 untagged versions, so
        # the newest number counts the retrains (v1 is the setup's training; nothing else trains it).
        stored = await versions(self.client, self.headers, self.traffic.feedback_model)
        retrains = max((v["version_no"] for v in stored), default=1) - 1
        return {"traffic": self.recorder.summary("soak"), "memory": memory_trend(window),
                "temporal_memory": component_trend(temporal_window),
                "trainings_started": sum(1 for h in self.ledger.trained if "soak-train" in h),
                "background_retrains": retrains}

    async def temporal_down(self) -> dict:
        open_run = f"{NAMESPACE}.soak-open-run"
        refused = f"{NAMESPACE}.soak-refused"
        await self.traffic.draft(open_run, per_pole=30, salt=uuid.uuid4().hex)
        await self.traffic.draft(refused, per_pole=6, salt=uuid.uuid4().hex)
        run = await self.traffic.train(open_run, effort="high")
        outcome: dict = {"open_run_started": run is not None and run.status_code == 202}

        async def drill() -> None:
            await asyncio.to_thread(self.stack.stop_temporal)
            stopped = time.monotonic()
            health, open_reads, refusal = [], [], None
            while time.monotonic() - stopped < TEMPORAL_OUTAGE:
                response = await self.traffic.call("health", "GET", "/v1/health")
                health.append(response.status_code if response is not None else 0)
                read = await self.traffic.call("read_open_run", "GET", f"/v1/models/{open_run}")
                open_reads.append(read.json()["state"] if read is not None and read.status_code == 200 else "error")
                if refusal is None:
                    response = await self.traffic.train(refused)
                    refusal = response.status_code if response is not None else 0
                    outcome["refused_train_status"] = refusal
                    outcome["refused_model_state_after"] = (await self.model(refused))["state"]
                await asyncio.sleep(1)
            outcome["health_statuses_during"] = {str(s): health.count(s) for s in sorted(set(health))}
            outcome["open_run_model_states_during"] = {s: open_reads.count(s) for s in sorted(set(open_reads))}
            await asyncio.to_thread(self.stack.start_temporal)
            outcome["health_200_after_restart_s"] = await self.until(self._healthy, 120)
            outcome["parts_dead_after_outage"] = self.stack.dead_parts()
            for name in outcome["parts_dead_after_outage"]:
                if name.startswith("worker"):
                    self.stack.respawn_worker(self.stack.parts()[name])

        await self.under_traffic("temporal_down", drill)
        self.ledger.refused_trains = [h for h in self.ledger.refused_trains if h != refused]
        retry = await self.traffic.train(refused)
        outcome["refused_model_retrain_after_recovery"] = retry.status_code if retry is not None else 0
        outcome["open_run_final_state"] = (await wait_settled(self.client, self.headers, open_run))["state"]
        outcome["open_run_versions"] = len(await versions(self.client, self.headers, open_run))
        outcome["traffic"] = self.recorder.summary("temporal_down")
        return outcome

    async def _healthy(self) -> bool:
        response = await self.traffic.call("health", "GET", "/v1/health")
        return response is not None and response.status_code == 200

    async def db_restart(self) -> dict:
        outcome: dict = {}
        probe = self.traffic.scored[0]

        async def reads_again() -> bool:
            response = await self.traffic.call("read_model", "GET", f"/v1/models/{probe}")
            return response is not None and response.status_code == 200

        async def drill() -> None:
            await asyncio.sleep(10)
            cluster = sorted(os.listdir("/etc/postgresql"))[-1]
            started = time.monotonic()
            restart = await asyncio.create_subprocess_exec(
                "pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            _, stderr = await restart.communicate()
            outcome["pg_ctlcluster_exit"] = restart.returncode
            outcome["restart_command_s"] = round(time.monotonic() - started, 2)
            recovered = await self.until(reads_again, 120, pause=0.2)
            outcome["reads_200_after_restart_began_s"] = (
                None if recovered is None else round(recovered + outcome["restart_command_s"], 2))
            outcome["health_200_after_s"] = await self.until(self._healthy, 60)
            await asyncio.sleep(15)

        await self.under_traffic("db_restart", drill)
        outcome["traffic"] = self.recorder.summary("db_restart")
        return outcome

    async def worker_kill(self) -> dict:
        from temporalio.client import Client

        handle = f"{NAMESPACE}.soak-worker-kill"
        await self.traffic.draft(handle, per_pole=60, salt=uuid.uuid4().hex)
        temporal = await Client.connect(self.stack.temporal_address, namespace=self.stack.settings.temporal_namespace)
        outcome: dict = {}

        async def drill() -> None:
            response = await self.traffic.train(handle, effort="high")
            run_id = response.json()["run_id"]
            fitting_pid = None

            async def fit_running() -> bool:
                nonlocal fitting_pid
                description = await temporal.get_workflow_handle(run_id).describe()
                for activity in description.raw_description.pending_activities:
                    identity = activity.last_worker_identity.split("@", 1)[0]
                    if activity.activity_type.name == "fit_model" and identity.isdigit():
                        fitting_pid = int(identity)
                        return True
                return False

            outcome["fit_seen_running_after_s"] = await self.until(fit_running, 120, pause=0.2)
            worker = self.stack.worker_by_pid(fitting_pid) if fitting_pid else None
            if worker is None:
                outcome["killed"] = None
                return
            await asyncio.to_thread(self.stack.kill_worker, worker)
            killed = time.monotonic()
            outcome["killed"] = worker.name
            self.stack.respawn_worker(worker)
            body = await wait_settled(self.client, self.headers, handle)
            outcome["kill_to_settled_s"] = round(time.monotonic() - killed, 1)
            outcome["final_state"] = body["state"]
            outcome["last_operation_status"] = (body.get("last_operation") or {}).get("status")
            outcome["same_run"] = (body.get("last_operation") or {}).get("run_id") == run_id
            outcome["version_numbers"] = [v["version_no"] for v in await versions(self.client, self.headers, handle)]

        await self.under_traffic("worker_kill", drill)
        outcome["traffic"] = self.recorder.summary("worker_kill")
        return outcome

    async def api_kill(self) -> dict:
        handle = f"{NAMESPACE}.soak-batches"
        await self.traffic.draft(handle, per_pole=2, salt=uuid.uuid4().hex)
        outcome: dict = {}

        async def drill() -> None:
            stop_batches = asyncio.Event()
            writers = [asyncio.create_task(self.traffic.batch_writer(handle, stop_batches)) for _ in range(3)]
            await self.until(self._enough_batches(handle), 120, pause=0.1)
            outcome["batches_acked_before_kill"] = len(self.ledger.batches.get(handle, {}))
            await asyncio.to_thread(self.stack.kill_api)
            killed = time.monotonic()
            await asyncio.to_thread(self.stack.start_api)
            await asyncio.to_thread(self.stack.wait_api_healthy)
            outcome["api_healthy_after_kill_s"] = round(time.monotonic() - killed, 2)
            await asyncio.sleep(15)
            stop_batches.set()
            unanswered = await asyncio.gather(*writers)
            outcome["batches_unanswered"] = sum(len(batch) for batch in unanswered)
            outcome["batches_acked_total"] = len(self.ledger.batches.get(handle, {}))

        await self.under_traffic("api_kill", drill)
        outcome["traffic"] = self.recorder.summary("api_kill")
        return outcome

    def _enough_batches(self, handle: str):
        async def check() -> bool:
            return len(self.ledger.batches.get(handle, {})) >= 10
        return check

    async def run(self) -> dict:
        stop_rss = asyncio.Event()
        rss_task = asyncio.create_task(self.sample_rss(stop_rss))
        results: dict = {"setup": await self.setup()}
        print(f"setup done: {results['setup']}", flush=True)
        results["soak"] = await self.sustained()
        print(f"soak done: {results['soak']['traffic']['requests']} requests", flush=True)
        drills = {"temporal_down": self.temporal_down, "db_restart": self.db_restart,
                  "worker_kill": self.worker_kill, "api_kill": self.api_kill}
        faults: dict = {}
        for name, drill in drills.items():
            if name not in self.args.drills or (name == "db_restart" and self.args.database != "postgres"):
                continue
            faults[name] = await drill()
            _progress(name, faults[name])
        results["faults"] = faults
        stop_rss.set()
        await rss_task
        results["verification"] = await verify_writes(self.client, self.headers, self.ledger, NAMESPACE)
        results["rss_samples"] = [{"phase": phase, "t": round(at - self.recorder.started, 1),
                                   "rss_mb": {k: round(v / 2**20, 1) for k, v in sample.items()}}
                                  for phase, at, sample in self.rss]
        await self.client.aclose()
        return results


def _progress(name: str, outcome: dict) -> None:
    shown = {key: value for key, value in outcome.items() if key != "traffic"}
    traffic = outcome.get("traffic", {})
    print(f"{name}: {shown} | {traffic.get('requests')} requests, {traffic.get('errors')} errors "
          f"{traffic.get('error_codes')}", flush=True)


def _head() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parents[1])
    return found.stdout.strip() or "unknown"


def create_database() -> tuple[str, str]:
    name = f"assay_soak_{uuid.uuid4().hex[:8]}"
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    return name, f"{PG_ADMIN_URL}/{name}"


def drop_database(name: str) -> None:
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", "--if-exists", name], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--train-every", type=float, default=45.0, help="seconds between new trained models")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--drills", nargs="*", default=DRILLS, choices=DRILLS,
                        help="fault drills to run after the load (db_restart only with postgres)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (and database) afterwards")
    parser.add_argument("--out", default=str(RESULTS / "soak"), help="results path without extension")
    args = parser.parse_args()

    commit_at_start = _head()
    data_dir = Path(tempfile.mkdtemp(prefix="assay-soak-"))
    database = None
    if args.database == "postgres":
        database, url = create_database()
        os.environ["ASSAY_DATABASE_URL"] = url
    else:
        os.environ.pop("ASSAY_DATABASE_URL", None)
    stack = SoakStack(data_dir)
    try:
        print(f"starting the stack in {data_dir} …", flush=True)
        stack.start()
        results = asyncio.run(Soak(stack, args).run())
    finally:
        stack.stop()
        if not args.keep:
            if database:
                drop_database(database)
            shutil.rmtree(data_dir, ignore_errors=True)

    results["config"] = {
        "minutes": args.minutes, "clients": args.clients, "train_every_s": args.train_every,
        "database": args.database, "api_workers": stack.options.api_workers, "workers": stack.options.workers,
        "embedder": stack.settings.embedder, "cpus": os.cpu_count(),
        "finished_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        # Restarted parts load the code on disk: a commit landing mid-run can skew the drills.
        "commit_at_start": commit_at_start, "commit_at_end": _head(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0 if results["verification"]["all_present"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
