"""`assay keys create|list|revoke`: operator commands for API keys (SPEC §1.2).

Decisions where SPEC is silent:
- `create` prints the secret alone on stdout (so `KEY=$(assay keys create …)` works) and the
  details on stderr; the secret is never shown again and only its hash is stored.
- The keys commands work on an existing database only (and bring its schema up to date first). A
  data dir with no database is refused unless `create --init` asks for a new one: a key written into
  a database no server reads would be refused by the server later, with no hint why.
- Revoking is by the key's public prefix (the whole secret is accepted too); revoking twice is fine.
"""

from __future__ import annotations

import argparse
import json

from cli.context import CliError, database_exists, display_url, ensure_schema, load_settings, note, run_with_session
from domain.handles import NAMESPACE_RE
from store import keys as key_store


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    keys = commands.add_parser("keys", parents=[common], help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    create = actions.add_parser("create", parents=[common], help="issue a key and print its secret once")
    create.add_argument("--namespace", action="append", required=True, metavar="NAME",
                        help="a namespace the key owns (repeat for several)")
    create.add_argument("--scope", choices=key_store.SCOPES, required=True,
                        help="scoring: read and score; authoring: everything in its namespaces")
    create.add_argument("--label", default="", help="a note to recognise the key by")
    create.add_argument("--init", action="store_true",
                        help="create the database if the data dir has none yet (otherwise refused)")
    create.set_defaults(handler=create_command)

    listing = actions.add_parser("list", parents=[common], help="show every key (never the secrets)")
    listing.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    listing.set_defaults(handler=list_command)

    revoke = actions.add_parser("revoke", parents=[common], help="revoke a key by its prefix")
    revoke.add_argument("prefix", metavar="PREFIX", help="the prefix shown by `assay keys list`")
    revoke.set_defaults(handler=revoke_command)


def create_command(args: argparse.Namespace) -> int:
    bad = [name for name in args.namespace if not NAMESPACE_RE.fullmatch(name)]
    if bad:
        raise CliError(
            f"invalid namespace {', '.join(repr(n) for n in bad)}: use lowercase letters, digits and "
            "'-', starting with a letter or digit, at most 39 characters", exit_code=2
        )
    settings = existing_database(args, init=args.init)
    issued = run_with_session(
        settings, lambda session: key_store.create_key(session, args.namespace, args.scope, args.label)
    )
    record = issued.record
    note(f"Created {record.scope} key {record.prefix} for namespace(s) {', '.join(record.namespaces)}.")
    note("The secret below is shown only this once; store it somewhere safe.")
    print(issued.secret, flush=True)
    return 0


def existing_database(args: argparse.Namespace, *, init: bool = False):
    """The settings of the data dir's database, refused (exit 2) when there is none and ``init`` is off."""
    settings = load_settings(args.data_dir)
    if not init and not database_exists(settings):
        raise CliError(
            f"no Assay database at {display_url(settings.resolved_database_url)}. Run this where `assay up` "
            "runs, point --data-dir (or ASSAY_DATA_DIR) at its data dir, or pass --init to create a new one.",
            exit_code=2)
    ensure_schema(settings)
    return settings


def list_command(args: argparse.Namespace) -> int:
    settings = existing_database(args)
    records = run_with_session(settings, key_store.list_keys)
    rows = [_public_view(record) for record in records]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        note("No keys yet. Create one with `assay keys create --namespace NAME --scope authoring`.")
        return 0
    print(_table(rows))
    return 0


def revoke_command(args: argparse.Namespace) -> int:
    settings = existing_database(args)
    try:
        record = run_with_session(settings, lambda session: key_store.revoke(session, args.prefix))
    except key_store.UnknownKey:
        raise CliError(f"no key has the prefix {args.prefix!r}; `assay keys list` shows them") from None
    note(f"Key {record.prefix} is revoked (since {_timestamp(record.revoked_at)}); it no longer authenticates.")
    return 0


def _public_view(record: key_store.KeyRecord) -> dict:
    return {
        "prefix": record.prefix,
        "scope": record.scope,
        "namespaces": list(record.namespaces),
        "label": record.label,
        "created_at": _timestamp(record.created_at),
        "revoked_at": _timestamp(record.revoked_at) if record.revoked_at else None,
    }


def _timestamp(moment) -> str:
    return moment.replace(microsecond=0).isoformat()


def _table(rows: list[dict]) -> str:
    header = ("PREFIX", "SCOPE", "NAMESPACES", "CREATED", "REVOKED", "LABEL")
    lines = [header] + [
        (row["prefix"], row["scope"], ",".join(row["namespaces"]), row["created_at"],
         row["revoked_at"] or "-", row["label"] or "-")
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)
