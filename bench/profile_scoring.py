"""Where an API process spends its CPU on POST …/score (issue #15).

One real API process (uvicorn, as `assay up` runs it, on a fresh SQLite store with a model trained by
the real engine) is kept saturated with short texts by wrk while py-spy samples it. Every sample is
put in one bucket (embedding, database, logging, …: the first rule of ``BUCKETS`` its stack
matches), and the process's own CPU time over the run divided by the requests wrk completed gives
the CPU per request. The in-process embed p50 is measured in the same run, so the ratio
CPU per request ÷ embed p50 can be compared across machines and across code changes.

Run: .venv/bin/python -m bench.profile_scoring --label before [--seconds 20] [--connections 2]
Writes bench/results/scoring_profile_<label>.json and .md (the collapsed stacks' top frames too).
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
        buckets[bucket_of(stack)] += int(count)
        frames = [frame for frame in stack.split(";") if "(" in frame]
        if frames and bucket_of(stack) != "embedding (tokenizer + ONNX)":
            leaves[frames[-1].strip()] += int(count)
    total = sum(buckets.values()) or 1
    return {"samples": total,
            "share": {name: round(count / total, 4) for name, count in buckets.most_common()},
            "top_non_embedding_leaves": [[frame, round(count / total, 4)] for frame, count in leaves.most_common(25)]}


async def prepare(workdir: Path) -> tuple[ApiProcess, str, str]:
    url = f"sqlite:///{workdir / 'assay.db'}"
    upgrade(url)
    engine = make_async_engine(url)
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        issued = await create_key(session, ["bench"], "authoring")
        await session.commit()
    # No Temporal: the scoring path never calls it, and this bench checks that it does not need to.
    settings = Settings(environment="test", data_dir=workdir, database_url=url, temporal_address="127.0.0.1:9")
    api = ApiProcess(settings, workdir)
    await api.start()
    handle = "bench.replies"
    headers = {"Authorization": f"Bearer {issued.secret}"}
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as client:
        await create_model(client, headers, handle)
        await train_now(sessionmaker, handle)
        for _ in range(20):  # decode the version and warm the embedder
            (await client.post(f"/v1/models/{handle}/score", json={"content": SHORT}, headers=headers)).raise_for_status()
    await engine.dispose()
    return api, issued.secret, handle


def profile(api: ApiProcess, key: str, handle: str, seconds: float, connections: int, workdir: Path) -> dict:
    script = workdir / "score.lua"
    script.write_text(WRK_SCRIPT % {"key": key, "body": json.dumps(json.dumps({"content": SHORT}))})
    collapsed = workdir / "profile.txt"
    pid = api.process.pid
    spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
                            "--rate", "200", "--duration", f"{seconds:g}", "--nonblocking", "--format", "raw",
                            "--output", str(collapsed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # py-spy attached
    before = cpu_seconds(pid)
    wrk = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds - 2:g}s", "--latency",
                          "-s", str(script), f"{api.base_url}/v1/models/{handle}/score"],
                         capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(pid) - before
    spy.wait(timeout=seconds + 60)
    load = parse_wrk(wrk)
    cpu_ms = round(1000 * used / max(load["requests"], 1), 3)
    return {"load": load, "api_cpu_seconds": round(used, 2), "api_cpu_ms_per_request": cpu_ms,
            "profile": summarise(collapsed) if collapsed.exists() else {"error": spy.stderr.read().decode()[-500:]}}


def write(label: str, result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"scoring_profile_{label}.json").write_text(json.dumps(result, indent=2) + "\n")
    host, run = result["machine"], result["run"]
    embed = host["embed_short_p50_ms"]
    lines = [f"# Scoring hot path profile: {label}", "",
             f"Machine: {host['cpu']}, {host['cpu_count']} CPUs. {result['note']}", "",
             f"One API process saturated by wrk ({result['connections']} connections, short text) for "
             f"{result['seconds']:g} s: {run['load'].get('req_per_s')} req/s, p50 {run['load'].get('p50_ms')} ms, "
             f"{run['load']['errors']} errors.", "",
             f"- API process CPU per request: **{run['api_cpu_ms_per_request']} ms**; in-process embed p50 "
             f"{embed} ms; ratio **{round(run['api_cpu_ms_per_request'] / embed, 2)}**.", "",
             "| where the API process's CPU goes (py-spy samples) | share |", "|---|---:|"]
    lines += [f"| {name} | {share:.1%} |" for name, share in run["profile"].get("share", {}).items()]
    lines += ["", "Hottest frames outside the embedding:", "", "| frame | share of all samples |", "|---|---:|"]
    lines += [f"| `{frame}` | {share:.1%} |" for frame, share in run["profile"].get("top_non_embedding_leaves", [])]
    (RESULTS / f"scoring_profile_{label}.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--note", default="", help="conditions of the run (e.g. other load on the machine)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for this benchmark: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="assay-profile-"))
    api, key, handle = asyncio.run(prepare(workdir))
    try:
        run = profile(api, key, handle, args.seconds, args.connections, workdir)
    finally:
        api.stop()
    result = {"label": args.label, "seconds": args.seconds, "connections": args.connections, "note": args.note,
              "machine": machine(), "run": run}
    write(args.label, result)
    print(json.dumps(result, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
