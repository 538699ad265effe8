"""How the client commands (`build`, `score`, `models`) reach a server: the URL, the key, and what an
API error looks like on the terminal.

Decisions where the spec is silent:
- The server is, in order: `--url`, ASSAY_URL (environment, then `.env`), the URL the data dir's
  running `assay up` recorded, then http://127.0.0.1:8000.
- The key is looked up in order: `--key`, ASSAY_API_KEY (environment, then `.env`), then
  `<data-dir>/dev-key` (written by `assay up`), so on a development machine the commands work with
  no setup at all.
- A server error prints `assay: <code>: <message>` on stderr and exits 1; branch on the code, which
  is the error envelope's stable code (`connection_failed` / `timeout` when nothing answered).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.context import CliError, load_settings
from cli.devkey import DEV_KEY_FILE
from cli.stack import recorded_url
from client import AssayClient, AssayError

DEFAULT_URL = "http://127.0.0.1:8000"
REQUEST_TIMEOUT = 60.0


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=None, metavar="URL",
                        help="the Assay server (env ASSAY_URL; default: the URL of the running `assay up` "
                             f"of the data dir, else {DEFAULT_URL})")
    parser.add_argument("--key", default=None, metavar="SECRET",
                        help="API key (env ASSAY_API_KEY; falls back to <data-dir>/dev-key)")


def command_settings(args: argparse.Namespace):
    """The command's settings, read (environment and `.env`) once however many lookups need them."""
    if getattr(args, "client_settings", None) is None:
        args.client_settings = load_settings(args.data_dir)
    return args.client_settings


def server_url(args: argparse.Namespace) -> str:
    return args.url or command_settings(args).url or recorded_url(Path(args.data_dir).expanduser()) or DEFAULT_URL


def api_key(args: argparse.Namespace) -> str:
    key = args.key or command_settings(args).api_key
    if key:
        return key.strip()
    dev_key = Path(args.data_dir).expanduser() / DEV_KEY_FILE
    if dev_key.is_file():
        return dev_key.read_text().strip()
    raise CliError(f"no API key: pass --key, set ASSAY_API_KEY, or run `assay up` (it writes {dev_key})")


def open_client(args: argparse.Namespace) -> AssayClient:
    return AssayClient(server_url(args), api_key(args), timeout=REQUEST_TIMEOUT)


def report_api_error(error: AssayError) -> int:
    """Prints the envelope's code and message (and its details, which name what to fix, such as the
    traits lacking samples); the exit status for a failed call."""
    print(f"assay: {error.code}: {error.message}", file=sys.stderr, flush=True)
    if error.details:
        print(f"  details: {json.dumps(error.details, ensure_ascii=False)}", file=sys.stderr, flush=True)
    return 1
