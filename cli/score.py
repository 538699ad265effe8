"""`assay score`, `assay compare` and `assay feedback`: score cards from a model, as the server's bar
chart or as JSON.

Decisions where the spec is silent:
- TEXT may be several arguments; they are joined with single spaces, so short texts need no quotes.
  `-`, or no TEXT with stdin not a terminal, reads the text from stdin.
- A lone http(s) URL is sent as the content unchanged: the server fetches and extracts it (SPEC §6),
  so the same allow/deny rules apply as for any other client.
- The chart is the server's own `Accept: text/plain` rendering, printed as it arrives, so the CLI
  and curl show the same thing. `--json` prints the ScoreResponse, indented.
- `--traits` may be repeated and each may list several traits (`--traits a,b --traits c`): they add up.
- `compare` takes exactly two texts, A (the baseline) and B (the candidate); quote each.
- `feedback` is a score whose labels become training samples (`--label trait=value`, repeatable). A
  value that reads as a number is sent as one, anything else as a word; the server judges both by the
  label rules. It prints what was stored and the scores, since the chart carries no sample ids.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from cli.connection import add_connection_options, open_client, report_api_error
from cli.context import CliError
from client import AssayError


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    score = commands.add_parser("score", parents=[common], help="score a text against a model",
                                description="Score a text against a model and print its score card.")
    _add_handle(score)
    _add_text(score, "the text to score")
    _add_traits(score)
    score.add_argument("--json", action="store_true", help="print the JSON score card")
    add_connection_options(score)
    score.set_defaults(handler=score_command, collect_extra="text")

    compare = commands.add_parser("compare", parents=[common], help="score two texts and show the differences",
                                  description="Score a baseline A and a candidate B with the same model version "
                                              "and show each trait's difference.")
    _add_handle(compare)
    compare.add_argument("a", metavar="A", help="the baseline text (quote it); a lone URL is fetched by the server")
    compare.add_argument("b", metavar="B", help="the candidate text (quote it); a lone URL is fetched by the server")
    _add_traits(compare)
    compare.add_argument("--json", action="store_true", help="print the JSON comparison")
    add_connection_options(compare)
    compare.set_defaults(handler=compare_command)

    feedback = commands.add_parser(
        "feedback", parents=[common], help="score a text and store labels for it as training samples",
        description="Score a text and store your labels for it as training samples (feedback). Buffered "
                    "feedback triggers a background retrain. Needs an authoring key of the model's namespace.")
    feedback.add_argument("handle", metavar="HANDLE", help="<namespace>.<name>")
    _add_text(feedback, "the text you label")
    feedback.add_argument("--label", action="append", required=True, metavar="TRAIT=VALUE",
                          help="a label: trait key or name = a number from 0 to 1 or a label word "
                               "(good/poor, yes/no, the trait's pole labels, …); repeat for several traits")
    feedback.add_argument("--json", action="store_true",
                          help="print the JSON score card (its metadata.sample_ids are the stored samples)")
    add_connection_options(feedback)
    feedback.set_defaults(handler=feedback_command, collect_extra="text")


def _add_handle(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handle", metavar="HANDLE", help="<namespace>.<name>, optionally @vN or @tag")


def _add_text(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("text", nargs="*", metavar="TEXT",
                        help=f"{what}; `-` reads stdin; a lone URL is fetched by the server")


def _add_traits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--traits", action="append", default=None, metavar="A,B",
                        help="only these traits (keys or names, comma-separated; repeat to add more)")


def read_content(words: list[str]) -> str:
    if words == ["-"] or (not words and not sys.stdin.isatty()):
        return sys.stdin.read()
    return " ".join(words)


def required_content(words: list[str], what: str) -> str:
    content = read_content(words)
    if not content.strip():
        raise CliError(f"nothing to {what}: give the text as an argument, or `-` to read it from stdin",
                       exit_code=2)
    return content


def parse_traits(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    traits = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not traits:
        raise CliError("--traits names no trait", exit_code=2)
    return list(dict.fromkeys(traits))


def parse_labels(values: list[str]) -> dict[str, str | float]:
    labels: dict[str, str | float] = {}
    for value in values:
        trait, equals, label = value.partition("=")
        if not equals or not trait.strip() or not label.strip():
            raise CliError(f"--label {value!r} is not TRAIT=VALUE (e.g. --label warmth=warm)", exit_code=2)
        try:
            number = float(label)
        except ValueError:
            number = None
        # nan/inf parse as floats but are not JSON numbers: send them as words for the server to refuse.
        labels[trait.strip()] = number if number is not None and math.isfinite(number) else label.strip()
    return labels


def score_command(args: argparse.Namespace) -> int:
    content = required_content(args.text, "score")
    traits = parse_traits(args.traits)
    with open_client(args) as client:
        try:
            if args.json:
                output = _indented(client.score(args.handle, content, traits=traits))
            else:
                output = client.score_rendered(args.handle, content, traits=traits).rstrip("\n")
        except AssayError as error:
            return report_api_error(error)
    print(output, flush=True)
    return 0


def compare_command(args: argparse.Namespace) -> int:
    if not args.a.strip() or not args.b.strip():
        raise CliError("compare needs two non-blank texts, A and B", exit_code=2)
    traits = parse_traits(args.traits)
    with open_client(args) as client:
        try:
            if args.json:
                output = _indented(client.compare(args.handle, args.a, args.b, traits=traits))
            else:
                output = client.compare_rendered(args.handle, args.a, args.b, traits=traits).rstrip("\n")
        except AssayError as error:
            return report_api_error(error)
    print(output, flush=True)
    return 0


def feedback_command(args: argparse.Namespace) -> int:
    content = required_content(args.text, "label")
    labels = parse_labels(args.label)
    with open_client(args) as client:
        try:
            card = client.score(args.handle, content, feedback=labels)
        except AssayError as error:
            return report_api_error(error)
    if args.json:
        print(_indented(card), flush=True)
        return 0
    ids = (card.get("metadata") or {}).get("sample_ids") or []
    print(f"Stored {len(ids)} feedback sample(s) for {args.handle} (ids {', '.join(map(str, ids)) or '-'}).",
          flush=True)
    scores = card.get("scores") or {}
    width = max((len(key) for key in scores), default=0)
    for key, value in scores.items():
        print(f"  {key:<{width}}  {value}", flush=True)
    return 0


def _indented(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
