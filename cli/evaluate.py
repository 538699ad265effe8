"""`assay eval MODEL data.jsonl [--versions v3 v4] [--json]`: an evaluation (SPEC §9.5) from the
command line — start it, show its progress, print the report as a table (or the JSON).

Decisions where the spec is silent:
- The file is sent as it is, as NDJSON (a samples file: `content` plus one field per trait), so a
  malformed line or label is reported by the server with its line number.
- The table has a row per trait and version: n, AUC with its 95 % interval, Spearman's ρ, and the
  observed positive rate per tier (Weak/Developing/Solid/Strong); with two versions a row per trait
  gives the paired ΔAUC (second − first), its standard error and p. `--json` prints the evaluation
  as the API returns it. The bar and the evaluation id go to stderr.
- Ctrl-C stops watching, never the evaluation. Exit status: 0 succeeded, 1 failed or cancelled,
  130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cli.connection import add_connection_options, open_client, report_api_error
from cli.jobs import read_input
from cli.progress import ProgressBar
from client import AssayError

POLL_INTERVAL = 1.0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    evaluate = commands.add_parser(
        "eval", parents=[common], help="evaluate a model on a labelled JSONL file",
        description="Score a labelled JSONL file (a samples file: `content` plus one field per trait) against "
                    "one or two versions as a background evaluation, and print AUC with its 95 %% interval, "
                    "Spearman's rho and calibration per trait; with two versions also the paired ΔAUC.")
    evaluate.add_argument("handle", metavar="MODEL", help="<namespace>.<name>")
    evaluate.add_argument("input", metavar="DATA", type=Path, help="the labelled JSONL file")
    evaluate.add_argument("--versions", nargs="+", metavar="VERSION", default=None,
                          help="1 or 2 versions (vN or a tag); default: the active one")
    evaluate.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    add_connection_options(evaluate)
    evaluate.set_defaults(handler=eval_command)


def eval_command(args: argparse.Namespace) -> int:
    ndjson = read_input(args.input)
    with open_client(args) as client:
        try:
            evaluation_id = client.start_evaluation_ndjson(args.handle, ndjson, versions=args.versions)["evaluation_id"]
        except AssayError as error:
            return report_api_error(error)
        print(f"evaluation {evaluation_id}", file=sys.stderr, flush=True)
        bar = ProgressBar(sys.stderr)
        try:
            evaluation = client.wait_for_evaluation(evaluation_id, poll_interval=POLL_INTERVAL,
                                                    on_update=lambda polled: bar.update(_as_run(polled)))
        except KeyboardInterrupt:
            bar.finish()
            print(f"\nstopped watching; the evaluation goes on (GET /v1/evaluations/{evaluation_id})",
                  file=sys.stderr, flush=True)
            return EXIT_INTERRUPTED
        except AssayError as error:
            bar.finish()
            return report_api_error(error)
        bar.finish()
    if evaluation["state"] != "succeeded":
        error = evaluation.get("error") or {}
        print(f"evaluation {evaluation_id} {evaluation['state']}: {error.get('code', '')} "
              f"{error.get('message', '')}".rstrip(), file=sys.stderr, flush=True)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(evaluation, ensure_ascii=False, indent=2))
    else:
        print(render_report(evaluation), end="")
    return 0


def _as_run(evaluation: dict[str, Any]) -> dict[str, Any]:
    """An evaluation in the shape the run progress bar draws (a busy model's last operation)."""
    progress = evaluation.get("progress") or {}
    open_ = evaluation.get("state") in ("queued", "running")
    return {"state": "busy" if open_ else "ready",
            "last_operation": {"kind": "eval", "status": evaluation.get("state"),
                               "progress": {"phase": evaluation.get("state"), "fraction": progress.get("fraction"),
                                            "message": f"{progress.get('done', 0)}/{progress.get('total', 0)} "
                                                       "scores"}}}


def _number(value: object, digits: int = 3, signed: bool = False) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _p(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{value:.3g}" if value >= 1e-4 else f"{value:.1e}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]


def render_report(evaluation: dict[str, Any]) -> str:
    report = evaluation["report"]
    lines = [f"{evaluation['evaluation_id']} · {evaluation['handle']} · {report['items']['scored']} of "
             f"{report['items']['total']} items scored by every version", ""]
    rows = []
    for trait in evaluation["traits"]:
        for version in report["versions"]:
            block = version["traits"][trait]
            auc = block["auc"]
            # The tiers come in the report's order: Weak, Developing, Solid, Strong.
            rates = "/".join(_number(cell["positive_rate"], 2) for cell in block["calibration"].values())
            rows.append([trait, version["version_id"], str(block["n"]), _number(auc["auc"]),
                         f"{_number(auc['low'])}–{_number(auc['high'])}", _number(block["spearman"]), rates])
    lines += _table(["trait", "version", "n", "AUC", "95% interval", "Spearman", "pos. rate W/D/S/S"], rows)
    paired = report.get("paired")
    if paired:
        lines += ["", f"paired: {paired['b']} against {paired['a']} on the same items (DeLong)"]
        lines += _table(["trait", "n", "ΔAUC", "SE", "p"],
                        [[trait, str(block["n"]), _number(block["delta_auc"], signed=True), _number(block["se"]),
                          _p(block["p"])] for trait, block in paired["traits"].items()])
    return "\n".join(lines) + "\n"
