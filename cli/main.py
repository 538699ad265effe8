# PYTHON_ARGCOMPLETE_OK  (argcomplete's global activation looks for this marker in the first 1 kB)
"""The `assay` command line.

Operator commands: `up` (the embedded stack), `migrate`, `keys create|list|revoke`. Every command
takes `--data-dir` (env ASSAY_DATA_DIR, default `.assay`), so `assay keys …` reaches the database of
the `assay up` that owns the same data dir; ASSAY_DATABASE_URL overrides the database.
Client commands: `build`, `score`, `compare`, `feedback`, `models`, `versions`, `runs`, `follow`, `eval` talk
to a running server over the REST API (`--url`, env ASSAY_URL) with `--key` / ASSAY_API_KEY, falling
back to the dev key in the data dir.
Shell completion comes from argcomplete (`eval "$(register-python-argcomplete assay)"`).
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version

import argcomplete

from cli import build, evaluate, jobs, keys, models, runs, score, up, versions
from cli.context import (
    CliError,
    default_data_dir,
    display_url,
    ensure_schema,
    load_settings,
    note,
)


def build_parser() -> argparse.ArgumentParser:
    # Accepted before or after the subcommand; SUPPRESS keeps a later default from
    # overwriting a value given earlier on the line.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help="where the embedded stack keeps its files (env ASSAY_DATA_DIR, default .assay)")

    parser = argparse.ArgumentParser(prog="assay", parents=[common],
                                     description="Run and operate an Assay trait-scoring service.")
    parser.add_argument("--version", action="version", version=f"assay {version('assay')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up.add_parser(commands, common)

    migrate = commands.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    migrate.set_defaults(handler=migrate_command)

    keys.add_parser(commands, common)
    build.add_parser(commands, common)
    score.add_parser(commands, common)  # score, compare, feedback
    models.add_parser(commands, common)
    versions.add_parser(commands, common)
    runs.add_parser(commands, common)  # runs, follow
    jobs.add_parser(commands, common)  # score-file, jobs follow
    evaluate.add_parser(commands, common)  # eval
    return parser


def migrate_command(args: argparse.Namespace) -> int:
    settings = load_settings(args.data_dir)
    ensure_schema(settings)
    note(f"Database {display_url(settings.resolved_database_url)} is at the newest schema.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argcomplete.autocomplete(parser)  # answers a completion request from the shell and exits; else a no-op
    args, extra = parser.parse_known_args(argv)
    # argparse cannot take a multi-word positional after an option (`score h --json some text`); a
    # command that wants the leftover words names the attribute they belong to.
    collect = getattr(args, "collect_extra", None)
    unknown_options = [word for word in extra if word.startswith("-") and word != "-"]
    if extra and (collect is None or unknown_options):
        parser.error(f"unrecognized arguments: {' '.join(unknown_options or extra)}")
    if extra:
        setattr(args, collect, [*getattr(args, collect), *extra])
    # Not an argparse default: parsers share the --data-dir action, so a default set on one would
    # overwrite a value given at another level.
    if getattr(args, "data_dir", None) is None:
        args.data_dir = default_data_dir()
    try:
        return args.handler(args)
    except CliError as error:
        print(f"assay: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
