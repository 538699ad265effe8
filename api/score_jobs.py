"""Score jobs in the API (SPEC §9.2): reading an upload, starting, cancelling and showing a job.

Decisions (SPEC is silent):
- An upload is validated completely before anything is stored. NDJSON is read as a stream and its
  validated lines are spooled to a temporary file (in memory up to ``SPOOL_IN_MEMORY`` bytes, then
  on disk), then stored from there in one transaction: the API holds one copy at most, whatever
  the size. A JSON body is parsed whole, so large uploads should use NDJSON.
- Item rules are the single score's: ``content`` must be a non-blank string (no NUL, valid
  Unicode); unknown fields are ignored (data files carry labels and metadata); ``id`` is a string
  (or an integer, taken as its decimal string) of up to 256 characters, unique in the job, and
  defaults to the item's index. Blank NDJSON lines are skipped; line numbers count every line.
- A lone-URL item is not fetched by a job: it fails alone with ``fetch_failed``
  (``details.reason = "not_fetched_in_jobs"``). Fetching arbitrary URLs from the workers would need
  the SSRF guard and the extractor processes there; extract the page first (``POST /v1/extract``).
- Progress: ``done`` comes from the workflow's ``progress`` query while the job is open (the
  stored counts when Temporal cannot answer in time); ``items_per_s`` is done / seconds since the
  job started running, ``eta_s`` the items left at that rate.
- Cancelling asks Temporal to cancel the run, then records ``cancelled`` at once, so a chunk that
  finishes a moment later writes nothing. The results scored before that stay readable (as for a
  failed job); items never scored carry the error ``not_scored``. A succeeded or failed job → 409
  ``job_finished``; a cancelled one answers 200 again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone

from temporalio.service import RPCError, RPCStatusCode
from ulid import ULID

from api.errors import ApiError, validation_error
from api.fetch import is_single_url
from api.run_control import run_summary, search_attributes
from api.temporal import TemporalGateway, unavailable
from api.views import iso
from contracts.payloads import ScoreJobInput
from contracts.states import OPEN_STATUSES, OperationKind, RunStatus
from settings import Settings
from store import score_jobs as job_store
from store.tables import ScoreJob
from workflows.score_job import ScoreJobWorkflow

log = logging.getLogger("assay.api.score_jobs")

NDJSON = "application/x-ndjson"
SPOOL_IN_MEMORY = 8 * 1024 * 1024
MAX_ID_CHARS = 256
URL_NOT_FETCHED = {"code": "fetch_failed", "details": {"reason": "not_fetched_in_jobs"},
                   "message": "Score jobs do not fetch URLs; extract the page first (POST /v1/extract) and send "
                              "its text."}
NOT_SCORED = {"code": "not_scored", "message": "The job ended before this item was scored.", "details": {}}


def _storable(text: str) -> bool:
    """Text the database can hold and UTF-8 can carry: no NUL, no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def new_job_id() -> str:
    return f"job_{ULID()}"


def retention(settings: Settings) -> timedelta:
    return timedelta(days=settings.job_retention_days)


class Upload:
    """A validated upload: items spooled as compact JSON lines, in input order."""

    def __init__(self) -> None:
        self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, mode="w+b")
        self.count = 0
        self.traits: list[str] | None = None
        self._ids: set[str] = set()

    def add(self, raw: object, where: dict, max_items: int) -> None:
        def refuse(reason: str, message: str) -> ApiError:
            return validation_error(message, {**where, "reason": reason})

        if not isinstance(raw, dict):
            raise refuse("not_an_object", "Each item must be a JSON object with `content`.")
        content = raw.get("content")
        if not isinstance(content, str) or not content.strip():
            raise refuse("blank_content", "Each item needs a non-blank `content` string.")
        if not _storable(content):
            raise refuse("unstorable_text", "Content must be valid Unicode without NUL characters.")
        item_id = raw.get("id")
        if item_id is None:
            item_id = str(self.count)
        elif isinstance(item_id, int) and not isinstance(item_id, bool):
            item_id = str(item_id)
        if not isinstance(item_id, str) or not 0 < len(item_id) <= MAX_ID_CHARS or not _storable(item_id):
            raise refuse("invalid_id", f"`id` must be a string of 1–{MAX_ID_CHARS} characters.")
        if item_id in self._ids:
            raise refuse("duplicate_id", "Item ids must be unique within a job.")
        if self.count >= max_items:
            raise refuse("too_many_items", f"A job holds at most {max_items} items.")
        self._ids.add(item_id)
        self.spool.write(json.dumps([item_id, content], ensure_ascii=False).encode("utf-8") + b"\n")
        self.count += 1

    def items(self) -> Iterator[job_store.NewItem]:
        self._ids.clear()  # validation is over; the spool is the one copy
        self.spool.seek(0)
        for line in self.spool:
            item_id, content = json.loads(line)
            if is_single_url(content):
                yield job_store.NewItem(item_id, None, URL_NOT_FETCHED)
            else:
                yield job_store.NewItem(item_id, content)

    def close(self) -> None:
        self.spool.close()


async def read_ndjson(chunks: AsyncIterator[bytes], upload: Upload, max_items: int) -> None:
    line_no, pending = 0, b""

    def take(line: bytes) -> None:
        nonlocal line_no
        line_no += 1
        if not line.strip():
            return
        try:
            raw = json.loads(line)
        except (ValueError, RecursionError):
            raise validation_error("This line is not a JSON object.", {"line": line_no, "reason": "invalid_json"}) from None
        upload.add(raw, {"line": line_no}, max_items)

    async for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            take(line)
    if pending:
        take(pending)


def read_json(body: bytes, upload: Upload, max_items: int) -> dict:
    """Reads the items into ``upload``; returns the whole body (evaluations read their other fields)."""
    if not body.strip():
        raise ApiError(400, "bad_request", "A request body is required.")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "bad_request", "The request body is not valid JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise validation_error("The body must be an object with an `items` list.", {"field": "items"})
    traits = data.get("traits")
    if traits is not None:
        if not isinstance(traits, list) or not traits or not all(isinstance(t, str) for t in traits):
            raise validation_error("`traits` must name at least one trait, or be left out.", {"traits": traits})
        upload.traits = traits
    for index, raw in enumerate(data["items"]):
        upload.add(raw, {"index": index}, max_items)
    return data


async def start_job(temporal: TemporalGateway, settings: Settings, job: ScoreJob) -> None:
    """Starts the job's workflow (id = job id); 503 ``unavailable`` if Temporal does not take it."""
    inp = ScoreJobInput(job.job_id, job.handle, job.total, settings.job_chunk_size, settings.job_chunks_in_flight)
    await start_background_run(temporal, ScoreJobWorkflow.run, inp, job.job_id, job.handle, OperationKind.SCORE_JOB,
                               "score job")


async def start_background_run(temporal: TemporalGateway, run, inp, workflow_id: str, handle: str,
                               kind: OperationKind, label: str) -> None:
    """Starts a run that is no operation of its model (a score job, an evaluation), findable in the
    Web UI by model and kind; 503 ``unavailable`` if Temporal does not take it."""
    try:
        client = await temporal.client()
        await asyncio.wait_for(client.start_workflow(
            run, inp, id=workflow_id, task_queue=temporal.task_queue,
            search_attributes=search_attributes(handle, kind),
            static_summary=run_summary(label, handle), rpc_timeout=temporal.rpc_timeout,
        ), temporal.call_bound)
    except Exception as exc:  # RPC errors, timeouts, connection loss: Temporal is not taking runs
        raise unavailable("Temporal") from exc


async def cancel_run(temporal: TemporalGateway, job_id: str) -> None:
    """Asks Temporal to cancel the job's run; a run that is already closed is fine."""
    try:
        client = await temporal.client()
        handle = client.get_workflow_handle(job_id)
        await asyncio.wait_for(handle.cancel(rpc_timeout=temporal.rpc_timeout), temporal.call_bound)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise unavailable("Temporal") from exc
    except ApiError:
        raise
    except Exception as exc:
        raise unavailable("Temporal") from exc


async def live_done(temporal: TemporalGateway, job: ScoreJob) -> int | None:
    """Items done according to the running workflow, or None when it cannot answer in time."""
    if job.state not in OPEN_STATUSES or temporal.recently_unreachable:
        return None
    try:
        client = await temporal.client()
        handle = client.get_workflow_handle(job.job_id)
        progress = await asyncio.wait_for(
            handle.query(ScoreJobWorkflow.progress, rpc_timeout=temporal.rpc_timeout), temporal.call_bound)
        return progress.done
    except Exception as exc:  # noqa: BLE001 — the stored counts answer instead
        log.debug("progress query of %s failed: %s", job.job_id, type(exc).__name__)
        return None


async def cancel_open_jobs(session, temporal, model_id: int) -> None:
    """Archiving a model cancels its open jobs (best effort on Temporal: the store says cancelled)."""
    job_ids = await session.run_sync(lambda s: job_store.open_job_ids(s, model_id))
    for job_id in job_ids:
        try:
            await cancel_run(temporal, job_id)
        except ApiError:
            log.warning("could not cancel the run of job %s", job_id)
        await session.run_sync(lambda s, j=job_id: job_store.finish(
            s, j, RunStatus.CANCELLED, error={"code": "model_archived", "message": "The model was archived."}))
    await session.commit()


def job_view(job: ScoreJob, done: int | None = None) -> dict:
    stored_done = job.scored + job.failed
    done = max(stored_done, done or 0)
    end = job.finished_at or datetime.now(timezone.utc)
    elapsed = (end - job.started_at).total_seconds() if job.started_at else 0.0
    rate = done / elapsed if elapsed > 0 and done > 0 else None
    eta = (job.total - done) / rate if rate and job.state in OPEN_STATUSES else (0.0 if job.finished_at else None)
    return {
        "job_id": job.job_id,
        "handle": job.handle,
        "version_id": f"v{job.version_no}",
        "state": job.state,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at) if job.started_at else None,
        "finished_at": iso(job.finished_at) if job.finished_at else None,
        "progress": {"done": done, "total": job.total, "fraction": round(done / job.total, 4) if job.total else 1.0,
                     "items_per_s": round(rate, 2) if rate else None,
                     "eta_s": round(eta, 1) if eta is not None else None},
        "counts": {"scored": job.scored, "failed": job.failed},
        "summary": job.summary,
        "error": job.error,
        "traits": job.traits,
    }


def result_item(item_id: str, result: str | None, error: dict | None) -> dict:
    if result is not None:
        return {"id": item_id, "result": json.loads(result)}
    return {"id": item_id, "error": error or NOT_SCORED}


def result_line(item_id: str, result: str | None, error: dict | None) -> str:
    """One NDJSON line; a stored card is sent as stored, byte for byte."""
    if result is not None:
        return '{"id":' + json.dumps(item_id, ensure_ascii=False) + ',"result":' + result + "}\n"
    return json.dumps({"id": item_id, "error": error or NOT_SCORED}, ensure_ascii=False, separators=(",", ":")) + "\n"
