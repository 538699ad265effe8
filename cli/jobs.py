"""`assay score-file MODEL input.jsonl [-o results.jsonl]` and `assay jobs follow JOB_ID`: score jobs
(SPEC §9.2) from the command line, with a live progress bar.

Decisions where the spec is silent:
- The input file is sent as it is, as NDJSON (one `{id?, content}` object per line; other fields are
  ignored by the server), so a malformed line is reported by the server with its line number.
- Results are written as NDJSON, one `{id, result}` or `{id, error}` per line in input order, to
  `-o FILE` or to stdout. The bar and the job id go to stderr.
- Ctrl-C stops watching, never the job: it prints the command that follows it again and exits 130.
- Exit status: 0 succeeded, 1 failed or cancelled (with the error printed), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from cli.connection import add_connection_options, open_client, report_api_error
from cli.context import CliError
from cli.progress import ProgressBar
from cli.score import parse_traits
from client import AssayError

POLL_INTERVAL = 1.0
EXIT_JOB_FAILED = 1
EXIT_INTERRUPTED = 130


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    score_file = commands.add_parser(
        "score-file", parents=[common], help="score every line of a JSONL file as a background job",
        description="Start a score job over a JSONL file (one {\"id\"?, \"content\"} object per line), show "
                    "its progress, and write the results as JSONL in input order.")
    score_file.add_argument("handle", metavar="MODEL", help="<namespace>.<name>, optionally @vN or @tag")
    score_file.add_argument("input", metavar="INPUT", type=Path, help="the JSONL file to score")
    score_file.add_argument("-o", "--output", type=Path, help="write the results here (default: stdout)")
    score_file.add_argument("--traits", action="append", default=None, metavar="A,B",
                            help="only these traits (keys or names, comma-separated; repeat to add more)")
    add_connection_options(score_file)
    score_file.set_defaults(handler=score_file_command)

    jobs = commands.add_parser("jobs", parents=[common], help="score jobs", description="Score jobs.")
    actions = jobs.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)
    follow = actions.add_parser("follow", parents=[common], help="follow a score job until it ends",
                                description="Show a job's live progress until it ends; with -o, then write "
                                            "its results as JSONL.")
    follow.add_argument("job_id", metavar="JOB_ID")
    follow.add_argument("-o", "--output", type=Path, help="write the results here once it succeeded")
    add_connection_options(follow)
    follow.set_defaults(handler=follow_command)


def read_input(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}", exit_code=2) from None


def score_file_command(args: argparse.Namespace) -> int:
    ndjson = read_input(args.input)
    with open_client(args) as client:
        try:
            job_id = client.start_score_job_ndjson(args.handle, ndjson, traits=parse_traits(args.traits))["job_id"]
        except AssayError as error:
            return report_api_error(error)
        return _follow(client, job_id, args.output, write_to_stdout=True, announce=True)


def follow_command(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        return _follow(client, args.job_id, args.output, write_to_stdout=False)


def job_as_run(job: dict[str, Any]) -> dict[str, Any]:
    """A job in the shape the run progress bar draws (a busy model's last operation)."""
    progress = job.get("progress") or {}
    rate, eta = progress.get("items_per_s"), progress.get("eta_s")
    message = f"{progress.get('done', 0)}/{progress.get('total', 0)} items"
    if rate:
        message += f" · {rate:.0f}/s"
    if eta:
        message += f" · {eta:.0f} s left"
    open_ = job.get("state") in ("queued", "running")
    return {"state": "busy" if open_ else "ready",
            "last_operation": {"kind": "job", "status": job.get("state"),
                               "progress": {"phase": job.get("state"), "fraction": progress.get("fraction"),
                                            "message": message}}}


def _follow(client, job_id: str, output: Path | None, *, write_to_stdout: bool, announce: bool = False) -> int:
    bar = ProgressBar(sys.stderr)
    try:
        if announce:  # inside the try: a Ctrl-C right after it must still leave the hint
            print(f"job {job_id}", file=sys.stderr, flush=True)
        job = client.wait_for_score_job(job_id, poll_interval=POLL_INTERVAL,
                                        on_update=lambda polled: bar.update(job_as_run(polled)))
    except KeyboardInterrupt:
        bar.finish()
        print(f"\nstopped watching; the job goes on. Follow it again with:\n  assay jobs follow {job_id}"
              + (f" -o {output}" if output else ""), file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except AssayError as error:
        bar.finish()
        return report_api_error(error)
    bar.finish()
    if job["state"] != "succeeded":
        error = job.get("error") or {}
        print(f"job {job_id} {job['state']}: {error.get('code', '')} {error.get('message', '')}".rstrip(),
              file=sys.stderr, flush=True)
        return EXIT_JOB_FAILED
    if output is None and not write_to_stdout:
        return 0
    target = output.open("w", encoding="utf-8") if output else nullcontext(sys.stdout)
    try:
        with target as stream:
            for item in client.iter_score_job_results(job_id):
                stream.write(json.dumps(item, ensure_ascii=False) + "\n")
    except AssayError as error:
        return report_api_error(error)
    counts = job.get("counts") or {}
    print(f"job {job_id} succeeded: {counts.get('scored', 0)} scored, {counts.get('failed', 0)} failed"
          + (f" → {output}" if output else ""), file=sys.stderr, flush=True)
    return 0
