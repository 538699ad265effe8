"""`assay models`: the models a key can see, as a table or as JSON.

Decisions where the spec is silent:
- Without `--namespace` the list holds the key's own namespaces and then the catalog (the first
  public namespace, which the API lists by default). The API does not say which namespaces a key
  owns, so the CLI looks the key up in the data dir's database, read-only: that finds the dev key
  (namespace `dev`) and every key issued on this machine. A key it cannot find there (a remote
  server's) gets the catalog alone and a note to pass `--namespace`.
- Every page is read (following `next_cursor`), so the table is complete; `--json` prints the list
  of ModelDetail objects.
- Columns: handle, state, version (`vN`, or `-` before the first training), traits (names, in
  creation order, comma-separated).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from cli.connection import add_connection_options, api_key, command_settings, open_client, report_api_error
from cli.context import database_exists, note, run_with_session
from client import AssayError
from contracts.states import ModelState
from store import keys as key_store

STATES = tuple(ModelState)
COLUMNS = ("HANDLE", "STATE", "VERSION", "TRAITS")


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    models = commands.add_parser("models", parents=[common], help="list models")
    models.add_argument("--namespace", default=None,
                        help="list this namespace (default: the key's own namespaces, when the data dir's "
                             "database knows the key, and the public catalog)")
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


def own_namespaces(args: argparse.Namespace) -> list[str] | None:
    """The namespaces the key owns, by the data dir's database; None when that database does not
    know the key (or there is none)."""
    settings = command_settings(args)
    secret = api_key(args)
    try:
        if not database_exists(settings):
            return None
        record = run_with_session(settings, lambda session: key_store.verify(session, secret))
    except (SQLAlchemyError, OSError):
        return None
    return sorted(record.namespaces) if record is not None else None


def models_command(args: argparse.Namespace) -> int:
    # None stands for the server's default listing, the catalog.
    namespaces: list[str | None] = [args.namespace]
    owned = own_namespaces(args) if args.namespace is None else []
    if args.namespace is None:
        namespaces = [*(owned or []), None]
    found: dict[str, dict[str, Any]] = {}
    with open_client(args) as client:
        try:
            for namespace in namespaces:
                for model in client.iter_models(namespace=namespace, state=args.state, page_size=250):
                    found.setdefault(model["handle"], model)
        except AssayError as error:
            return report_api_error(error)
    models = list(found.values())
    if args.json:
        print(json.dumps(models, indent=2, ensure_ascii=False), flush=True)
    elif not models:
        print("No models.", flush=True)
    else:
        print(format_table(models), flush=True)
    if owned is None:
        note("(The public catalog only: this key is not in the data dir's database; pass --namespace to "
             "list your own models.)")
    return 0
