"""`assay versions`: a model's trained versions, and the tags and the active version that pick among them.

    assay versions HANDLE                    list the versions, newest first (* marks the active one)
    assay versions tag HANDLE NAME           name the active version NAME (a tag of that name moves)
    assay versions untag HANDLE NAME         remove the tag NAME
    assay versions activate HANDLE vN|TAG    serve that version from now on

Decisions where the spec is silent:
- One command with action words rather than four commands: a handle always holds a dot, so it can
  never be mistaken for `tag`, `untag` or `activate`.
- `activate` reads `vN` as a version number and anything else as a tag, by the handle grammar's own
  rule (`domain.handles.version_number`).
- `--json` prints the list of versions (VersionSummary) or the server's answer to the action.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from argcomplete.completers import ChoicesCompleter

from cli.connection import add_connection_options, open_client, report_api_error
from cli.context import CliError
from client import AssayClient, AssayError
from domain.handles import version_number

ACTIONS = {"tag": ("HANDLE", "NAME"), "untag": ("HANDLE", "NAME"), "activate": ("HANDLE", "vN|TAG")}
COLUMNS = ("VERSION", "ACTIVE", "TRIGGERED BY", "SAMPLES", "CREATED", "TAGS")
USAGE = """assay versions [options] HANDLE
       assay versions [options] tag HANDLE NAME
       assay versions [options] untag HANDLE NAME
       assay versions [options] activate HANDLE vN|TAG"""


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    versions = commands.add_parser(
        "versions", parents=[common], usage=USAGE, help="list a model's versions; tag, untag or activate one",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="List a model's versions (newest first; * marks the one that serves), or:\n"
                    "  tag HANDLE NAME           name the active version NAME (an existing tag NAME moves to it)\n"
                    "  untag HANDLE NAME         remove the tag NAME\n"
                    "  activate HANDLE vN|TAG    serve that version (pins the model: background retrains\n"
                    "                            store new versions without switching to them)")
    words = versions.add_argument("words", nargs="+", metavar="ARGS", help="HANDLE, or an action and its arguments")
    words.completer = ChoicesCompleter(list(ACTIONS))  # type: ignore[attr-defined]  (read by argcomplete)
    versions.add_argument("--json", action="store_true", help="print the versions, or the answer, as JSON")
    add_connection_options(versions)
    versions.set_defaults(handler=versions_command, collect_extra="words")


def versions_command(args: argparse.Namespace) -> int:
    action, operands = _parse_words(args.words)
    with open_client(args) as client:
        try:
            if action is None:
                return _list(client, operands[0], as_json=args.json)
            answer = _act(client, action, *operands)
        except AssayError as error:
            return report_api_error(error)
    print(json.dumps(answer, indent=2, ensure_ascii=False) if args.json else _describe(action, answer), flush=True)
    return 0


def _parse_words(words: list[str]) -> tuple[str | None, list[str]]:
    if words[0] in ACTIONS:
        wanted = ACTIONS[words[0]]
        if len(words) - 1 != len(wanted):
            raise CliError(f"usage: assay versions {words[0]} {' '.join(wanted)}", exit_code=2)
        return words[0], words[1:]
    if len(words) != 1:
        raise CliError(f"unexpected {' '.join(words[1:])!r}: the actions are {', '.join(ACTIONS)} "
                       "(`assay versions tag HANDLE NAME`)", exit_code=2)
    return None, words


def _act(client: AssayClient, action: str, handle: str, target: str) -> dict[str, Any]:
    if action == "tag":
        return client.tag_version(handle, target)
    if action == "untag":
        return client.untag_version(handle, target)
    if version_number(target) is not None:
        return client.activate_version(handle, version=target)
    return client.activate_version(handle, tag=target)


def _describe(action: str, answer: dict[str, Any]) -> str:
    if action == "tag":
        return f"Tagged {answer['handle']} v{answer['version_no']} as {answer['tag']}."
    if action == "untag":
        return f"Removed tag {answer['tag']} from {answer['handle']}."
    return f"{answer['handle']} now serves v{answer['version_no']}."


def _list(client: AssayClient, handle: str, *, as_json: bool) -> int:
    active = client.get_model(handle).get("version_no")
    versions = list(client.iter_versions(handle, page_size=100))
    if as_json:
        print(json.dumps(versions, indent=2, ensure_ascii=False), flush=True)
    elif not versions:
        print(f"{handle} has no versions yet (train it first).", flush=True)
    else:
        print(format_table(versions, active), flush=True)
    return 0


def format_table(versions: list[dict[str, Any]], active: int | None) -> str:
    rows = [COLUMNS] + [
        (f"v{v['version_no']}", "*" if v["version_no"] == active else "", v.get("triggered_by") or "-",
         str(v.get("sample_count", "-")), str(v.get("created_at", "-"))[:19].replace("T", " "),
         ", ".join(v.get("tags") or []) or "-")
        for v in versions
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)
