"""`assay runs` and `assay follow HANDLE`: a model's runs (training, re-tune, background retrain,
discovery, synthesis), one run with its events, cancelling one, and following the current one live.

    assay runs HANDLE              every run of the model, newest first
    assay runs show RUN_ID         one run: status, progress, and its timeline of events
    assay runs cancel RUN_ID       ask for the run to be cancelled

Decisions where the spec is silent:
- One command with action words, as `assay versions`: a handle always holds a dot and a run id
  starts with `run_`, so neither is ever taken for `show` or `cancel`.
- `runs HANDLE --json` prints the list of runs (SPEC §9.3's run summaries); `show` and `cancel`
  print the run as the API answers it.
- `cancel` returns at once (the run ends on the server within seconds; `assay follow` shows it); a
  run that already ended is the API's `run_finished`, exit 1.
- `follow` on a model that is not busy shows its last run and returns at once. Its exit status, like
  `build`'s, says how the run ended: 0 succeeded (or no run at all), 1 failed or cancelled (the error
  code and message are printed), 130 on Ctrl-C (the run itself goes on).
- The bar is `cli/progress.py`'s, on stderr; the closing status goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from argcomplete.completers import ChoicesCompleter

from cli.connection import add_connection_options, open_client, report_api_error
from cli.context import CliError
from cli.progress import ProgressBar, render_bar
from client import AssayError

DEFAULT_TIMEOUT = 3600.0
POLL_INTERVAL = 1.0
EXIT_RUN_FAILED = 1
EXIT_INTERRUPTED = 130


ACTIONS = ("show", "cancel")
USAGE = """assay runs [options] HANDLE
       assay runs [options] show RUN_ID
       assay runs [options] cancel RUN_ID"""
COLUMNS = ("RUN", "KIND", "STATUS", "EFFORT", "VERSION", "STARTED", "FINISHED")


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    runs = commands.add_parser(
        "runs", parents=[common], usage=USAGE, help="list a model's runs; show or cancel one",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="List a model's runs, newest first, or:\n"
                    "  show RUN_ID      one run: status, progress and its events (retries with their reason)\n"
                    "  cancel RUN_ID    cancel a queued or running run (the model goes back to where it was)")
    words = runs.add_argument("words", nargs="+", metavar="ARGS", help="HANDLE, or an action and a run id")
    words.completer = ChoicesCompleter(list(ACTIONS))  # type: ignore[attr-defined]  (read by argcomplete)
    runs.add_argument("--json", action="store_true", help="print the runs, or the run, as JSON")
    add_connection_options(runs)
    runs.set_defaults(handler=runs_command, collect_extra="words")

    follow = commands.add_parser("follow", parents=[common], help="follow a model's run with a progress bar",
                                 description="Draw a live progress bar of the model's current run until it ends, "
                                             "then print how it ended (exit 1 if it failed).")
    follow.add_argument("handle", metavar="HANDLE", help="<namespace>.<name>")
    follow.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                        help=f"seconds to wait (default {DEFAULT_TIMEOUT:.0f}); the run itself goes on")
    follow.add_argument("--json", action="store_true", help="print the finished run (last_operation) as JSON")
    add_connection_options(follow)
    follow.set_defaults(handler=follow_command)


def describe_run(handle: str, operation: dict[str, Any] | None) -> str:
    if not operation:
        return f"{handle} has had no runs yet."
    lines = [f"run       {operation.get('run_id')}", f"kind      {operation.get('kind')}",
             f"status    {operation.get('status')}", f"started   {operation.get('started_at') or '-'}"]
    if operation.get("finished_at"):
        lines.append(f"finished  {operation['finished_at']}")
    if operation.get("status") in ("queued", "running"):
        lines.append("progress  " + render_bar(operation.get("kind") or "run", operation.get("progress")))
    error = operation.get("error")
    if error:
        lines.append(f"error     {error.get('code')}: {error.get('message')}")
    return "\n".join(lines)


def runs_command(args: argparse.Namespace) -> int:
    action, operand = _parse_words(args.words)
    with open_client(args) as client:
        try:
            if action is None:
                answer: Any = list(client.iter_runs(operand, page_size=100))
                text = format_runs(operand, answer)
            else:
                answer = client.get_run(operand) if action == "show" else client.cancel_run(operand)
                text = describe_run_detail(answer, cancelling=action == "cancel")
        except AssayError as error:
            return report_api_error(error)
    print(json.dumps(answer, indent=2, ensure_ascii=False) if args.json else text, flush=True)
    return 0


def _parse_words(words: list[str]) -> tuple[str | None, str]:
    if words[0] in ACTIONS:
        if len(words) != 2:
            raise CliError(f"usage: assay runs {words[0]} RUN_ID", exit_code=2)
        return words[0], words[1]
    if len(words) != 1:
        raise CliError(f"unexpected {' '.join(words[1:])!r}: the actions are {', '.join(ACTIONS)} "
                       "(`assay runs cancel RUN_ID`)", exit_code=2)
    return None, words[0]


def _time(value: str | None) -> str:
    return str(value)[:19].replace("T", " ") if value else "-"


def format_runs(handle: str, runs: list[dict[str, Any]]) -> str:
    if not runs:
        return f"{handle} has had no runs yet."
    rows = [COLUMNS] + [
        (run["run_id"], run.get("kind") or "-", run.get("status") or "-", run.get("effort") or "-",
         f"v{run['version_no']}" if run.get("version_no") is not None else "-", _time(run.get("started_at")),
         _time(run.get("finished_at")))
        for run in runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def describe_run_detail(run: dict[str, Any], *, cancelling: bool = False) -> str:
    lines = [describe_run(run.get("handle") or "", run)]
    if run.get("version_no") is not None:
        lines.append(f"version   v{run['version_no']}")
    if cancelling and run.get("status") in ("queued", "running"):
        lines.append("cancel    requested; the run ends within seconds (`assay follow` shows it)")
    for event in run.get("events") or []:
        attempt = f" (attempt {event['attempt']})" if event.get("attempt") else ""
        lines.append(f"  {_time(event.get('at'))}  {event.get('type')}{attempt}: {event.get('message')}")
    return "\n".join(lines)


def follow_command(args: argparse.Namespace) -> int:
    bar = ProgressBar(sys.stderr)
    with open_client(args) as client:
        try:
            model = client.wait_until_settled(args.handle, poll_interval=POLL_INTERVAL, timeout=args.timeout,
                                              on_update=bar.update)
        except AssayError as error:
            bar.finish()
            return report_api_error(error)
        except KeyboardInterrupt:
            bar.finish()
            print("assay: interrupted; the run goes on on the server.", file=sys.stderr, flush=True)
            return EXIT_INTERRUPTED
    bar.finish()
    operation = model.get("last_operation")
    print(json.dumps(operation, indent=2, ensure_ascii=False) if args.json else describe_run(args.handle, operation),
          flush=True)
    if operation and operation.get("status") not in ("succeeded",):
        error = operation.get("error") or {}
        print(f"assay: {error.get('code') or operation.get('status')}: "
              f"{error.get('message') or 'the run did not succeed'}", file=sys.stderr, flush=True)
        return EXIT_RUN_FAILED
    return 0
