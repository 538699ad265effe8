"""`assay up`: the embedded stack on one machine — Temporal dev server, migrations, workers, API.

Decisions where SPEC is silent:
- Startup order is Temporal → migrations → dev key → workers → API; shutdown is the reverse
  (API, workers, Temporal), each part getting SIGTERM and, after a grace period, SIGKILL.
- A part counts as healthy when: Temporal answers its gRPC health check; each worker's pid shows
  up among the task queue's pollers (default worker identity `pid@host`); the API's /v1/health
  returns 200. Startup waits at most `--startup-timeout` seconds for all of them.
- Ctrl-C or SIGTERM, even during startup, stops everything and exits 0; a part that fails to
  start stops the rest and exits 1. A taken port exits 1 before anything starts.
- Once up, a worker or API process that dies is restarted after a growing delay
  (`cli/supervisor.py`: 1 s, 2 s, 4 s …); Temporal's death, or a part's sixth death within
  two minutes (a crash loop), stops everything and exits 1 with the end of that part's log.
- The children die with `assay up` however it ends (`cli/processes.py`), and their pids are
  recorded in the data dir: a start after a crash stops what is still running of the earlier
  stack before it checks its ports.
- One `assay up` per data dir at a time (a lock file), since two Temporal servers must never
  share one SQLite file. The file is removed when `assay up` ends, refused or stopped, while it still
  holds the lock; a start re-checks after locking that it locked the file now at that path.
- The dev key is printed on every start, not only the first: it lives in a file next to the data
  anyway and this is a development stack.
- Once everything is healthy and the banner is out, the example catalog is seeded in a background
  thread (`cli/catalog.py`); `--no-examples` turns that off.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cli import probes
from cli.catalog import CatalogSeeder
from cli.context import CliError, assay_command, display_url, ensure_schema, load_settings, note
from cli.stack import DEFAULT_DATA_DIR, LOCK_FILE, record_url, record_workflows_url
from cli.devkey import DEV_NAMESPACE, dev_key_path, ensure_dev_key
from cli.processes import Child, stop_in_order
from cli.supervisor import PidRecord, RestartPolicy, RestartTracker, identify, stop_leftovers
from settings import Settings, temporal_cli_path
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

POLL_INTERVAL = 0.5
TEMPORAL_DB_FILE = "temporal.db"
TEMPORAL_SQLITE_PRAGMAS = ("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")


class StartupFailed(Exception):
    pass


class StopRequested(Exception):
    pass


@dataclass(frozen=True)
class StackOptions:
    host: str
    api_port: int
    temporal_port: int
    ui_port: int
    workers: int
    api_workers: int
    startup_timeout: float
    stop_grace: float
    seed_examples: bool = True
    temporal_metrics_port: int | None = None  # None: Temporal picks a free port

    @property
    def client_host(self) -> str:
        """Where local clients connect: a wildcard bind address is reached through loopback."""
        return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)

    @property
    def temporal_address(self) -> str:
        return f"{self.client_host}:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.client_host}:{self.api_port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.client_host}:{self.ui_port}"


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    up = commands.add_parser("up", parents=[common], help="run the whole stack on this machine")
    up.add_argument("--host", default="127.0.0.1", help="address the API, Temporal and its UI bind to")
    up.add_argument("--api-port", type=int, default=8000, help="port of the REST API (default 8000)")
    up.add_argument("--temporal-port", type=int, default=7233,
                    help="port of Temporal's gRPC front end (default 7233)")
    up.add_argument("--ui-port", type=int, default=8233, help="Temporal Web UI port (default 8233)")
    up.add_argument("--temporal-metrics-port", type=int, default=None,
                    help="port of the Temporal server's Prometheus /metrics (default: a free port it picks)")
    up.add_argument("--workers", type=_count(0), default=2, help="worker processes (default 2)")
    up.add_argument("--api-workers", type=_count(1), default=1, help="API server processes (default 1)")
    up.add_argument("--startup-timeout", type=float, default=180.0,
                    help="seconds to wait for every part to become healthy (default 180)")
    up.add_argument("--stop-grace", type=float, default=30.0,
                    help="seconds each part gets to stop before it is killed (default 30; workers finish "
                         "running tasks)")
    up.add_argument("--no-examples", dest="seed_examples", action="store_false",
                    help="do not build the example models into the public catalog")
    up.set_defaults(handler=up_command)


def _count(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


def up_command(args: argparse.Namespace) -> int:
    settings = load_settings(args.data_dir)
    options = StackOptions(
        host=args.host, api_port=args.api_port, temporal_port=args.temporal_port, ui_port=args.ui_port,
        workers=args.workers, api_workers=args.api_workers, startup_timeout=args.startup_timeout,
        stop_grace=args.stop_grace, seed_examples=args.seed_examples,
        temporal_metrics_port=args.temporal_metrics_port,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock_data_dir(settings.data_dir)
    try:
        _stop_leftovers(settings.data_dir, options.stop_grace)
        _check_ports(options)
        return Stack(settings, options).run()
    finally:
        _release_data_dir(lock, settings.data_dir)


def _lock_data_dir(data_dir: Path):
    path = data_dir / LOCK_FILE
    while True:
        lock = open(path, "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            raise CliError(f"another `assay up` (pid {holder}) is already running on data dir {data_dir}") from None
        if _is_current_file(lock, path):
            break
        # The stack that held it ended and removed the file between our open and our lock.
        lock.close()
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def _is_current_file(lock, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(lock.fileno())
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _release_data_dir(lock, data_dir: Path) -> None:
    """Removes the lock file while still holding it, so no one else can be holding it (a start that
    opened it meanwhile finds it gone after locking and opens the new one)."""
    try:
        (data_dir / LOCK_FILE).unlink()
    except FileNotFoundError:
        pass
    lock.close()


def _stop_leftovers(data_dir: Path, grace: float) -> None:
    """Parts of an earlier `assay up` on this data dir that outlived it would hold its ports."""
    stopped = stop_leftovers(data_dir, grace)
    if stopped:
        listed = ", ".join(f"{record.name} (pid {record.pid})" for record in stopped)
        note(f"An earlier `assay up` on {data_dir} ended without stopping its parts; stopped {listed}.")


def _check_ports(options: StackOptions) -> None:
    wanted = [("API", options.api_port, "--api-port"), ("Temporal", options.temporal_port, "--temporal-port"),
              ("Temporal UI", options.ui_port, "--ui-port")]
    ports = [port for _, port, _ in wanted]
    if len(set(ports)) != len(ports):
        raise CliError(f"the API, Temporal and Temporal UI ports must differ (got {ports})", exit_code=2)
    for part, port, flag in wanted:
        if probes.port_in_use(options.host, port):
            raise CliError(
                f"cannot start: the {part} port {port} on {options.host} is already in use "
                f"(stop whatever holds it, or choose another with {flag})"
            )


class Stack:
    def __init__(self, settings: Settings, options: StackOptions,
                 restart_policy: RestartPolicy | None = None) -> None:
        self.settings = settings
        self.options = options
        self.restart_policy = restart_policy or RestartPolicy()
        self.logs = settings.data_dir / "logs"
        self.pid_record = PidRecord(settings.data_dir)
        self.stop_signal: int | None = None
        self.temporal: Child | None = None
        self.workers: list[Child] = []
        self.api: Child | None = None
        self.catalog: CatalogSeeder | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            try:
                secret = self._start()
            except StopRequested:
                note("Stop requested during startup; stopping.")
                return 0
            except StartupFailed as failure:
                note(f"assay up failed: {failure}")
                return 1
            self._print_banner(secret)
            if self.options.seed_examples:
                self.catalog = CatalogSeeder(self.settings, self.options.api_url, self.client_command)
                self.catalog.start()
            return self._supervise()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum, _frame) -> None:
        self.stop_signal = signum

    def _start(self) -> str:
        self.temporal = self._spawn("temporal", self._temporal_command())
        self.temporal.stop_grace = self.options.stop_grace
        deadline = time.monotonic() + self.options.startup_timeout
        note(f"Starting Temporal on {self.options.temporal_address} …")
        self._wait_until(lambda: probes.temporal_healthy(self.options.temporal_address,
                                                         self.settings.temporal_namespace),
                         "Temporal to answer its health check", deadline)

        note(f"Migrating the database at {display_url(self.settings.resolved_database_url)} …")
        try:
            ensure_schema(self.settings)
            secret, created = ensure_dev_key(self.settings)
        except Exception as exc:  # a broken database URL or migration: report it, do not trace
            raise StartupFailed(f"database setup failed: {exc}") from exc
        if created:
            note(f"Created a development key for namespace '{DEV_NAMESPACE}'.")
        self._check_stop()

        note(f"Starting {self.options.workers} worker(s) and the API on {self.options.api_url} …")
        self.workers = [self._spawn(f"worker-{n}", [sys.executable, "-m", "worker"])
                        for n in range(1, self.options.workers + 1)]
        self.api = self._spawn("api", self._api_command())
        self._wait_until(self._workers_polling, "every worker to poll the task queue", deadline)
        self._wait_until(lambda: probes.http_ok(f"{self.options.api_url}/v1/health"),
                         "the API health check to pass", deadline)
        record_url(self.settings.data_dir, self.options.api_url)  # client commands find the API here
        # `assay build` links the runs it starts to their Temporal UI page.
        record_workflows_url(self.settings.data_dir,
                             f"{self.options.ui_url}/namespaces/{self.settings.temporal_namespace}/workflows")
        return secret

    def _supervise(self) -> int:
        trackers = {child.name: self.restart_policy.tracker() for child in self._restartable()}
        due: dict[str, float] = {}  # part name → when to restart it
        while self.stop_signal is None:
            if self.temporal.has_exited():
                note(f"assay up: {self._death_report(self.temporal)}\nStopping the other parts.")
                return 1
            now = time.monotonic()
            for child in self._restartable():
                if child.name in due:
                    if now >= due[child.name]:
                        del due[child.name]
                        self._restart(child, trackers[child.name], now)
                elif child.has_exited():
                    delay = trackers[child.name].delay_after_death(now)
                    if delay is None:
                        note(f"assay up: {child.name} is crash-looping "
                             f"({self.restart_policy.burst} restarts within {self.restart_policy.window:.0f}s). "
                             f"{self._death_report(child)}\nStopping the other parts.")
                        return 1
                    note(f"assay up: {child.name} (pid {child.pid}) {child.exit_description()}; "
                         f"restarting it in {delay:g}s (log: {child.log_path}).")
                    child.finish_stop()  # reaps it, kills what is left of its group, closes its log
                    due[child.name] = now + delay
            time.sleep(POLL_INTERVAL)
        note(f"Received {signal.Signals(self.stop_signal).name}; stopping the API, the workers, then Temporal.")
        return 0

    def _restartable(self) -> list[Child]:
        return [*self.workers, *([self.api] if self.api else [])]

    def _restart(self, child: Child, tracker: RestartTracker, now: float) -> None:
        tracker.restarted(now)
        child.start()
        self._record_pids()
        note(f"assay up: restarted {child.name} (pid {child.pid}; restart {tracker.recent} "
             f"within {self.restart_policy.window:.0f}s).")

    def _stop_all(self) -> None:
        if self.catalog is not None:
            self.catalog.stop()
        groups = [[self.api] if self.api else [], self.workers, [self.temporal] if self.temporal else []]
        stop_in_order([group for group in groups if group])
        self.pid_record.clear()

    def _record_pids(self) -> None:
        children = [self.temporal, *self.workers, self.api]
        records = [identify(child.name, child.pid) for child in children if child is not None and child.pid]
        self.pid_record.write([record for record in records if record is not None])

    # --- children --------------------------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            ASSAY_DATA_DIR=str(self.settings.data_dir),
            ASSAY_DATABASE_URL=self.settings.resolved_database_url,
            ASSAY_TEMPORAL_ADDRESS=self.options.temporal_address,
            ASSAY_TEMPORAL_NAMESPACE=self.settings.temporal_namespace,
            ASSAY_TASK_QUEUE=self.settings.task_queue,
            PYTHONUNBUFFERED="1",
        )
        return env

    def _spawn(self, name: str, command: list[str]) -> Child:
        child = Child(name=name, command=command, log_path=self.logs / f"{name}.log", env=self._child_env(),
                      stop_grace=self.options.stop_grace)
        child.start()
        self._record_pids()
        return child

    def _temporal_command(self) -> list[str]:
        command = [
            temporal_cli_path(), "server", "start-dev",
            "--db-filename", str(self.settings.data_dir / TEMPORAL_DB_FILE),
            *TEMPORAL_SQLITE_PRAGMAS,
            "--ip", self.options.host, "--port", str(self.options.temporal_port),
            "--ui-port", str(self.options.ui_port), "--ui-disable-news-fetch",
            "--log-level", "warn",
        ]
        if self.options.temporal_metrics_port is not None:
            command += ["--metrics-port", str(self.options.temporal_metrics_port)]
        for key in SEARCH_ATTRIBUTES:
            command += ["--search-attribute", f"{key.name}={_attribute_type(key)}"]
        if self.settings.temporal_namespace != "default":
            command += ["--namespace", self.settings.temporal_namespace]
        return command

    def _api_command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "cli.api_process:create_app", "--factory",
            "--host", self.options.host, "--port", str(self.options.api_port),
            "--workers", str(self.options.api_workers),
            "--timeout-graceful-shutdown", str(max(1, int(self.options.stop_grace) - 2)),
            # The API writes its own JSON access line per request (assay.access): uvicorn's would be a
            # second one, and a second write per request on the scoring path.
            "--no-access-log",
        ]

    # --- waiting ---------------------------------------------------------------------------

    def _wait_until(self, ready, what: str, deadline: float) -> None:
        while True:
            self._check_stop()
            dead = self._first_dead_child()
            if dead is not None:
                raise StartupFailed(self._death_report(dead))
            if ready():
                return
            if time.monotonic() > deadline:
                raise StartupFailed(
                    f"gave up after {self.options.startup_timeout:.0f}s waiting for {what}; "
                    f"logs are in {self.logs}"
                )
            time.sleep(POLL_INTERVAL)

    def _workers_polling(self) -> bool:
        if not self.workers:
            return True
        seen = probes.polling_pids(self.options.temporal_address, self.settings.temporal_namespace,
                                   self.settings.task_queue)
        return all(worker.pid in seen for worker in self.workers)

    def _check_stop(self) -> None:
        if self.stop_signal is not None:
            raise StopRequested()

    def _first_dead_child(self) -> Child | None:
        for child in [self.temporal, *self.workers, self.api]:
            if child is not None and child.has_exited():
                return child
        return None

    @staticmethod
    def _death_report(child: Child) -> str:
        tail = child.log_tail() or "(no output)"
        indented = "\n".join(f"    {line}" for line in tail.splitlines())
        return (f"{child.name} (pid {child.pid}) {child.exit_description()}. "
                f"Last lines of {child.log_path}:\n{indented}")

    def client_command(self, *words: str) -> str:
        """A client command line that reaches this stack from the current directory, as printed in hints."""
        line = [assay_command(), *words, "--url", self.options.api_url]
        if self.settings.data_dir != (Path.cwd() / DEFAULT_DATA_DIR).resolve():
            line += ["--data-dir", str(self.settings.data_dir)]  # where the dev key is
        return " ".join(shlex.quote(word) for word in line)

    def _print_banner(self, secret: str) -> None:
        url = self.options.api_url
        ui = self.options.ui_url
        lines = [
            "Assay is up.",
            f"  API          {url}/v1",
            f"  API docs     {url}/v1/docs",
            f"  Temporal UI  {ui}",
            f"  Dev key      {secret}",
            f"               (authoring, namespace '{DEV_NAMESPACE}'; saved in {dev_key_path(self.settings)})",
            f"  Logs         {self.logs}",
            f"  Try: curl -H \"Authorization: Bearer $(cat {dev_key_path(self.settings)})\" "
            f"'{url}/v1/models?namespace={DEV_NAMESPACE}'",
            f"       {self.client_command('models', '--namespace', DEV_NAMESPACE)}",
            "Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), flush=True)


def _attribute_type(key) -> str:
    """'Keyword' from INDEXED_VALUE_TYPE_KEYWORD, the spelling `temporal server start-dev` wants."""
    raw = key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
    return {"KEYWORD_LIST": "KeywordList", "DATETIME": "Datetime"}.get(raw, raw.capitalize())
