"""HTTP scoring load test against a real `assay up` stack (SPEC §4 hot path).

For each API process count (1, then 2) the script starts `assay up` in a temporary data dir, builds
and trains a two-trait model through the REST API with the dev key, then drives POST …/score with
wrk (closed loop: each connection sends its next request when the last one answered) at 1 and at
20 connections: short content (~20 words), long content (~2,000 words), and short content while a
re-tune is running. It records p50/p99 latency, requests per second and errors to
bench/results/http_scoring.json and .md.

Targets: short p50 ≤ 12 ms and p99 ≤ 40 ms at 20 clients; ≥ 150 req/s with 2 API processes.
Note that with 20 connections in a closed loop, latency is queueing: p50 ≈ 20 / throughput, so the
single-connection run and the paced runs (20 connections that together offer 100 or 150 req/s, from
`hey`) are the ones that show the latency of a request under load. `hey` paces each connection with
its own ticker and the tickers start together, so the paced runs arrive as bursts of 20 requests
(every 200 ms at 100 req/s): a burst test, not a smooth arrival rate.

Run: .venv/bin/python -m bench.http_scoring [--seconds 10] [--clients 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.api.trained import CLEAR, COLD, UNCLEAR, WARM

RESULTS = Path(__file__).parent / "results"
SHORT = "Thanks for writing in! Restart the router, wait thirty seconds, and sign in again to finish setup."
LONG_SENTENCES = CLEAR + UNCLEAR + WARM + COLD


def long_text(words: int = 2000) -> str:
    out, count, i = [], 0, 0
    while count < words:
        sentence = LONG_SENTENCES[i % len(LONG_SENTENCES)]
        out.append(sentence)
        count += len(sentence.split())
        i += 1
    return " ".join(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """`assay up` in its own process group and data dir."""

    def __init__(self, api_workers: int) -> None:
        self.dir = tempfile.mkdtemp(prefix="assay-bench-")
        self.api_port = free_port()
        self.base = f"http://127.0.0.1:{self.api_port}"
        assay = Path(sys.executable).with_name("assay")
        command = [str(assay), "up", "--data-dir", self.dir, "--api-port", str(self.api_port),
                   "--temporal-port", str(free_port()), "--ui-port", str(free_port()),
                   "--api-workers", str(api_workers), "--workers", "1", "--no-examples"]
        self.log = open(Path(self.dir) / "up.log", "w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 240.0) -> str:
        deadline = time.monotonic() + timeout
        key_file = Path(self.dir) / "dev-key"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"assay up exited; see {self.log.name}")
            try:
                if httpx.get(f"{self.base}/v1/health", timeout=2).status_code == 200 and key_file.exists():
                    return key_file.read_text().strip()
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError("assay up did not become healthy")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


async def wait_state(client: httpx.AsyncClient, handle: str, states: set[str], timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = (await client.get(f"/v1/models/{handle}")).json()
        if model["state"] in states:
            return model
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{handle} never reached {states}")


async def build_model(client: httpx.AsyncClient, handle: str) -> None:
    (await client.post("/v1/models", json={"handle": handle, "description": "bench"})).raise_for_status()
    traits = [{"key": "clarity", "name": "Clarity"}, {"key": "warmth", "name": "Warmth"}]
    (await client.post(f"/v1/models/{handle}/traits", json={"traits": traits})).raise_for_status()
    samples = ([{"trait": "clarity", "text": t, "quality": 1.0} for t in CLEAR]
               + [{"trait": "clarity", "text": t, "quality": 0.0} for t in UNCLEAR]
               + [{"trait": "warmth", "text": t, "quality": 1.0} for t in WARM]
               + [{"trait": "warmth", "text": t, "quality": 0.0} for t in COLD])
    (await client.post(f"/v1/models/{handle}/samples", json={"samples": samples})).raise_for_status()
    (await client.post(f"/v1/models/{handle}/train", json={"effort": "low"})).raise_for_status()
    model = await wait_state(client, handle, {"ready", "failed"})
    if model["state"] != "ready":
        raise RuntimeError(f"training failed: {model['last_operation']}")


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
wrk.body = %(body)s
"""


def _ms(value: str) -> float:
    """wrk prints durations like 812.00us, 4.21ms, 1.02s."""
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return round(float(value[: -len(unit)]) * factor, 2)
    raise ValueError(value)


def parse_wrk(output: str) -> dict:
    result = {"errors": 0}
    for line in output.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("50%", "99%"):
            result[f"p{words[0][:-1]}_ms"] = _ms(words[1])
        elif line.startswith("Requests/sec:"):
            result["req_per_s"] = round(float(words[1]), 1)
        elif "requests in" in line:
            result["requests"] = int(words[0])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            result["errors"] += int(words[-1])
        elif line.strip().startswith("Socket errors:"):
            # connect N, read N, write N, timeout N
            result["errors"] += sum(int(w.rstrip(",")) for w in words[3::2])
    return result


def load(base: str, key: str, handle: str, content: str, clients: int, seconds: float) -> dict:
    """Closed-loop load from wrk (C, two threads), so the load generator costs little CPU."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for this benchmark: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"key": key, "body": json.dumps(json.dumps({"content": content}))})
    command = ["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "30s",
               "--latency", "-s", script.name, f"{base}/v1/models/{handle}/score"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    return {"clients": clients, **parse_wrk(output)}


def parse_hey(output: str) -> dict:
    result: dict = {"errors": 0, "requests": 0}
    in_status = False
    for line in output.splitlines():
        words = line.split()
        if line.strip().startswith("Requests/sec:"):
            result["req_per_s"] = round(float(words[1]), 1)
        elif len(words) >= 3 and words[0] in ("50%", "99%") and words[1] == "in":
            result[f"p{words[0][:-1]}_ms"] = round(float(words[2]) * 1000, 2)
        elif line.startswith("Status code distribution:"):
            in_status = True
        elif in_status and words and words[0].startswith("["):
            count = int(words[1])
            result["requests"] += count
            if words[0] != "[200]":
                result["errors"] += count
        elif line.startswith("Error distribution:"):
            in_status = False
        elif not in_status and words and words[0].startswith("[") and "]" in words[0]:
            result["errors"] += int(words[0].strip("[]"))
    return result


def paced(base: str, key: str, handle: str, content: str, clients: int, rate: float, seconds: float) -> dict:
    """`clients` connections that together send `rate` requests per second (hey's per-worker QPS):
    the latency of a request at that load, not the queueing of a saturated closed loop."""
    if shutil.which("hey") is None:
        raise SystemExit("hey is needed for this benchmark: apt-get install hey")
    command = ["hey", "-z", f"{seconds:g}s", "-c", str(clients), "-q", f"{rate / clients:g}", "-m", "POST",
               "-T", "application/json", "-H", f"Authorization: Bearer {key}",
               "-d", json.dumps({"content": content}), f"{base}/v1/models/{handle}/score"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return {"clients": clients, "offered_req_per_s": rate, **parse_hey(output)}


async def run_stack(api_workers: int, clients: int, seconds: float) -> dict:
    stack = Stack(api_workers)
    try:
        key = await asyncio.to_thread(stack.wait_ready)
        handle = "dev.bench"
        async with httpx.AsyncClient(base_url=stack.base, headers={"Authorization": f"Bearer {key}"},
                                     timeout=60) as client:
            await build_model(client, handle)
            for _ in range(20):  # warm the snapshot cache in every API process
                (await client.post(f"/v1/models/{handle}/score", json={"content": SHORT})).raise_for_status()
            results = {
                "short_1_client": await asyncio.to_thread(load, stack.base, key, handle, SHORT, 1, seconds),
                "short": await asyncio.to_thread(load, stack.base, key, handle, SHORT, clients, seconds),
                "short_paced_100": await asyncio.to_thread(paced, stack.base, key, handle, SHORT, clients, 100,
                                                           seconds),
                "short_paced_150": await asyncio.to_thread(paced, stack.base, key, handle, SHORT, clients, 150,
                                                           seconds),
                "long_1_client": await asyncio.to_thread(load, stack.base, key, handle, long_text(), 1, seconds),
                "long": await asyncio.to_thread(load, stack.base, key, handle, long_text(), clients, seconds),
            }
            retune = await client.post(f"/v1/models/{handle}/train",
                                       json={"effort": "max", "reoptimize_params": True})
            retune.raise_for_status()
            results["short_during_training"] = await asyncio.to_thread(load, stack.base, key, handle, SHORT,
                                                                     clients, seconds)
            still_busy = (await client.get(f"/v1/models/{handle}")).json()["state"] == "busy"
            results["short_during_training"]["training_still_running_at_end"] = still_busy
            await wait_state(client, handle, {"ready", "failed"})
        return results
    finally:
        stack.stop()


def write_results(results: dict, clients: int, seconds: float) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"clients": clients, "seconds_per_run": seconds, "cpu_count": os.cpu_count(),
            "embedder": os.environ.get("ASSAY_EMBEDDER", "minilm"), "long_words": 2000, "short_words": len(SHORT.split())}
    (RESULTS / "http_scoring.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    lines = ["# HTTP scoring load test", "",
             f"{clients} concurrent clients, {seconds:g} s per run, {os.cpu_count()} CPUs, embedder "
             f"{meta['embedder']}. Targets: short p50 ≤ 12 ms, p99 ≤ 40 ms; ≥ 150 req/s with 2 API processes.", "",
             "Closed-loop runs (wrk) queue: at 20 connections p50 ≈ 20 / req/s. `short_1_client` is the latency of",
             "one request; the `paced` runs (hey) offer 100 or 150 req/s from 20 connections whose tickers",
             "fire together, i.e. bursts of 20 requests.", "",
             "| API processes | run | clients | req/s | p50 ms | p99 ms | errors |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for workers, runs in results.items():
        for name, r in runs.items():
            lines.append(f"| {workers} | {name} | {r['clients']} | {r.get('req_per_s')} | {r.get('p50_ms')} | "
                         f"{r.get('p99_ms')} | {r['errors']} |")
    (RESULTS / "http_scoring.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--api-workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    results = {}
    for workers in args.api_workers:
        results[str(workers)] = asyncio.run(run_stack(workers, args.clients, args.seconds))
        print(json.dumps({workers: results[str(workers)]}), flush=True)
    write_results(results, args.clients, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
