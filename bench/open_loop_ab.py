"""Open-loop tail A/B (issue #15): two variants of the API, driven in turn, round after round.

Each variant is an API of ``--processes`` uvicorn server processes (as `assay up --api-workers N`
runs them) on one SQLite store holding a trained model. They differ in their environment
variables (by default: no embedding limit of its own, anyio's pool of 40 threads, against
``ASSAY_EMBEDDING_SLOTS=1``) and, with ``--baseline REV``, in code: variant A then runs that
revision, B the working tree. Per round each variant gets a closed-loop wrk run (its
ceiling, CPU per request summed over its server processes) and an open-loop run at
``--share`` of the first variant's first ceiling, the same offered rate for both. Interleaving
gives both the same machine load, which on a shared machine is the only fair comparison.

Also recorded per open-loop run: the load generator's own CPU (it shares the cores with the server)
and how the server processes split the work (keep-alive pins each client connection to one process).

Run: .venv/bin/python -m bench.open_loop_ab --label embedding-slots [--rounds 3] [--seconds 15]
     .venv/bin/python -m bench.open_loop_ab --label gc-freeze --baseline REV --b ""
Writes bench/results/open_loop_ab_<label>.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench import open_loop
from bench.http_scoring import RESULTS, SHORT, WRK_SCRIPT, machine, parse_wrk
from bench.profile_scoring import cpu_seconds, median, prepare, source_tree, wrk_workdir
from tests.workflows.support import REPO_ROOT


def server_pids(supervisor: int) -> list[int]:
    """uvicorn's server processes (the supervisor's children but multiprocessing's resource
    tracker), or the process itself when alone."""
    children = [int(pid) for pid in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()]
    servers = [pid for pid in children if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]
    return servers or [supervisor]


def cpu_by_process(pids: list[int]) -> list[float]:
    return [cpu_seconds(pid) for pid in pids]


def closed_loop(api, key: str, handle: str, seconds: float, connections: int, workdir: Path) -> dict:
    script = workdir / "score.lua"
    script.write_text(WRK_SCRIPT % {"key": key, "body": json.dumps(json.dumps({"content": SHORT}))})
    pids = server_pids(api.process.pid)
    before = cpu_by_process(pids)
    output = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds:g}s", "--latency",
                             "-s", str(script), f"{api.base_url}/v1/models/{handle}/score"],
                            capture_output=True, text=True, check=True).stdout
    used = sum(cpu_by_process(pids)) - sum(before)
    load = parse_wrk(output)
    return {**load, "api_cpu_ms_per_request": round(1000 * used / max(load["requests"], 1), 3)}


def open_run(api, key: str, handle: str, rate: float, seconds: float, connections: int, seed: int) -> dict:
    pids = server_pids(api.process.pid)
    before = cpu_by_process(pids)
    summary = open_loop.run(f"{api.base_url}/v1/models/{handle}/score", {"Authorization": f"Bearer {key}"},
                            {"content": SHORT}, rate=rate, seconds=seconds, connections=connections, seed=seed)
    used = [after - start for after, start in zip(cpu_by_process(pids), before)]
    summary["server_cpu_share_by_process"] = [round(part / (sum(used) or 1), 3) for part in used]
    summary["server_cpu_ms_per_request"] = round(1000 * sum(used) / max(summary["requests"], 1), 3)
    return summary


def write(result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"open_loop_ab_{result['label']}"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    embed, embed_cpu = result["machine"]["embed_short_p50_ms"], result["machine"].get("embed_short_cpu_p50_ms")
    lines = [f"# Open-loop tail A/B: {result['label']}", "",
             f"Machine: {result['machine']['cpu']}, {result['machine']['cpu_count']} CPUs. {result['note']}", "",
             f"Each variant: {result['processes']} API server process(es) on one SQLite store, same code, "
             f"ASSAY_* variables as listed. {result['rounds']} interleaved rounds; per round and variant a "
             f"closed-loop wrk run ({result['closed_connections']} connections, {result['seconds']:g} s) and an "
             f"open-loop run (Poisson arrivals at {result['rate']:g} req/s = {result['share']:g} × the first "
             f"ceiling, {result['open_connections']} keep-alive connections, {result['seconds']:g} s, the same "
             f"seed for both variants in a round). Embed p50 {embed} ms (the lower of "
             f"{result['machine']['embed_short_p50_ms_before_and_after']}, measured before and after); its CPU "
             f"time p50 {embed_cpu} ms (thread CPU time, not stretched by other programs on the cores).", "",
             "| variant | env | open p99 ms (median) | ÷ embed | p99 every round | p50 ms (median) | errors | "
             "ceiling req/s (median) | CPU ms/request closed (median) | ÷ embed CPU | generator CPU ms/request | "
             "server CPU split by process |",
             "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for label, run in result["variants"].items():
        opens, closeds = run["open"], run["closed"]
        p99 = median([r["p99_ms"] for r in opens])
        cpu = median([r["api_cpu_ms_per_request"] for r in closeds])
        lines.append(
            f"| {label} ({run.get('revision', 'working tree')}) | "
            f"`{' '.join(f'{k}={v}' for k, v in run['env'].items()) or 'defaults'}` | {p99} | "
            f"{round(p99 / embed, 2)} | {', '.join(str(r['p99_ms']) for r in opens)} | "
            f"{median([r['p50_ms'] for r in opens])} | {sum(r['errors'] for r in opens)} | "
            f"{median([r['req_per_s'] for r in closeds])} | {cpu} | {round(cpu / embed_cpu, 2) if embed_cpu else '–'} | "
            f"{median([r['generator_cpu_ms_per_request'] for r in opens])} | "
            f"{'; '.join('/'.join(f'{s:.0%}' for s in r['server_cpu_share_by_process']) for r in opens)} |")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


def parse_env(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split(",") if pair)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="names the result files")
    parser.add_argument("--a", default="", help="variant A's variables, k=v,k=v (default: none, the defaults)")
    parser.add_argument("--b", default="ASSAY_EMBEDDING_SLOTS=1", help="variant B's variables")
    parser.add_argument("--baseline", help="a git revision that variant A runs instead of the working tree")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.5, help="open-loop rate as a share of the ceiling")
    parser.add_argument("--closed-connections", type=int, default=20)
    parser.add_argument("--open-connections", type=int, default=20)
    parser.add_argument("--note", default="", help="conditions of the run (e.g. other load on the machine)")
    args = parser.parse_args()
    workdir = wrk_workdir("assay-open-ab-")
    envs = {"A": parse_env(args.a), "B": parse_env(args.b)}
    trees = {"A": source_tree(args.baseline, workdir) if args.baseline else REPO_ROOT, "B": REPO_ROOT}
    apis, key, handle = asyncio.run(prepare(workdir, trees, envs, args.processes))
    variants = {label: {"env": envs[label], "revision": args.baseline if label == "A" and args.baseline
                        else "working tree", "closed": [], "open": []} for label in apis}
    rate = None
    try:
        host = machine()
        for api in apis.values():  # every server process decodes the version and warms its embedder
            closed_loop(api, key, handle, 3, args.closed_connections, workdir)
        for round_no in range(args.rounds):
            for label, api in apis.items():
                variants[label]["closed"].append(
                    closed_loop(api, key, handle, args.seconds, args.closed_connections, workdir))
                if rate is None:
                    rate = round(args.share * variants[label]["closed"][0]["req_per_s"], 1)
                variants[label]["open"].append(
                    open_run(api, key, handle, rate, args.seconds, args.open_connections, seed=round_no + 1))
                print(label, json.dumps(variants[label]["open"][-1]), flush=True)
        after = machine()
    finally:
        for api in apis.values():
            api.stop()
    host["embed_short_p50_ms_before_and_after"] = [host["embed_short_p50_ms"], after["embed_short_p50_ms"]]
    host["embed_short_p50_ms"] = min(host["embed_short_p50_ms"], after["embed_short_p50_ms"])
    host["embed_short_cpu_p50_ms"] = min(host["embed_short_cpu_p50_ms"], after["embed_short_cpu_p50_ms"])
    result = {"label": args.label, "note": args.note, "processes": args.processes, "seconds": args.seconds,
              "rounds": args.rounds, "share": args.share, "rate": rate, "closed_connections": args.closed_connections,
              "open_connections": args.open_connections, "machine": host, "variants": variants}
    write(result)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
