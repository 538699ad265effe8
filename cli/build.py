"""`assay build model.yaml --handle ns.name`: authoring files → a trained model, through the REST API.

The files are validated first (every problem printed as `file:line: field: message`, exit 2, nothing
sent). Then the draft is created or brought in line (`client.push_definition`), discovery runs when
the file says `traits: discover`, the model is trained, and a progress bar follows the run until the
model is ready (version and per-trait AUC printed, exit 0) or failed (error code and message, exit 1).

Decisions where the spec is silent:
- A `ready` model cannot take trait or sample edits (draft-only on the server). If the files no
  longer match it, the build stops with `definition_locked` (exit 1) and names the differences: the
  way forward is a new handle. If they match, nothing is sent and it says so (exit 0) — re-running a
  build is idempotent. Metadata (description, readme, …) may still change on a ready model and is
  patched without retraining.
- A `failed` model (its first training failed) is retrained when the files still match it, and
  refused like a ready one when they do not.
- The effort is `--effort`, else the file's `effort`, else the server's default (`high`). A ready
  model whose active version was trained at another effort is re-tuned (`reoptimize_params`) —
  the one change a ready model accepts.
- A model that is `busy` when the build starts is followed until it settles; if that run leaves the
  model `failed`, its error is reported rather than retried at once (run the build again to retry).
- `409 run_exists` on train means the identical run is queued, running or done: it is followed.
- Only `authored` samples are compared against the files, so score feedback and synthesized samples
  never count as edits. With zero-data retention the server keeps no samples; then only the traits
  and metadata are compared.
- `--timeout` bounds the wait, not the run: on expiry the run continues on the server, and running
  the same command again follows it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cli.authoring import AuthoringError, ModelSpec, load_model_spec
from cli.connection import add_connection_options, open_client, report_api_error, server_url
from cli.progress import ProgressBar
from cli.stack import recorded_url, recorded_workflows_url
from client import AssayClient, AssayError, push_definition
from domain.effort import DEFAULT_EFFORT, EFFORTS
from contracts.states import ModelState

EXIT_FAILED = 1
EXIT_BAD_FILES = 2
EXIT_INTERRUPTED = 130
DEFAULT_TIMEOUT = 3600.0
POLL_INTERVAL = 1.0
TRAIT_FIELDS = ("name", "description", "positive_label", "negative_label", "aggregation")


class BuildFailed(Exception):
    """The build could not finish; `code` is stable (a server error code, or one of ours:
    `definition_locked`, `timeout`, and the `last_operation.error.code` of a failed run)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Reporter(Protocol):
    def note(self, message: str) -> None: ...

    def progress(self, model: dict[str, Any]) -> None: ...

    def settled(self) -> None: ...


@dataclass(frozen=True)
class BuildResult:
    handle: str
    state: str
    version_no: int | None
    changed: bool  # this build wrote something (a model, traits, samples, metadata, or a new version)
    metrics: dict[str, Any] = field(default_factory=dict)


def _sample_identity(sample: dict[str, Any]) -> tuple:
    return sample["trait"], sample["text"], float(sample["quality"]), sample.get("source_url")


class Builder:
    def __init__(self, client: AssayClient, handle: str, spec: ModelSpec, reporter: Reporter, *,
                 effort: str | None = None, train: bool = True, timeout: float = DEFAULT_TIMEOUT,
                 poll_interval: float = POLL_INTERVAL, workflows_url: str | None = None) -> None:
        self.client = client
        self.workflows_url = workflows_url  # the Temporal UI's workflow list, when known
        self.handle = handle
        self.spec = spec
        self.reporter = reporter
        self.effort = effort or spec.effort
        self.train = train
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.changed = False

    # --- the whole build ---------------------------------------------------------------------------
    def run(self) -> BuildResult:
        model = self._get_model()
        if model is not None and model["state"] == ModelState.BUSY:
            operation = model.get("last_operation") or {}
            self.reporter.note(f"{self.handle} is busy with a {operation.get('kind', 'run')} run "
                               f"({operation.get('run_id')}); following it.")
            model = self._wait()
            if model["state"] == ModelState.FAILED:
                raise self._failure(model)
        if model is None or model["state"] == ModelState.DRAFT:
            return self._build_draft(model)
        if model["state"] == ModelState.ARCHIVED:
            raise BuildFailed("model_archived", f"{self.handle} is archived; archived handles cannot be reused, "
                              "so build under a new handle.")
        self._require_matching_definition(model)
        self._patch_metadata(model)
        if model["state"] == ModelState.FAILED:
            self.reporter.note(f"{self.handle} failed its last training; retrying it.")
            return self._train_and_wait()
        return self._ready(model)

    def _build_draft(self, model: dict[str, Any] | None) -> BuildResult:
        if model is not None and self.spec.discover and self._has_intrinsic_traits() \
                and not self.definition_differences(model):
            self.reporter.note(f"{self.handle} is a draft whose traits were already discovered; files unchanged.")
        else:
            pushed = push_definition(self.client, self.handle, self.spec)
            self.changed = self.changed or pushed.changed
            self.reporter.note(self._describe_push(pushed))
            if self.spec.discover:
                self._discover()
        if not self.train:
            self.reporter.note("Skipping training (--no-train); the draft is ready to train.")
            return BuildResult(self.handle, ModelState.DRAFT, None, self.changed)
        return self._train_and_wait()

    def _ready(self, model: dict[str, Any]) -> BuildResult:
        version = self._active_version(model)
        wanted = self.effort or DEFAULT_EFFORT
        trained_at = (version.get("metrics") or {}).get("effort")
        if trained_at and trained_at != wanted:
            self.reporter.note(f"{self.handle} v{model['version_no']} was trained at effort {trained_at}; "
                               f"re-tuning at {wanted}.")
            return self._train_and_wait(reoptimize=True)
        self.reporter.note(f"{self.handle} is already trained and matches the files; nothing changed"
                           if not self.changed else f"{self.handle} is already trained; updated its metadata")
        return BuildResult(self.handle, ModelState.READY, model["version_no"], self.changed, version.get("metrics") or {})

    # --- steps -------------------------------------------------------------------------------------
    def _discover(self) -> None:
        try:
            started = self.client.discover_traits(self.handle, effort=self.effort)
            self.reporter.note(f"Discovering traits: run {started['run_id']}.{self._watch(started['run_id'])}")
            self.changed = True
        except AssayError as error:
            if error.code != "run_exists":
                raise
            self.reporter.note(f"The same discovery ({error.run_id}) already exists; following it.")
        model = self._wait()
        operation = model.get("last_operation") or {}
        if operation.get("status") != "succeeded":
            raise self._failure(model)
        traits = [t["key"] for t in self.client.list_traits(self.handle)["traits"] if t.get("kind") == "intrinsic"]
        self.reporter.note(f"Discovered {len(traits)} intrinsic trait(s): {', '.join(traits) or 'none'}.")

    def _train_and_wait(self, *, reoptimize: bool = False) -> BuildResult:
        try:
            started = self.client.train(self.handle, effort=self.effort, reoptimize_params=reoptimize or None)
        except AssayError as error:
            if error.code == "run_exists":
                self.reporter.note(f"The same training ({error.run_id}) already exists; following it.")
            elif error.code == "model_busy":
                self.reporter.note(f"{self.handle} is busy with another run; waiting for it, then training.")
                self._wait()
                return self._train_and_wait(reoptimize=reoptimize)
            else:
                raise
        else:
            if started.get("run_id"):
                self.changed = True
                self.reporter.note(f"Training started: run {started['run_id']}.{self._watch(started['run_id'])}")
        model = self._wait()
        operation = model.get("last_operation") or {}
        if model["state"] != ModelState.READY or operation.get("status") not in ("succeeded", None):
            raise self._failure(model)
        version = self._active_version(model)
        return BuildResult(self.handle, ModelState.READY, model["version_no"], self.changed, version.get("metrics") or {})

    def _watch(self, run_id: str) -> str:
        """Where to watch a run: its Temporal UI page (the workflow id is the run id)."""
        if self.workflows_url:
            return f"\n  Watch it in the Temporal UI: {self.workflows_url}/{run_id}"
        return " It is the run's Workflow ID in the Temporal UI."

    # --- comparing the files with the server -------------------------------------------------------
    def definition_differences(self, model: dict[str, Any]) -> list[str]:
        """What the files say that the model on the server does not (traits and authored samples)."""
        differences = []
        server = {t["key"]: t for t in self.client.list_traits(self.handle)["traits"] if t.get("kind") != "intrinsic"}
        wanted = {t["key"]: t for t in self.spec.traits}
        for key in wanted.keys() - server.keys():
            differences.append(f"trait {key!r} is new in the files")
        for key in server.keys() - wanted.keys():
            differences.append(f"trait {key!r} is no longer in the files")
        for key in wanted.keys() & server.keys():
            for name in TRAIT_FIELDS:
                if (wanted[key].get(name) or "") != (server[key].get(name) or ""):
                    differences.append(f"trait {key!r}: {name} changed")
        if model.get("zero_data_retention"):
            return differences  # the server keeps no samples to compare against
        on_server = Counter(_sample_identity(s) for s in self.client.iter_samples(self.handle, page_size=500)
                            if s.get("provenance", "authored") == "authored")
        in_files = Counter(_sample_identity(s) for s in self.spec.samples)
        added, removed = sum((in_files - on_server).values()), sum((on_server - in_files).values())
        if added:
            differences.append(f"{added} sample(s) in the files are not on the server")
        if removed:
            differences.append(f"{removed} sample(s) on the server are no longer in the files")
        return differences

    def _require_matching_definition(self, model: dict[str, Any]) -> None:
        differences = self.definition_differences(model)
        if not differences:
            return
        listed = "; ".join(differences[:8]) + ("; …" if len(differences) > 8 else "")
        what = "is already trained" if model["state"] == ModelState.READY else "failed its first training"
        raise BuildFailed("definition_locked", (
            f"{self.handle} {what}, and traits and samples can only change in a draft ({listed}). "
            "Build the changed files under a new handle, e.g. --handle "
            f"{self.handle.split('.', 1)[0]}.<new-name>."))

    def _patch_metadata(self, model: dict[str, Any]) -> None:
        stale = {name: value for name, value in self.spec.model_fields().items() if model.get(name) != value}
        if stale:
            self.client.update_model(self.handle, **stale)
            self.changed = True
            self.reporter.note(f"Updated {', '.join(sorted(stale))} of {self.handle}.")

    # --- helpers -----------------------------------------------------------------------------------
    def _get_model(self) -> dict[str, Any] | None:
        try:
            return self.client.get_model(self.handle)
        except AssayError as error:
            if error.code == "not_found":
                return None
            raise

    def _has_intrinsic_traits(self) -> bool:
        return any(t.get("kind") == "intrinsic" for t in self.client.list_traits(self.handle)["traits"])

    def _wait(self) -> dict[str, Any]:
        remaining = self.deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise AssayError(0, "timeout", "no time left")
            return self.client.wait_until_settled(self.handle, poll_interval=self.poll_interval, timeout=remaining,
                                                  on_update=self.reporter.progress)
        except AssayError as error:
            if error.code == "timeout" and time.monotonic() >= self.deadline - self.poll_interval:
                raise BuildFailed("timeout", (
                    f"{self.handle} was still busy after {self.timeout:.0f} s; the run goes on on the server, "
                    "and running the same command again follows it.")) from None
            raise
        finally:
            self.reporter.settled()

    def _active_version(self, model: dict[str, Any]) -> dict[str, Any]:
        if model.get("version_no") is None:
            return {}
        return self.client.get_version(self.handle, f"v{model['version_no']}")

    def _failure(self, model: dict[str, Any]) -> BuildFailed:
        operation = model.get("last_operation") or {}
        error = operation.get("error") or {}
        return BuildFailed(error.get("code") or "internal_error",
                           error.get("message") or f"the {operation.get('kind', 'run')} run did not succeed "
                           f"(status {operation.get('status')}, model {model['state']})")

    def _describe_push(self, pushed) -> str:
        if pushed.created:
            return (f"Created draft {self.handle} with {len(self.spec.traits)} trait(s) and "
                    f"{pushed.samples_added} sample(s).")
        if not pushed.changed:
            return f"Draft {self.handle} already matches the files."
        return (f"Updated draft {self.handle}: {pushed.samples_added} sample(s) added, "
                f"{pushed.samples_removed} removed, {pushed.traits_removed} trait(s) removed.")


def format_result(result: BuildResult) -> str:
    """The closing summary: version and per-trait AUC."""
    if result.version_no is None:
        return f"{result.handle}: {result.state}"
    metrics = result.metrics or {}
    lines = [f"{result.handle} is ready: v{result.version_no} (effort {metrics.get('effort', '?')})"]
    traits = metrics.get("traits") or {}
    width = max((len(key) for key in traits), default=0)
    for key, trait in traits.items():
        auc = trait.get("auc")
        auc_text = f"{auc:.3f}" if isinstance(auc, (int, float)) else "n/a"
        lines.append(f"  {key:<{width}}  AUC {auc_text}  ({trait.get('n_positive', '?')} positive, "
                     f"{trait.get('n_negative', '?')} negative)")
    return "\n".join(lines)


class TerminalReporter:
    """Remarks and the progress bar on stderr; the result goes to stdout."""

    def __init__(self) -> None:
        self.bar = ProgressBar(sys.stderr)

    def note(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def progress(self, model: dict[str, Any]) -> None:
        self.bar.update(model)

    def settled(self) -> None:
        self.bar.finish()


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    build = commands.add_parser("build", parents=[common], help="create and train a model from model.yaml")
    build.add_argument("model_file", metavar="MODEL_YAML", help="the model.yaml to build")
    build.add_argument("--handle", required=True, help="the model's handle, <namespace>.<name>")
    build.add_argument("--effort", choices=EFFORTS, default=None,
                       help="training effort (default: the file's `effort`, else the server's default)")
    build.add_argument("--no-train", action="store_true", help="only bring the draft in line; do not train")
    build.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                       help=f"seconds to wait for the run (default {DEFAULT_TIMEOUT:.0f}); the run itself goes on")
    add_connection_options(build)
    build.set_defaults(handler=build_command)


def build_command(args: argparse.Namespace) -> int:
    try:
        spec = load_model_spec(args.model_file)
    except AuthoringError as error:
        for line in str(error).splitlines():
            print(line, file=sys.stderr)
        print(f"assay: {len(error.problems)} problem(s) in the model files; nothing was sent.", file=sys.stderr)
        return EXIT_BAD_FILES
    reporter = TerminalReporter()
    for warning in spec.warnings():
        reporter.note(f"warning: {warning}")
    with open_client(args) as client:
        builder = Builder(client, args.handle, spec, reporter, effort=args.effort, train=not args.no_train,
                          timeout=args.timeout, workflows_url=_workflows_url(args))
        try:
            result = builder.run()
        except AssayError as error:
            return report_api_error(error)
        except BuildFailed as failure:
            print(f"assay: {failure.code}: {failure.message}", file=sys.stderr, flush=True)
            return EXIT_FAILED
        except KeyboardInterrupt:
            reporter.settled()
            print("assay: interrupted; a run already started goes on on the server, and running the same "
                  "command again follows it.", file=sys.stderr, flush=True)
            return EXIT_INTERRUPTED
    print(format_result(result), flush=True)
    return 0


def _workflows_url(args: argparse.Namespace) -> str | None:
    """The Temporal UI of the data dir's running `assay up`, if that stack is the server we talk to."""
    data_dir = Path(args.data_dir).expanduser()
    return recorded_workflows_url(data_dir) if server_url(args) == recorded_url(data_dir) else None
