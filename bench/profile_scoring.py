"""Where an API process spends its CPU on POST …/score (issue #15).

One real API process (uvicorn, as `assay up` runs it, on a fresh SQLite store with a model trained by
the real engine) is kept saturated with short texts by wrk while py-spy samples it. Every sample is
put in one bucket (embedding, database, logging, …: the first rule of ``BUCKETS`` its stack
matches), and the process's own CPU time over the run divided by the requests wrk completed gives
the CPU per request. The in-process embed p50 is measured in the same run, so the ratio
CPU per request ÷ embed p50 can be compared across machines and across code changes.

With ``--baseline REV`` a second API process runs that revision's code (from ``git archive``) on the
same store, and the two are driven in turn, round after round, so that both see the same machine
load: on a shared machine only such a same-minute comparison means anything.

Run: .venv/bin/python -m bench.profile_scoring --label lookup-caches --baseline e41a1ec [--rounds 3]
Writes bench/results/scoring_profile_<label>.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.http_scoring import RESULTS, SHORT, WRK_SCRIPT, machine, parse_wrk
from settings import Settings
from store.db import make_async_engine, make_sessionmaker
from store.keys import create_key
from store.migrate import upgrade
from tests.api.trained import create_model, train_now
from tests.faults.api_process import ApiProcess
from tests.workflows.support import REPO_ROOT

# (bucket, substrings of a frame): walking a sample's stack from its innermost frame outwards, the
# first frame that holds one of these substrings decides its bucket (earlier buckets win on a tie).
BUCKETS = [
    ("embedding (tokenizer + ONNX)", ("onnxruntime", "tokenizers", "engine/embedders")),
    ("score card math", ("engine/",)),
    ("database (SQLAlchemy, driver)", ("sqlalchemy", "aiosqlite", "psycopg", "/store/")),
    ("logging", ("logging/", "pythonjsonlogger")),
    ("metrics", ("prometheus_client",)),
    ("JSON (de)serialization", ("json/", "starlette/responses.py")),
    ("validation (pydantic)", ("pydantic",)),
    ("request ids, body guards", ("api/middleware.py", "ulid")),
    ("FastAPI/Starlette routing, dependencies", ("fastapi/", "starlette/", "api/")),
    ("HTTP protocol (uvicorn)", ("uvicorn/", "httptools", "h11")),
    ("thread hops (anyio, futures)", ("anyio/", "concurrent/futures", "threading.py")),
    # uvloop runs its callbacks in C: socket reads and writes and HTTP parsing show as the runner's frame.
    ("event loop (uvloop: sockets, HTTP parsing)", ("asyncio/", "uvloop", "selectors.py")),
]


def bucket_of(stack: str) -> str:
    for frame in reversed(stack.split(";")):
        for name, needles in BUCKETS:
            if any(needle in frame for needle in needles):
                return name
    return "other"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def summarise(collapsed: Path) -> dict:
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [frame for frame in stack.split(";") if "(" in frame]
        if frames and any(wait in frames[-1] for wait in WAITING):
            continue
        buckets[bucket_of(stack)] += int(count)
        if frames and bucket_of(stack) != "embedding (tokenizer + ONNX)":
            leaves[frames[-1].strip()] += int(count)
    total = sum(buckets.values()) or 1
    return {"samples": total,
            "share": {name: round(count / total, 4) for name, count in buckets.most_common()},
            "top_non_embedding_leaves": [[frame, round(count / total, 4)] for frame, count in leaves.most_common(25)]}


# Leaves where a sampled thread waits rather than computes (py-spy does not always see it as idle).
WAITING = ("Condition.wait", "(aiosqlite/core.py:59)", "(queue.py:")


async def prepare(workdir: Path, trees: dict[str, Path], envs: dict[str, dict[str, str]] | None = None,
                  processes: int = 1) -> tuple[dict[str, ApiProcess], str, str]:
    """One API (of ``processes`` server processes) per source tree, all on one fresh SQLite store
    holding a trained model; ``envs`` adds ASSAY_* variables per label."""
    url = f"sqlite:///{workdir / 'assay.db'}"
    upgrade(url)
    engine = make_async_engine(url)
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        issued = await create_key(session, ["bench"], "authoring")
        await session.commit()
    # No Temporal: the scoring path never calls it, and this bench checks that it does not need to.
    settings = Settings(environment="test", data_dir=workdir, database_url=url, temporal_address="127.0.0.1:9")
    apis = {label: ApiProcess(settings, workdir, source_tree=tree, extra_env=(envs or {}).get(label),
                              processes=processes) for label, tree in trees.items()}
    await asyncio.gather(*(api.start() for api in apis.values()))
    handle = "bench.replies"
    headers = {"Authorization": f"Bearer {issued.secret}"}
    first = next(iter(apis.values()))
    async with httpx.AsyncClient(base_url=first.base_url, timeout=60) as client:
        await create_model(client, headers, handle)
    await train_now(sessionmaker, handle)
    for api in apis.values():
        async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as client:
            for _ in range(20):  # decode the version and warm the embedder
                (await client.post(f"/v1/models/{handle}/score", json={"content": SHORT},
                                   headers=headers)).raise_for_status()
    await engine.dispose()
    return apis, issued.secret, handle


def drive(api: ApiProcess, key: str, handle: str, seconds: float, connections: int, workdir: Path) -> dict:
    """wrk keeps the process saturated; its CPU time over the run ÷ the requests answered."""
    script = workdir / "score.lua"
    script.write_text(WRK_SCRIPT % {"key": key, "body": json.dumps(json.dumps({"content": SHORT}))})
    pid = api.process.pid
    before = cpu_seconds(pid)
    wrk = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds:g}s", "--latency",
                          "-s", str(script), f"{api.base_url}/v1/models/{handle}/score"],
                         capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(pid) - before
    load = parse_wrk(wrk)
    return {**load, "api_cpu_ms_per_request": round(1000 * used / max(load["requests"], 1), 3)}


def sample(api: ApiProcess, key: str, handle: str, seconds: float, connections: int, workdir: Path) -> dict:
    """py-spy's view of the same load, bucketed (a separate run: sampling costs the process some CPU)."""
    collapsed = workdir / f"profile-{api.port}.txt"
    spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(api.process.pid),
                            "--rate", "200", "--duration", f"{seconds + 2:g}", "--nonblocking", "--format", "raw",
                            "--output", str(collapsed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # py-spy attached
    drive(api, key, handle, seconds, connections, workdir)
    spy.wait(timeout=seconds + 60)
    return summarise(collapsed) if collapsed.exists() else {"error": spy.stderr.read().decode()[-500:]}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if len(ordered) % 2 else round(sum(ordered[len(ordered) // 2 - 1:][:2]) / 2, 3)


def write(result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"scoring_profile_{result['label']}"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    host, runs = result["machine"], result["runs"]
    embed = host["embed_short_p50_ms"]
    lines = [f"# Scoring hot path profile: {result['label']}", "",
             f"Machine: {host['cpu']}, {host['cpu_count']} CPUs. {result['note']}", "",
             f"One API process per revision on the same store, each saturated in turn by wrk ({result['connections']} "
             f"connections, short text, {result['seconds']:g} s per run, {result['rounds']} interleaved rounds, so "
             "both see the same machine load). CPU per request = the API process's CPU time ÷ requests answered. "
             f"In-process embed p50: {embed} ms (the lower of {host['embed_short_p50_ms_before_and_after']}, "
             f"measured just before and after); its CPU time p50 {host.get('embed_short_cpu_p50_ms')} ms (not "
             "stretched by other programs on the cores, so the fairer divisor under shared load).", "",
             "| revision | CPU ms/request (median) | ÷ embed p50 | ÷ embed CPU p50 | every round | req/s (median) | "
             "p50 ms (median) |",
             "|---|---:|---:|---:|---|---:|---:|"]
    for label, run in runs.items():
        cpu = median([r["api_cpu_ms_per_request"] for r in run["rounds"]])
        embed_cpu = host.get("embed_short_cpu_p50_ms")
        lines.append(f"| {label} ({run['revision']}) | {cpu} | {round(cpu / embed, 2)} | "
                     f"{round(cpu / embed_cpu, 2) if embed_cpu else '–'} | "
                     f"{', '.join(str(r['api_cpu_ms_per_request']) for r in run['rounds'])} | "
                     f"{median([r['req_per_s'] for r in run['rounds']])} | {median([r['p50_ms'] for r in run['rounds']])} |")
    buckets = list(dict.fromkeys(name for run in runs.values() for name in run["profile"].get("share", {})))
    lines += ["", "Where each process's CPU goes (py-spy samples while computing; waits left out):", "",
              "| bucket | " + " | ".join(runs) + " |", "|---|" + "---:|" * len(runs)]
    for bucket in buckets:
        lines.append(f"| {bucket} | " + " | ".join(f"{run['profile'].get('share', {}).get(bucket, 0):.1%}"
                                                  for run in runs.values()) + " |")
    for label, run in runs.items():
        lines += ["", f"Hottest frames outside the embedding, {label}:", "", "| frame | share |", "|---|---:|"]
        lines += [f"| `{frame}` | {share:.1%} |" for frame, share in run["profile"].get("top_non_embedding_leaves", [])[:12]]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


def source_tree(revision: str, workdir: Path) -> Path:
    """The files of ``revision`` (a commit of this repository) in a directory of their own."""
    tree = workdir / f"tree-{revision}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def wrk_workdir(prefix: str) -> Path:
    """A fresh scratch directory for a benchmark that drives its load with wrk (checked first)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for this benchmark: apt-get install wrk")
    return Path(tempfile.mkdtemp(prefix=prefix))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="names the result files")
    parser.add_argument("--baseline", help="a git revision to compare with the working tree, run by run")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--note", default="", help="conditions of the run (e.g. other load on the machine)")
    args = parser.parse_args()
    workdir = wrk_workdir("assay-profile-")
    trees = {"current": REPO_ROOT}
    revisions = {"current": "working tree"}
    if args.baseline:
        trees = {"baseline": source_tree(args.baseline, workdir), **trees}
        revisions["baseline"] = args.baseline
    apis, key, handle = asyncio.run(prepare(workdir, trees))
    runs = {label: {"revision": revisions[label], "rounds": []} for label in apis}
    try:
        host = machine()
        for _ in range(args.rounds):
            for label, api in apis.items():
                runs[label]["rounds"].append(drive(api, key, handle, args.seconds, args.connections, workdir))
        for label, api in apis.items():
            runs[label]["profile"] = sample(api, key, handle, args.seconds, args.connections, workdir)
        after = machine()
    finally:
        for api in apis.values():
            api.stop()
    host["embed_short_p50_ms_before_and_after"] = [host["embed_short_p50_ms"], after["embed_short_p50_ms"]]
    host["embed_short_p50_ms"] = min(host["embed_short_p50_ms"], after["embed_short_p50_ms"])  # the less disturbed one
    host["embed_short_cpu_p50_ms"] = min(host["embed_short_cpu_p50_ms"], after["embed_short_cpu_p50_ms"])
    result = {"label": args.label, "seconds": args.seconds, "rounds": args.rounds, "connections": args.connections,
              "note": args.note, "machine": host, "runs": runs}
    write(result)
    print(json.dumps(result, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
