"""`assay models`: the models a key can see, as a table or as JSON.

Decisions where the spec is silent:
- Without `--namespace` the server lists the catalog (the first public namespace), as the API does.
- Every page is read (following `next_cursor`), so the table is complete; `--json` prints the list
  of ModelDetail objects.
- Columns: handle, state, version (`vN`, or `-` before the first training), traits (names, in
  creation order, comma-separated).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.connection import add_connection_options, open_client, report_api_error
from client import AssayError
from contracts.states import ModelState

STATES = tuple(ModelState)
COLUMNS = ("HANDLE", "STATE", "VERSION", "TRAITS")


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    models = commands.add_parser("models", parents=[common], help="list models")
    models.add_argument("--namespace", default=None, help="list this namespace (default: the public catalog)")
    models.add_argument("--state", choices=STATES, default=None, help="only models in this state")
    models.add_argument("--json", action="store_true", help="print the models as JSON")
    add_connection_options(models)
    models.set_defaults(handler=models_command)


def format_table(models: list[dict[str, Any]]) -> str:
    rows = [COLUMNS] + [
        (m["handle"], m["state"], f"v{m['version_no']}" if m.get("version_no") is not None else "-",
         ", ".join(m.get("traits") or []))
        for m in models
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def models_command(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        try:
            models = list(client.iter_models(namespace=args.namespace, state=args.state, page_size=250))
        except AssayError as error:
            return report_api_error(error)
    if args.json:
        print(json.dumps(models, indent=2, ensure_ascii=False), flush=True)
    elif not models:
        print("No models.", flush=True)
    else:
        print(format_table(models), flush=True)
    return 0
