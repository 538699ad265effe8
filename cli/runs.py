"""`assay runs HANDLE` and `assay follow HANDLE`: a model's current or last run (training, re-tune,
discovery, synthesis), once or live with a progress bar until it ends.

Decisions where the spec is silent:
- The API reports one run per model, `last_operation` of `GET /v1/models/{handle}`; `runs` shows
  that one (there is no run history endpoint to list older ones; the Temporal UI has them all).
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

from cli.connection import add_connection_options, open_client, report_api_error
from cli.progress import ProgressBar, render_bar
from client import AssayError

DEFAULT_TIMEOUT = 3600.0
POLL_INTERVAL = 1.0
EXIT_RUN_FAILED = 1
EXIT_INTERRUPTED = 130


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    runs = commands.add_parser("runs", parents=[common], help="show a model's current or last run",
                               description="Show the model's current or last run: kind, run id, status, "
                                           "progress, and the error of a failed run.")
    runs.add_argument("handle", metavar="HANDLE", help="<namespace>.<name>")
    runs.add_argument("--json", action="store_true", help="print the run (last_operation) as JSON")
    add_connection_options(runs)
    runs.set_defaults(handler=runs_command)

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
    with open_client(args) as client:
        try:
            operation = client.get_model(args.handle).get("last_operation")
        except AssayError as error:
            return report_api_error(error)
    print(json.dumps(operation, indent=2, ensure_ascii=False) if args.json else describe_run(args.handle, operation),
          flush=True)
    return 0


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
