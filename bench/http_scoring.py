"""HTTP scoring load test against a real `assay up` stack (SPEC §4 hot path).

For each API process count (1, then 2) the script starts `assay up` in a temporary data dir, builds
and trains a two-trait model through the REST API with the dev key, then drives POST …/score:
- closed loop with wrk (each connection sends its next request when the last one answered) at 1 and
  20 connections: short content (~20 words), long content (~2,000 words), and short content while
  a re-tune is running — the throughput ceiling;
- open loop (bench/open_loop.py) at 25, 50, 75 and 90 % of that ceiling over 20 connections:
  Poisson arrivals, latency counted from each request's scheduled time — the latency users see at
  that load.
It records p50/p99 latency, requests per second and errors, plus the CPU and the time one short
text takes to embed on it in process (the floor of every latency; measured before and after the
runs; the lower is used), to bench/results/http_scoring.json and .md.

Targets (issue #15), ratios to that embed p50 so that any machine can judge them:
- one connection: HTTP p50 ≤ 1.25 × embed p50;
- closed loop with as many API processes as cores: CPU per request (cores ÷ req/s) ≤ 1.2 × embed p50;
- open loop at 50 % of that ceiling: p99 ≤ 4 × embed p50, zero errors.
In a closed loop with 20 connections latency is queueing (p50 ≈ 20 / throughput), so the latency
targets are read off the open-loop runs.

Each open-loop run (and its floor) lasts ``--open-seconds`` (default 30): its p99 is read off the
slowest 1 % of requests, and at ~120 req/s a 10 s run has only a dozen of them.

Run: .venv/bin/python -m bench.http_scoring [--seconds 10] [--open-seconds 30] [--clients 20] [--api-workers 2]
     [--note "…"]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import embed_floor, open_loop
from cli.ports import free_port
from tests.api.trained import CLEAR, COLD, UNCLEAR, WARM

RESULTS = Path(__file__).parent / "results"
LOAD_FRACTIONS = (0.25, 0.5, 0.75, 0.9)
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


def open_loop_run(base: str, key: str, handle: str, content: str, connections: int, rate: float,
                  seconds: float) -> dict:
    """Poisson arrivals at ``rate`` req/s over ``connections`` keep-alive connections (bench/open_loop.py)."""
    return open_loop.run(f"{base}/v1/models/{handle}/score", {"Authorization": f"Bearer {key}"},
                         {"content": content}, rate=rate, seconds=seconds, connections=connections)


def machine() -> dict:
    """What the numbers depend on: the CPU, and how long one short text takes to embed on it."""
    from engine.embedders import get_embedder

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown")
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    embedder = get_embedder(os.environ.get("ASSAY_EMBEDDER", "minilm"))
    for _ in range(20):
        embedder.embed(SHORT)
    timings, cpu_timings = [], []
    for _ in range(200):
        started, cpu_started = time.perf_counter(), time.thread_time()
        embedder.embed(SHORT)
        timings.append((time.perf_counter() - started) * 1000)
        cpu_timings.append((time.thread_time() - cpu_started) * 1000)
    timings.sort()
    cpu_timings.sort()
    return {"cpu": cpu, "cpu_count": os.cpu_count(),
            "int8_dot_product_instructions": any(f in flags for f in ("avx512_vnni", "avx_vnni", "amx_int8")),
            "avx512": any(f.startswith("avx512") for f in flags),
            "embed_short_p50_ms": round(timings[100], 2),
            # The embedding's own CPU (ONNX runs on the calling thread): unlike the wall-clock p50 it is
            # not stretched when other programs take the cores, so CPU per request ÷ it holds under load.
            "embed_short_cpu_p50_ms": round(cpu_timings[100], 2)}


async def run_stack(api_workers: int, clients: int, seconds: float, rates: list[float] | None,
                    open_seconds: float) -> dict:
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
            }
            # Offered rates as fractions of the closed-loop ceiling just measured, unless given.
            ceiling = results["short"]["req_per_s"]
            for rate in rates or [round(fraction * ceiling) for fraction in LOAD_FRACTIONS]:
                run = await asyncio.to_thread(open_loop_run, stack.base, key, handle, SHORT, clients, rate,
                                              open_seconds)
                results[f"short_open_{rate:g}"] = {**run, "share_of_ceiling": round(rate / ceiling, 2)}
            retune = await client.post(f"/v1/models/{handle}/train",
                                       json={"effort": "max", "reoptimize_params": True})
            retune.raise_for_status()
            results["short_during_training"] = await asyncio.to_thread(load, stack.base, key, handle, SHORT,
                                                                     clients, seconds)
            still_busy = (await client.get(f"/v1/models/{handle}")).json()["state"] == "busy"
            results["short_during_training"]["training_still_running_at_end"] = still_busy
            await wait_state(client, handle, {"ready", "failed"})
            # Last: requests that wrk gives up on keep the server busy after it stops.
            results |= {
                "long_1_client": await asyncio.to_thread(load, stack.base, key, handle, long_text(), 1, seconds),
                # One long text keeps a core busy for a second or more: give 20 of them time to finish.
                "long": await asyncio.to_thread(load, stack.base, key, handle, long_text(), clients, 4 * seconds),
            }
        return results
    finally:
        stack.stop()


def half_load_run(runs: dict) -> dict | None:
    """The open-loop run nearest to 50 % of the ceiling."""
    return min((r for r in runs.values() if "share_of_ceiling" in r),
               key=lambda r: abs(r["share_of_ceiling"] - 0.5), default=None)


# What a run records beside the server's own runs (bench/embed_floor.py).
FLOORS = ("embed_floor", "embed_cpu_floor")

# (name, target: the ratio must be at most this)
TARGETS = {"one_connection_p50": 1.25, "cpu_per_request": 1.2, "open_loop_50_p99": 4.0}


def ratios(runs: dict, api_workers: int, cores: int, embed_ms: float) -> dict:
    """The issue #15 ratios of one stack's runs to the in-process embed p50 (see the module docstring)."""
    out: dict = {"embed_p50_ms": embed_ms}
    one = runs.get("short_1_client", {})
    if one.get("p50_ms"):
        out["one_connection_p50"] = {"http_p50_ms": one["p50_ms"], "ratio": round(one["p50_ms"] / embed_ms, 2)}
    ceiling = runs.get("short", {}).get("req_per_s")
    if ceiling and api_workers == cores:  # the ceiling is the machine's only when every core serves
        cpu_ms = 1000 * cores / ceiling
        out["cpu_per_request"] = {"req_per_s": ceiling, "cpu_ms": round(cpu_ms, 2), "ratio": round(cpu_ms / embed_ms, 2)}
        floor = runs.get("embed_cpu_floor")
        if floor:
            out["cpu_per_request"] |= {
                "embed_cpu_floor_ms": floor["cpu_ms_per_embed"],
                "embed_cpu_floor_ratio": round(floor["cpu_ms_per_embed"] / embed_ms, 2),
                "over_floor": round(cpu_ms / floor["cpu_ms_per_embed"], 2)}
    half = half_load_run(runs)
    if half is not None:
        out["open_loop_50_p99"] = {"offered_req_per_s": half["offered_req_per_s"], "p99_ms": half["p99_ms"],
                                   "errors": half["errors"], "ratio": round(half["p99_ms"] / embed_ms, 2)}
        for layout, floor in runs.get("embed_floor", {}).items():
            out["open_loop_50_p99"][f"embed_floor_{layout}_p99_ms"] = floor["p99_ms"]
            out["open_loop_50_p99"][f"embed_floor_{layout}_ratio"] = round(floor["p99_ms"] / embed_ms, 2)
    for name, target in TARGETS.items():
        if name in out:
            out[name]["target"] = target
            out[name]["met"] = out[name]["ratio"] <= target and out[name].get("errors", 0) == 0
    return out


def write_results(results: dict, clients: int, seconds: float, host: dict, note: str = "",
                  open_seconds: float | None = None) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    open_seconds = open_seconds or seconds
    meta = {"clients": clients, "seconds_per_run": seconds, "open_loop_seconds": open_seconds, "machine": host,
            "note": note,
            "embedder": os.environ.get("ASSAY_EMBEDDER", "minilm"), "long_words": 2000,
            "short_words": len(SHORT.split())}
    embed = host["embed_short_p50_ms"]
    found = {workers: ratios(runs, int(workers), host["cpu_count"], embed) for workers, runs in results.items()}
    (RESULTS / "http_scoring.json").write_text(
        json.dumps({"meta": meta, "ratios": found, "results": results}, indent=2) + "\n")
    lines = ["# HTTP scoring load test", "",
             f"{clients} concurrent clients, {seconds:g} s per closed-loop run and {open_seconds:g} s per open-loop run, "
             f"embedder {meta['embedder']}. {note}".rstrip(), "",
             f"Machine: {host['cpu']}, {host['cpu_count']} CPUs, AVX-512 {'yes' if host['avx512'] else 'no'}, "
             f"int8 dot-product instructions (VNNI/AMX) {'yes' if host['int8_dot_product_instructions'] else 'no'}. "
             f"One short text takes **{embed} ms** to embed here (p50, in process; the lower of "
             f"{host.get('embed_short_p50_ms_before_and_after')}, measured before and after the runs): every latency "
             "below is bounded below by it.", "",
             "## Ratios to the embed p50 (issue #15)", "",
             "| API processes | one connection: HTTP p50 ÷ embed (≤ 1.25) | CPU per request ÷ embed, "
             "cores ÷ closed-loop req/s (≤ 1.2) | open loop at 50 %: p99 ÷ embed (≤ 4), errors |",
             "|---:|---|---|---|"]
    for workers, found_ratios in found.items():
        one, cpu, half = (found_ratios.get(name) for name in TARGETS)
        lines.append(
            f"| {workers} | " + (f"{one['http_p50_ms']} ms → **{one['ratio']}**" if one else "–") + " | "
            + (f"{cpu['cpu_ms']} ms ({cpu['req_per_s']} req/s) → **{cpu['ratio']}**" if cpu
               else "– (fewer processes than cores)") + " | "
            + (f"{half['p99_ms']} ms at {half['offered_req_per_s']:g} req/s → **{half['ratio']}**, "
               f"{half['errors']} errors" if half else "–") + " |")
    floors = [(workers, found_ratios["open_loop_50_p99"]) for workers, found_ratios in found.items()
              if "embed_floor_pinned_p99_ms" in found_ratios.get("open_loop_50_p99", {})]
    if floors:
        lines += ["", "### The open-loop floor (bench/embed_floor.py)", "",
                  "Bare embeddings of the short text, no HTTP and no server, arriving as the 50 % run's requests "
                  "did (Poisson, same rate), embedded in arrival order by as many embedders as API processes: "
                  "*pinned*, one process and queue each, as keep-alive pins client connections to API processes; "
                  "*shared*, one queue for all (threads of one process). What the server adds comes on top "
                  "of the pinned floor.", "",
                  "| API processes | offered req/s | server p99 ÷ embed | floor, pinned: p99 ÷ embed | "
                  "floor, shared queue: p99 ÷ embed |", "|---:|---:|---|---|---|"]
        for workers, half in floors:
            lines.append(f"| {workers} | {half['offered_req_per_s']:g} | {half['p99_ms']} ms → {half['ratio']} | "
                         f"{half['embed_floor_pinned_p99_ms']} ms → {half['embed_floor_pinned_ratio']} | "
                         f"{half['embed_floor_shared_p99_ms']} ms → {half['embed_floor_shared_ratio']} |")
    cpu_floors = [(workers, found_ratios["cpu_per_request"]) for workers, found_ratios in found.items()
                  if "embed_cpu_floor_ms" in found_ratios.get("cpu_per_request", {})]
    if cpu_floors:
        lines += ["", "### The CPU floor (bench/embed_floor.py)", "",
                  "One process per core embedding the short text back to back, all at once, no server: cores ÷ "
                  "their embeddings per second is the CPU an embedding costs when every core embeds, what the "
                  "server's CPU per request could at best come down to. Above the embed p50 measured alone when "
                  "the cores share something (a host core's execution units, caches, memory bandwidth).", "",
                  "| API processes | server CPU per request | floor: CPU per embedding, every core busy "
                  "| floor ÷ embed | server ÷ floor |", "|---:|---:|---:|---:|---:|"]
        for workers, cpu in cpu_floors:
            lines.append(f"| {workers} | {cpu['cpu_ms']} ms | {cpu['embed_cpu_floor_ms']} ms | "
                         f"{cpu['embed_cpu_floor_ratio']} | {cpu['over_floor']} |")
    lines += ["",
             "## Closed loop (wrk)", "",
             "Each connection sends its next request when the last one answered: the throughput ceiling. At 20",
             "connections a request mostly waits behind the other 19, so p50 ≈ 20 / req/s.", "",
             "| API processes | run | clients | req/s | p50 ms | p99 ms | errors |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for workers, runs in results.items():
        for name, r in runs.items():
            if name not in FLOORS and "offered_req_per_s" not in r:
                lines.append(f"| {workers} | {name} | {r['clients']} | {r.get('req_per_s')} | {r.get('p50_ms')} | "
                             f"{r.get('p99_ms')} | {r['errors']} |")
    lines += ["", "## Open loop (bench/open_loop.py)", "",
              "Requests arrive as a Poisson process at the offered rate and are sent over 20 keep-alive",
              "connections; latency counts from each request's scheduled arrival, so time spent queued for a",
              "free connection is included. `service p50` is from send to answer.", "",
              "| API processes | offered req/s | share of ceiling | achieved req/s | p50 ms | p90 ms | p99 ms | max ms "
              "| service p50 ms | errors | generator CPU ms/request |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for workers, runs in results.items():
        for r in runs.values():
            if "offered_req_per_s" in r:
                lines.append(f"| {workers} | {r['offered_req_per_s']:g} | {r.get('share_of_ceiling')} | "
                             f"{r['req_per_s']} | {r['p50_ms']} | "
                             f"{r['p90_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['service_p50_ms']} | {r['errors']} "
                             f"| {r['generator_cpu_ms_per_request']} |")
    (RESULTS / "http_scoring.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each closed-loop run")
    parser.add_argument("--open-seconds", type=float, default=30.0,
                        help="length of each open-loop run and of its floor (its p99 needs many requests)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--api-workers", type=int, nargs="+", default=sorted({1, os.cpu_count() or 1}))
    parser.add_argument("--note", default="", help="conditions of the run, recorded with the results")
    parser.add_argument("--rates", type=float, nargs="+", default=None,
                        help="offered req/s of the open-loop runs (default: 25/50/75/90 %% of the closed-loop "
                             "ceiling measured just before)")
    args = parser.parse_args()
    host = machine()
    print(json.dumps({"machine": host}), flush=True)
    results = {}
    for workers in args.api_workers:
        results[str(workers)] = asyncio.run(run_stack(workers, args.clients, args.seconds, args.rates,
                                                      args.open_seconds))
        print(json.dumps({workers: results[str(workers)]}), flush=True)
        # With no server running: bare embeddings arriving at the 50 % run's rate (bench/embed_floor.py).
        half = half_load_run(results[str(workers)])
        if half is not None:
            results[str(workers)]["embed_floor"] = {
                layout: embed_floor.floor(half["offered_req_per_s"], args.open_seconds, workers, layout)
                for layout in ("pinned", "shared")}
        if workers == os.cpu_count():  # and every core embedding back to back at once
            results[str(workers)]["embed_cpu_floor"] = embed_floor.cpu_floor(args.seconds, workers)
    after = machine()["embed_short_p50_ms"]
    host["embed_short_p50_ms_before_and_after"] = [host["embed_short_p50_ms"], after]
    # The lower one is the less disturbed by other load on the machine (on a quiet machine they agree);
    # it makes every ratio the stricter.
    host["embed_short_p50_ms"] = min(host["embed_short_p50_ms"], after)
    write_results(results, args.clients, args.seconds, host, args.note, args.open_seconds)
    print(json.dumps({"ratios": json.loads((RESULTS / "http_scoring.json").read_text())["ratios"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
