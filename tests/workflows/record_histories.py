"""Records the event history of every workflow type and path, for the replay suite.

    .venv/bin/python -m tests.workflows.record_histories --generation gen2-<first patch id>

Starts its own Temporal dev server (the installed ``temporal`` binary), a fresh SQLite store and
in-process workers with the real activities and the real default embedder, drives each path
through the API the way a client would, and writes one ``<WorkflowType>-<path>.json`` per run
(``WorkflowHistory.to_json()``) plus a README naming the code commit into
``tests/workflows/histories/<generation>/``. A generation folder is never overwritten (unless
``--replace``): older generations stay, and are replayed, until their patch is retired
(docs/decisions.md, "Deploying workflow changes").

Histories are scrubbed of what is machine-specific: failure stack traces (they carry file paths)
and worker identities are blanked; replay uses neither.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import temporalio
from sqlalchemy import delete, select
from temporalio import activity
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import ActivityDeps, all_activities
from activities.training import TrainingActivities
from activities.webhooks import EventMessage
from api.run_control import signal_retrain
from settings import Settings, temporal_cli_path
from store import keys
from store import webhooks as webhook_store
from store.db import make_async_engine, make_sessionmaker
from store.migrate import upgrade
from store.tables import Model, Sample, Trait
from tests.api.webhook_receiver import WebhookReceiver
from tests.workflows.score_jobs_support import start_job_directly
from workflows.evaluation import EvaluationWorkflow
from workflows.score_job import ScoreJobWorkflow
from tests.workflows.support import (
    HISTORIES,
    REPO_ROOT,
    app_client,
    make_model,
    wait_for_operation,
    wait_for_state,
    workflow_type,
)
from worker import build_worker
from workflows import search_attributes
from workflows.common import HEARTBEAT_TIMEOUT
from workflows.ids import retrain_workflow_id
from workflows.registry import ALL_WORKFLOWS
from workflows.retrain import RetrainWorkflow
from workflows.train import TrainWorkflow
from workflows.webhooks import WebhookDeliveryWorkflow, delivery_workflow_id, start_deliveries
from contracts.payloads import FitInput, FitResult, PublishResult, RunRef, SamplesAdded
from contracts.states import WebhookEvent

IDENTITY = "history-recorder"  # instead of the SDK default pid@host, which would land in every history
SCORE_JOB_TEXTS = ["Restart the router and sign in again.", "Thanks so much for waiting!",
                   "It is what it is, kind of."]
FEEDBACK = [("warmth", "We really appreciate you taking the time to write to us.", 1.0),
            ("warmth", "Whatever. Next.", 0.0),
            ("clarity", "Go to Account, choose Export, and pick CSV.", 1.0)]
CANCEL_PER_POLE = 60  # 240 fresh texts: the fit runs long enough to be cancelled while it runs


@dataclass
class Recorded:
    name: str  # the path, e.g. "train" or "worker-lost-retry"
    workflow_id: str
    run_id: str | None = None  # None: the latest run of the id


class LoseFirstFitAttempt:
    """Stand-in for fit_model: attempt 1 never heartbeats and outlives the heartbeat timeout (as a
    worker that stopped mid-fit would), so Temporal times it out and retries; attempt 2 is the real fit."""

    def __init__(self, deps: ActivityDeps) -> None:
        self.training = TrainingActivities(deps)

    @activity.defn(name="fit_model")
    async def fit_model(self, inp: FitInput) -> FitResult:
        if activity.info().attempt == 1:
            await asyncio.sleep(HEARTBEAT_TIMEOUT.total_seconds() + 5)
            raise ApplicationError("stand-in attempt abandoned")  # the server already timed it out
        return await self.training.fit_model(inp)


class PublishThenAwaitCancel:
    """Stand-in for publish_version: the real publish commits, then the step stays open until the
    run has a cancel request, so the cancel surely arrives after the run published (a late cancel)."""

    def __init__(self, deps: ActivityDeps, client: Client) -> None:
        self.training = TrainingActivities(deps)
        self.client = client

    @activity.defn(name="publish_version")
    async def publish_version(self, ref: RunRef) -> PublishResult:
        published = await asyncio.to_thread(self.training.publish_version, ref)
        run = self.client.get_workflow_handle(activity.info().workflow_id)
        deadline = asyncio.get_running_loop().time() + 120
        while not any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
                      for e in (await run.fetch_history()).events):
            if asyncio.get_running_loop().time() > deadline:
                raise ApplicationError("no cancel request arrived", non_retryable=True)
            await asyncio.sleep(0.1)
        return published


def late_cancel_worker(client: Client, task_queue: str, deps: ActivityDeps) -> Worker:
    """Every workflow and activity on `task_queue`, with PublishThenAwaitCancel as the publish step."""
    stand_in = PublishThenAwaitCancel(deps, client)
    activities = [fn for fn in all_activities(deps) if fn.__name__ != "publish_version"] + [stand_in.publish_version]
    return Worker(client, task_queue=task_queue, workflows=ALL_WORKFLOWS, activities=activities,
                  activity_executor=ThreadPoolExecutor(4, "late-cancel-activity"))


class Recording:
    """One recording: a dev server, a store, a key, and the runs driven so far."""

    def __init__(self, client: Client, settings: Settings, deps: ActivityDeps, headers: dict,
                 sessionmaker, stack: AsyncExitStack) -> None:
        self.client, self.settings, self.deps = client, settings, deps
        self.headers, self.sessionmaker, self.stack = headers, sessionmaker, stack
        self.runs: list[Recorded] = []

    def lane(self, name: str) -> Settings:
        """Settings bound to a task queue of its own, so runs there wait for the worker we choose."""
        return self.settings.model_copy(update={"task_queue": f"{name}-{uuid.uuid4().hex[:8]}"})

    async def app(self, settings: Settings):
        """(app, HTTP client) bound to `settings`' task queue, open until the recording ends."""
        return await self.stack.enter_async_context(app_client(settings, self.client))

    async def worker(self, worker: Worker) -> None:
        await self.stack.enter_async_context(worker)

    async def start(self, http, handle: str, path: str, body: dict) -> str:
        response = await http.post(f"/v1/models/{handle}/{path}", json=body, headers=self.headers)
        if response.status_code != 202:
            raise RuntimeError(f"{path} of {handle} was not started: {response.text}")
        return response.json()["run_id"]

    async def settle(self, http, handle: str) -> dict:
        return await wait_for_state(http, self.headers, handle, {"ready", "draft", "failed"}, limit=300)


async def record_all(session: Recording) -> None:
    application, http = await session.app(session.settings)
    headers = session.headers
    await session.worker(build_worker(session.client, session.settings, session.deps))

    handle = "rec.train"
    await make_model(http, headers, handle, per_pole=4)
    session.runs.append(Recorded("train", await session.start(http, handle, "train", {"effort": "low"})))
    expect((await session.settle(http, handle))["state"] == "ready", "train")
    session.runs.append(Recorded("retune", await session.start(
        http, handle, "train", {"effort": "low", "reoptimize_params": True})))
    expect((await session.settle(http, handle))["state"] == "ready", "retune")
    await record_score_jobs(session, http, handle)
    await record_evaluation(session, http, handle)
    await record_evaluation_cancelled(session, http, handle)
    await record_retrain_loop(session, application.state.temporal, http, handle)

    handle = "rec.discover"
    await make_model(http, headers, handle, per_pole=8)
    session.runs.append(Recorded("discover", await session.start(http, handle, "traits/discover", {"effort": "low"})))
    expect((await session.settle(http, handle))["last_operation"]["status"] == "succeeded", "discover")

    handle = "rec.synthesize"
    await make_model(http, headers, handle, per_pole=0)
    session.runs.append(Recorded("synthesize", await session.start(
        http, handle, "samples/synthesize", {"synth_type": "from_traits", "effort": "low"})))
    expect((await session.settle(http, handle))["last_operation"]["status"] == "succeeded", "synthesize")

    await record_cancellation(session, http)
    await record_insufficient_samples(session)
    await record_worker_lost(session)
    await record_late_cancel(session)
    await record_webhook_delivery(session)


async def record_webhook_delivery(session: Recording) -> None:
    """One event to a receiver that answers 500, then 200: an attempt, a wait, a second attempt."""
    receiver = session.stack.enter_context(WebhookReceiver())
    receiver.scripts["/hook"] = [500, 200]
    lane = session.lane("rec-webhook").model_copy(update={"fetch_allow": receiver.allow_entry})
    deps = ActivityDeps.from_settings(lane)
    session.stack.callback(deps.close)
    await session.worker(build_worker(session.client, lane, deps))
    with deps.transaction() as db:
        webhook_id = webhook_store.create_webhook(db, "rec", receiver.url("/hook"), ["run.succeeded"]).id
    event = EventMessage("evt_recorded", WebhookEvent.RUN_SUCCEEDED, "rec", datetime(2026, 1, 1, tzinfo=timezone.utc),
                         {"run_id": "run_recorded"})
    await start_deliveries(session.client, lane.task_queue, [0.2], 60.0, timedelta(seconds=5), [webhook_id], event)
    workflow_id = delivery_workflow_id(webhook_id, event.event_id)
    result = await session.client.get_workflow_handle_for(WebhookDeliveryWorkflow.run, workflow_id).result()
    expect((result.status, result.attempts) == ("delivered", 2), f"webhook delivery: {result}")
    session.runs.append(Recorded("delivered-after-a-retry", workflow_id))


async def record_evaluation(session: Recording, http, handle: str) -> None:
    """An evaluation of v1 against v2: a score-job child per version, then the report."""
    items = [{"content": text, "warmth": quality} for text, quality in zip(SCORE_JOB_TEXTS, (0.2, 1.0, 0.0))]
    response = await http.post(f"/v1/models/{handle}/evaluations", headers=session.headers,
                               json={"items": items, "versions": ["v1", "v2"]})
    expect(response.status_code == 202, f"evaluation: {response.text}")
    evaluation_id = response.json()["evaluation_id"]
    finished = await session.client.get_workflow_handle_for(EvaluationWorkflow.run, evaluation_id).result()
    expect(finished.state == "succeeded", "evaluation")
    session.runs.append(Recorded("two-versions", evaluation_id))


async def record_evaluation_cancelled(session: Recording, http, handle: str) -> None:
    """An evaluation whose first score job is cancelled mid-way: the parent cancels the other job,
    waits for both to close, then records itself cancelled."""
    items = [{"content": f"{SCORE_JOB_TEXTS[0]} Case {i}.", "warmth": 1.0} for i in range(1500)]
    response = await http.post(f"/v1/models/{handle}/evaluations", headers=session.headers,
                               json={"items": items, "versions": ["v1", "v2"]})
    expect(response.status_code == 202, f"evaluation: {response.text}")
    accepted = response.json()
    evaluation_id, first_job = accepted["evaluation_id"], accepted["jobs"][0]["job_id"]
    while (await http.get(f"/v1/evaluations/{evaluation_id}", headers=session.headers)).json()["progress"]["done"] == 0:
        await asyncio.sleep(0.1)
    cancelled = await http.post(f"/v1/score-jobs/{first_job}/cancel", headers=session.headers)
    expect(cancelled.status_code == 200, f"score job cancel: {cancelled.text}")
    await _closed(session.client.get_workflow_handle(evaluation_id))
    state = (await http.get(f"/v1/evaluations/{evaluation_id}", headers=session.headers)).json()["state"]
    expect(state == "cancelled", f"evaluation after its job was cancelled: {state}")
    session.runs.append(Recorded("one-job-cancelled", evaluation_id))


async def _model_with_two_versions(session: Recording):
    """(HTTP client, handle) of a model trained, then retuned: v1 and v2 to evaluate."""
    _, http = await session.app(session.settings)
    await session.worker(build_worker(session.client, session.settings, session.deps))
    handle = "rec.evaluate"
    await make_model(http, session.headers, handle, per_pole=4)
    for body in ({"effort": "low"}, {"effort": "low", "reoptimize_params": True}):
        await session.start(http, handle, "train", body)
        expect((await session.settle(http, handle))["state"] == "ready", "train before the evaluation")
    return http, handle


async def record_evaluation_alone(session: Recording) -> None:
    """``--only evaluations``: a model with two versions first (train, then retune), then the evaluation."""
    await record_evaluation(session, *await _model_with_two_versions(session))


async def record_evaluation_cancelled_alone(session: Recording) -> None:
    """``--only evaluation-cancel``: the same model, then an evaluation cancelled through one of its jobs."""
    await record_evaluation_cancelled(session, *await _model_with_two_versions(session))


# Paths that can be recorded on their own into an existing generation (``--only``).
RECORD_ONLY = {"webhooks": record_webhook_delivery, "evaluations": record_evaluation_alone,
               "evaluation-cancel": record_evaluation_cancelled_alone}


async def record_score_jobs(session: Recording, http, handle: str) -> None:
    """A job that succeeds, one that continues as new (a small history limit), one cancelled mid-way."""
    job = await http.post(f"/v1/models/{handle}/score-jobs", headers=session.headers,
                          json={"items": [{"content": text} for text in SCORE_JOB_TEXTS]})
    expect(job.status_code == 202, f"score job: {job.text}")
    job_id = job.json()["job_id"]
    finished = await session.client.get_workflow_handle_for(ScoreJobWorkflow.run, job_id).result()
    expect(finished.state == "succeeded", "score job")
    session.runs.append(Recorded("succeeded", job_id))

    contents = SCORE_JOB_TEXTS * 8
    job_id, run = await start_job_directly(session.sessionmaker, session.client, session.settings.task_queue, handle,
                                           contents, "rec", chunk_size=2, chunks_in_flight=2, history_limit=30)
    expect((await run.result()).state == "succeeded", "score job continued as new")
    session.runs.append(Recorded("continued-as-new", job_id, run.first_execution_run_id))
    session.runs.append(Recorded("after-continue-as-new", job_id))

    items = [{"content": f"{SCORE_JOB_TEXTS[0]} Case {i}."} for i in range(3000)]
    job_id = (await http.post(f"/v1/models/{handle}/score-jobs", json={"items": items},
                              headers=session.headers)).json()["job_id"]
    while (await http.get(f"/v1/score-jobs/{job_id}", headers=session.headers)).json()["counts"]["scored"] == 0:
        await asyncio.sleep(0.1)
    cancelled = await http.post(f"/v1/score-jobs/{job_id}/cancel", headers=session.headers)
    expect(cancelled.status_code == 200, f"score job cancel: {cancelled.text}")
    await _closed(session.client.get_workflow_handle(job_id))
    session.runs.append(Recorded("cancelled", job_id))


async def record_retrain_loop(session: Recording, temporal, http, handle: str) -> None:
    """Feedback → a retrain child run → continue-as-new; the new run then ends idle under ZDR."""
    loop_settings = session.settings.model_copy(update={"retrain_min_samples": len(FEEDBACK),
                                                        "retrain_delay": 3600.0})
    async with session.sessionmaker() as db:
        model = await db.scalar(select(Model).where(Model.handle == handle))
        traits = {t.key: t.id for t in await db.scalars(select(Trait).where(Trait.model_id == model.id))}
        db.add_all([Sample(model_id=model.id, trait_id=traits[key], text=text, quality=quality,
                           provenance="score_feedback") for key, text, quality in FEEDBACK])
        await db.commit()
    await signal_retrain(temporal, loop_settings, model, new_samples=len(FEEDBACK))
    body = await wait_for_operation(http, session.headers, handle, lambda b: (b.get("last_operation") or {}).get(
        "kind") == "retrain_buffered" and b["last_operation"]["status"] == "succeeded", limit=300)
    session.runs.append(Recorded("retrain-child", body["last_operation"]["run_id"]))

    loop = session.client.get_workflow_handle_for(RetrainWorkflow.run, retrain_workflow_id(handle))
    first_run = await _continued_from(loop)
    session.runs.append(Recorded("loop-continued-as-new", loop.id, first_run))
    patched = await http.patch(f"/v1/models/{handle}", json={"zero_data_retention": True}, headers=session.headers)
    expect(patched.status_code == 200, f"zdr: {patched.text}")
    await loop.signal(RetrainWorkflow.samples_added, SamplesAdded(1))  # wakes it: ineligible now, it ends
    expect((await loop.result()).status == "idle", "retrain loop after continue-as-new")
    session.runs.append(Recorded("loop-after-continue-idle", loop.id))


async def _continued_from(loop, limit: float = 60.0) -> str:
    """The run id the latest run of the loop continued from, once it has continued as new."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        history = await loop.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        if started.continued_execution_run_id:
            return started.continued_execution_run_id
        expect(asyncio.get_running_loop().time() < deadline, "the retrain loop never continued as new")
        await asyncio.sleep(0.2)


async def record_cancellation(session: Recording, http) -> None:
    handle = "rec.cancel"
    await make_model(http, session.headers, handle, per_pole=CANCEL_PER_POLE, salt=uuid.uuid4().hex)
    run_id = await session.start(http, handle, "train", {"effort": "low"})
    await wait_for_operation(http, session.headers, handle, lambda b: (b.get("last_operation") or {}).get(
        "progress", {}).get("phase") in ("embed", "search"), limit=120)
    run = session.client.get_workflow_handle_for(TrainWorkflow.run, run_id)
    await run.cancel()
    await _closed(run)
    history = await run.fetch_history()
    # The path must be "cancelled while the fit runs"; a fit that finished first recorded another one.
    expect(any(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED for e in history.events)
           and history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
           "cancellation did not reach the running fit")
    session.runs.append(Recorded("cancelled-mid-fit", run_id))


async def record_insufficient_samples(session: Recording) -> None:
    """The API's pre-check passes; the samples go before a worker polls, so the fit itself refuses."""
    lane = session.lane("rec-failure")
    _, http = await session.app(lane)
    handle = "rec.failure"
    await make_model(http, session.headers, handle, per_pole=2)
    run_id = await session.start(http, handle, "train", {"effort": "low"})
    async with session.sessionmaker() as db:
        model_id = await db.scalar(select(Model.id).where(Model.handle == handle))
        await db.execute(delete(Sample).where(Sample.model_id == model_id, Sample.quality < 0.5))
        await db.commit()
    await session.worker(build_worker(session.client, lane, session.deps))
    body = await session.settle(http, handle)
    expect(body["last_operation"]["error"]["code"] == "insufficient_samples", f"failure: {body['last_operation']}")
    session.runs.append(Recorded("failed-insufficient-samples", run_id))


async def record_worker_lost(session: Recording) -> None:
    lane = session.lane("rec-worker-lost")
    _, http = await session.app(lane)
    stand_in = LoseFirstFitAttempt(session.deps)
    activities = [fn for fn in all_activities(session.deps) if fn.__name__ != "fit_model"] + [stand_in.fit_model]
    await session.worker(Worker(session.client, task_queue=lane.task_queue, workflows=ALL_WORKFLOWS,
                                activities=activities, activity_executor=ThreadPoolExecutor(4, "rec-activity")))
    handle = "rec.lost"
    await make_model(http, session.headers, handle, per_pole=4)
    run_id = await session.start(http, handle, "train", {"effort": "low"})
    expect((await session.settle(http, handle))["state"] == "ready", "worker-lost retry")
    history = await session.client.get_workflow_handle(run_id).fetch_history()
    retried = [e.activity_task_started_event_attributes for e in history.events
               if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
               and e.activity_task_started_event_attributes.attempt > 1]
    expect(len(retried) == 1 and retried[0].last_failure.timeout_failure_info.timeout_type
           == TimeoutType.TIMEOUT_TYPE_HEARTBEAT, "the fit was not retried after a heartbeat timeout")
    session.runs.append(Recorded("worker-lost-retry", run_id))


async def record_late_cancel(session: Recording) -> None:
    """A cancel that arrives after the run published: the run completes as succeeded."""
    lane = session.lane("rec-late-cancel")
    _, http = await session.app(lane)
    await session.worker(late_cancel_worker(session.client, lane.task_queue, session.deps))
    handle = "rec.late"
    await make_model(http, session.headers, handle, per_pole=4)
    run_id = await session.start(http, handle, "train", {"effort": "low"})
    await wait_for_operation(http, session.headers, handle,
                             lambda b: (b.get("last_operation") or {}).get("status") == "succeeded", limit=120)
    run = session.client.get_workflow_handle_for(TrainWorkflow.run, run_id)
    await run.cancel()
    expect((await run.result()).status == "succeeded", "a late cancel undid a published run")
    session.runs.append(Recorded("late-cancel-after-publish", run_id))


async def _closed(run) -> None:
    try:
        await run.result()
    except WorkflowFailureError:
        pass  # failed and cancelled runs are paths too


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"recording went off its path: {what}")


def scrub(history: WorkflowHistory) -> str:
    """The history as JSON without stack traces (file paths) or worker identities (host names)."""
    def walk(node):
        if isinstance(node, dict):
            return {k: "" if k in ("stackTrace", "identity") else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    text = json.dumps(walk(json.loads(history.to_json())), indent=1, sort_keys=True) + "\n"
    for local in {str(REPO_ROOT), sys.prefix, str(Path.home()), socket.gethostname()}:
        if len(local) > 3 and local in text:
            raise RuntimeError(f"{history.workflow_id}: the history still holds something machine-specific")
    return text


def code_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--", "workflows", "activities")
    return commit + (" (with uncommitted changes to workflows/ or activities/)" if dirty else "")


async def write(session: Recording, out: Path, generation: str, only: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for run in session.runs:
        history = await session.client.get_workflow_handle(run.workflow_id, run_id=run.run_id).fetch_history()
        name = f"{workflow_type(history)}-{run.name}.json"
        (out / name).write_text(scrub(history))
        rows.append(f"| `{name}` | {len(history.events)} |")
    if only is not None:  # added to a generation recorded earlier: its README gains rows and a note
        readme = out / "README.md"
        readme.write_text(readme.read_text() + "\n".join(rows) + f"\n\n`--only {only}` added the rows above at code "
                          f"commit `{code_commit()}`, {datetime.now(timezone.utc):%Y-%m-%d}.\n")
        return
    (out / "README.md").write_text(
        f"# Histories: {generation}\n\n"
        f"Recorded by `python -m tests.workflows.record_histories --generation {generation}` at code commit\n"
        f"`{code_commit()}`, temporalio {temporalio.__version__}, "
        f"{datetime.now(timezone.utc):%Y-%m-%d}.\n\n| file | events |\n|---|---|\n" + "\n".join(rows) + "\n")


async def record(out: Path, generation: str, only: str | None = None) -> None:
    logging.getLogger("assay.access").setLevel(logging.WARNING)  # hundreds of polling GETs say nothing
    with tempfile.TemporaryDirectory(prefix="assay-histories-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'assay.db'}"
        upgrade(database_url)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_cli_path(), search_attributes=search_attributes.ALL,
            dev_server_log_level="error", identity=IDENTITY)
        engine = make_async_engine(database_url)
        try:
            settings = Settings(environment="test", data_dir=Path(tmp) / "data", database_url=database_url,
                                temporal_address=env.client.service_client.config.target_host,
                                task_queue=f"rec-{uuid.uuid4().hex[:8]}", synth_base_url=None, synth_model=None)
            sessionmaker = make_sessionmaker(engine)
            async with sessionmaker() as db:
                issued = await keys.create_key(db, ["rec"], "authoring")
                await db.commit()
            deps = ActivityDeps.from_settings(settings)
            try:
                async with AsyncExitStack() as stack:
                    session = Recording(env.client, settings, deps, {"Authorization": f"Bearer {issued.secret}"},
                                      sessionmaker, stack)
                    await (RECORD_ONLY[only](session) if only else record_all(session))
                    await write(session, out, generation, only)
            finally:
                deps.close()
        finally:
            await engine.dispose()
            await env.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generation", required=True,
                        help="folder under tests/workflows/histories/, e.g. gen2-<patch id> for code after that patch")
    parser.add_argument("--replace", action="store_true", help="overwrite an existing generation folder")
    parser.add_argument("--only", choices=sorted(RECORD_ONLY),
                        help="record only these new paths, adding them to an existing generation")
    args = parser.parse_args(argv)
    out = HISTORIES / args.generation
    if args.only and not out.exists():
        parser.error(f"--only adds to an existing generation; {out.relative_to(REPO_ROOT)} does not exist")
    if out.exists() and not args.replace and not args.only:
        parser.error(f"{out.relative_to(REPO_ROOT)} exists; older generations are kept (use --replace to redo it)")
    asyncio.run(record(out, args.generation, args.only))
    print(f"wrote {len(list(out.glob('*.json')))} histories to {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
