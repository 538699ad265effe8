"""Seeding the example catalog: on `assay up`, once the stack is healthy, every `examples/<name>/model.yaml`
is built into the catalog namespace as `<catalog>.<name>` through the REST API, like `assay build`.

Decisions where the spec is silent:
- Seeding runs in a background thread of the `assay up` process, so the banner and the API come
  first; each example prints one line when it is ready, and the details go to
  `<data-dir>/logs/catalog.log`.
- It uses a dedicated key (authoring, owning only the catalog namespace) kept in
  `<data-dir>/catalog-key` (0600). The stored key is reused while it still authenticates and owns
  that namespace; otherwise a new one is issued and the file rewritten.
- Idempotent across starts: a model that is `ready` is left alone (even if the example files changed
  since — the catalog never retrains behind the operator's back); a missing, `draft` or `failed` one
  is (re)built; a `busy` one (a start interrupted mid-training) is followed.
- Effort: the example file's own `effort`, else `medium`. Training an example at `high` takes about
  a second once the embedder is loaded, so there is no need to lower it.
- The examples are found next to the installed package (the repository checkout). An install
  without them (a wheel) seeds nothing and says so. A directory whose name is not a valid model name
  is skipped with a note.
- Stopping the stack stops the seeding at its next poll; a run already started keeps going in
  Temporal and is followed on the next start.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.authoring import AuthoringError, load_model_spec
from cli.build import Builder, BuildFailed
from cli.devkey import ensure_key_file
from cli.progress import ProgressBar
from client import AssayClient, AssayError
from domain.handles import MODEL_NAME_RE
from settings import Settings
from contracts.states import ModelState

CATALOG_KEY_FILE = "catalog-key"
CATALOG_LOG_FILE = "catalog.log"
FALLBACK_EFFORT = "medium"
SEED_TIMEOUT = 1800.0
POLL_INTERVAL = 0.5


def bundled_examples_dir() -> Path:
    """`examples/` of the project this package was installed from (editable install or checkout)."""
    return Path(__file__).resolve().parents[1] / "examples"


def catalog_key_path(settings: Settings) -> Path:
    return settings.data_dir / CATALOG_KEY_FILE


def ensure_catalog_key(settings: Settings, namespace: str) -> str:
    """The stored catalog key if it still works for `namespace`, else a newly issued one."""
    secret, _ = ensure_key_file(
        settings, catalog_key_path(settings), namespace, "catalog key (assay up)",
        usable=lambda record: record.scope == "authoring" and namespace in record.namespaces)
    return secret


class SeedingStopped(Exception):
    pass


class _LogReporter:
    """`assay build`'s reporter, writing to the catalog log; stops the build when the stack stops."""

    def __init__(self, log: Callable[[str], None], stream, stop: threading.Event) -> None:
        self.log = log
        self.bar = ProgressBar(stream)
        self.stop = stop

    def note(self, message: str) -> None:
        self.log(message)

    def progress(self, model: dict[str, Any]) -> None:
        if self.stop.is_set():
            raise SeedingStopped()
        self.bar.update(model)

    def settled(self) -> None:
        self.bar.finish()


class CatalogSeeder:
    def __init__(self, settings: Settings, api_url: str, client_command: Callable[..., str] | None = None, *,
                 examples_dir: Path | None = None, announce: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.api_url = api_url
        # Renders a runnable `assay …` line for the hints (the stack knows its URL and data dir).
        self.client_command = client_command or (lambda *words: " ".join(["assay", *map(shlex.quote, words)]))
        self.examples_dir = examples_dir or bundled_examples_dir()
        self.announce = announce or _print_now
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.log_path = settings.data_dir / "logs" / CATALOG_LOG_FILE

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run_logged, name="catalog-seeding", daemon=True)
        self.thread.start()

    def stop(self, wait: float = 5.0) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(wait)

    # --- the thread ----------------------------------------------------------------------------
    def _run_logged(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as stream:
            def log(message: str) -> None:
                stream.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
                stream.flush()

            try:
                self.seed_all(log, stream)
            except SeedingStopped:
                log("Stopped with the stack; an unfinished run continues on the next start.")
            except Exception as exc:  # noqa: BLE001 — never take the stack down; the log says what happened
                if not self.stop_event.is_set():
                    log(f"Seeding stopped by an unexpected error: {type(exc).__name__}: {exc}")
                    self.announce(f"Example catalog: seeding failed; see {self.log_path}")

    def seed_all(self, log: Callable[[str], None], stream) -> None:
        namespace = self.settings.catalog_namespace
        if namespace is None:
            log("No public namespace is configured, so there is no catalog to seed.")
            return
        model_files = sorted(self.examples_dir.glob("*/model.yaml")) if self.examples_dir.is_dir() else []
        if not model_files:
            log(f"No examples found under {self.examples_dir} (an install without them); nothing to seed.")
            self.announce("Example catalog: this install has no examples/ directory; nothing seeded.")
            return
        secret = ensure_catalog_key(self.settings, namespace)
        started = time.monotonic()
        log(f"Seeding {len(model_files)} example(s) from {self.examples_dir} into '{namespace}'.")
        with AssayClient(self.api_url, secret) as client:
            for model_file in model_files:
                if self.stop_event.is_set():
                    raise SeedingStopped()
                self.seed_one(client, namespace, model_file, log, stream)
        log(f"Seeding finished after {time.monotonic() - started:.1f} s.")

    def seed_one(self, client: AssayClient, namespace: str, model_file: Path, log: Callable[[str], None],
                 stream) -> None:
        name = model_file.parent.name
        handle = f"{namespace}.{name}"
        if not MODEL_NAME_RE.fullmatch(name):
            log(f"Skipping {model_file}: {name!r} is not a valid model name.")
            return
        try:
            spec = load_model_spec(model_file)
        except AuthoringError as error:
            log(f"Skipping {handle}: its files have problems:\n{error}")
            return
        try:
            current = client.get_model(handle)
        except AssayError as error:
            if error.code != "not_found":
                raise
            current = None
        if current is not None and current["state"] == ModelState.READY:
            log(f"{handle} is already ready (v{current['version_no']}); left alone.")
            self.announce(f"Example {handle} is ready (v{current['version_no']}, trained on an earlier start).")
            return
        started = time.monotonic()
        builder = Builder(client, handle, spec, _LogReporter(log, stream, self.stop_event),
                          effort=spec.effort or FALLBACK_EFFORT, timeout=SEED_TIMEOUT, poll_interval=POLL_INTERVAL)
        try:
            result = builder.run()
        except (BuildFailed, AssayError) as failure:
            if self.stop_event.is_set():
                raise SeedingStopped() from None
            log(f"{handle} could not be built: {failure.code}: {failure.message}")
            self.announce(f"Example {handle} could not be built ({failure.code}); see {self.log_path}")
            return
        log(f"{handle} is ready: v{result.version_no} after {time.monotonic() - started:.1f} s.")
        self.announce(f"Example {handle} is ready (v{result.version_no}). "
                      f"Try: {self.client_command('score', handle, _sample_text(spec))}")


def _print_now(line: str) -> None:
    print(line, flush=True)


def _sample_text(spec) -> str:
    """A whole, short text from the example itself, for the hint printed when it is ready (the
    shortest one-line sample: a cut text would be scored with its cut)."""
    lines = [sample["text"] for sample in spec.samples if sample["text"].strip() and "\n" not in sample["text"]]
    return min(lines, key=len) if lines else "Thanks for the quick fix."
