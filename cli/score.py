"""`assay score HANDLE [TEXT|-|URL]`: one score card, as the server's bar chart or as JSON.

Decisions where the spec is silent:
- TEXT may be several arguments; they are joined with single spaces, so short texts need no quotes.
  `-`, or no TEXT with stdin not a terminal, reads the text from stdin.
- A lone http(s) URL is sent as the content unchanged: the server fetches and extracts it (SPEC §6),
  so the same allow/deny rules apply as for any other client.
- The chart is the server's own `Accept: text/plain` rendering, printed as it arrives, so the CLI
  and curl show the same thing. `--json` prints the ScoreResponse, indented.
"""

from __future__ import annotations

import argparse
import json
import sys

from cli.connection import add_connection_options, open_client, report_api_error
from cli.context import CliError
from client import AssayError


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    score = commands.add_parser("score", parents=[common], help="score a text against a model")
    score.add_argument("handle", metavar="HANDLE", help="<namespace>.<name>, optionally @vN or @tag")
    score.add_argument("text", nargs="*", metavar="TEXT",
                       help="the text to score; `-` reads stdin; a lone URL is fetched by the server")
    score.add_argument("--traits", default=None, metavar="A,B",
                       help="only these traits (keys or names, comma-separated)")
    score.add_argument("--json", action="store_true", help="print the JSON score card")
    add_connection_options(score)
    score.set_defaults(handler=score_command, collect_extra="text")


def read_content(words: list[str]) -> str:
    if words == ["-"] or (not words and not sys.stdin.isatty()):
        return sys.stdin.read()
    return " ".join(words)


def parse_traits(text: str | None) -> list[str] | None:
    if text is None:
        return None
    traits = [part.strip() for part in text.split(",") if part.strip()]
    if not traits:
        raise CliError("--traits names no trait", exit_code=2)
    return traits


def score_command(args: argparse.Namespace) -> int:
    content = read_content(args.text)
    if not content.strip():
        raise CliError("nothing to score: give the text as an argument, or `-` to read it from stdin",
                       exit_code=2)
    traits = parse_traits(args.traits)
    with open_client(args) as client:
        try:
            if args.json:
                output = json.dumps(client.score(args.handle, content, traits=traits), indent=2,
                                    ensure_ascii=False)
            else:
                output = client.score_rendered(args.handle, content, traits=traits).rstrip("\n")
        except AssayError as error:
            return report_api_error(error)
    print(output, flush=True)
    return 0
