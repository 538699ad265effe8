"""Huge HTML tables through the fetch path: time per request and memory of the API process.

A local web server serves two 5 MB tables (just under the download cap): one with closed cells
(``<tr><td>cell</td></tr>``, the kind of page issue 19 found) and one with one-letter cells whose
end tags are left out, as HTML allows (about a million elements). For each page, one request and
then three at once run ``api.fetch.fetch_readable`` — the code behind ``POST /v1/extract`` once the
key is checked — in a fresh Python process standing in for the API process. It records each
request's time and answer, the process's RSS before, at its peak (sampled every 50 ms) and after,
and the peak RSS of its child processes (the extractor processes, when there are any).

``--code DIR`` puts another checkout's ``api``/``engine`` first on the path (e.g. the commit before
the extractor processes, from ``git archive``), which is how the "before" numbers are taken.

Results go to bench/results/hostile_pages.json, or hostile_pages_<label>.json with ``--label``.
Run: .venv/bin/python -m bench.hostile_pages [--code DIR --label before]
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
PAGE_BYTES = 5 * 1024 * 1024 - 4096
ROWS = {"closed_cells": b"<tr><td>cell</td></tr>\n", "open_cells": b"<tr><td>a<td>b<td>c<td>d<td>e<td>f<td>g<td>h\n"}
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def table(row: bytes) -> bytes:
    head, tail = b"<!doctype html><html><body><table>", b"</table></body></html>"
    return head + row * ((PAGE_BYTES - len(head) - len(tail)) // len(row)) + tail


def serve_tables() -> http.server.ThreadingHTTPServer:
    pages = {f"/{name}": table(row) for name, row in ROWS.items()}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 (http.server API)
            body = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def rss_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE / 2**20
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def children_rss_mb() -> float:
    total = 0.0
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as children:
            total += sum(rss_mb(pid) for pid in children.read().split())
    return total


async def scenario(url: str, concurrent: int) -> dict:
    """Runs in the child: ``concurrent`` fetches of ``url`` at once, memory sampled meanwhile."""
    from api import fetch
    from api.fetch import FetchError, fetch_readable

    print(f"measuring {fetch.__file__}", file=sys.stderr)

    allow = [url.split("/")[2]]
    peak = {"api": rss_mb(), "children": 0.0}
    before = rss_mb()
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peak["api"] = max(peak["api"], rss_mb())
            peak["children"] = max(peak["children"], children_rss_mb())
            await asyncio.sleep(0.05)

    async def one(started: float) -> dict:
        try:
            fetched = await fetch_readable(url, allow)
            answer = f"ok ({len(fetched.content)} chars)"
        except FetchError as error:
            answer = error.reason
        return {"seconds": round(time.monotonic() - started, 2), "answer": answer}

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    requests = await asyncio.gather(*(one(started) for _ in range(concurrent)))
    done.set()
    await sampler
    return {"concurrent": concurrent, "requests": requests, "api_rss_before_mb": round(before, 1),
            "api_rss_peak_mb": round(peak["api"], 1), "api_rss_after_mb": round(rss_mb(), 1),
            "children_rss_peak_mb": round(peak["children"], 1)}


def run_child(code: str | None, url: str, concurrent: int) -> dict:
    command = [sys.executable, "-m", "bench.hostile_pages", "--child", url, str(concurrent)]
    if code:
        command += ["--code", code]
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", help="a checkout whose api/ and engine/ are measured instead")
    parser.add_argument("--label", help="names the results file, e.g. before")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.code:
            sys.path.insert(0, str(Path(args.code).resolve()))
        print(json.dumps(asyncio.run(scenario(args.child[0], int(args.child[1])))))
        return
    server = serve_tables()
    port = server.server_address[1]
    results = []
    for name in ROWS:
        for concurrent in (1, 3):
            result = {"page": name, **run_child(args.code, f"http://127.0.0.1:{port}/{name}", concurrent)}
            print(json.dumps(result), flush=True)
            results.append(result)
    server.shutdown()
    RESULTS.mkdir(exist_ok=True)
    name = f"hostile_pages_{args.label}.json" if args.label else "hostile_pages.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
