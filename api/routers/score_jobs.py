"""Score jobs (SPEC §9.2): create, read, results, cancel, and a model's list. Rules in api/score_jobs.py.

Who: any key that can read the model may start a job on it (public models too); the job belongs to
the namespaces of that key, and only keys sharing one of them can read, list or cancel it (404 for
the others, as for an unreadable model).
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api import score_jobs as jobs
from api.deps import KeyDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, not_found
from api.lookup import load_model, parse_handle
from api.negotiation import prefers_over_json
from api.pagination import decode_cursor, page
from api.schemas.score_jobs import (ScoreJobAccepted, ScoreJobCreate, ScoreJobItemIn, ScoreJobOut, ScoreJobPage,
                                    ScoreJobResultPage)
from api.scoring_service import check_traits, served_version
from contracts.states import OPEN_STATUSES, RunStatus
from store import score_jobs as job_store

router = APIRouter(tags=["score jobs"])
RESULTS_BATCH = 1000


def job_not_finished(state: str) -> ApiError:
    return ApiError(409, "job_not_finished", "The job has not finished yet; its results come when it has.",
                    {"state": state})


async def _job(session, principal, settings, job_id: str):
    job = await session.run_sync(lambda s: job_store.get_job(s, job_id, principal.namespaces,
                                                             jobs.retention(settings)))
    if job is None:
        raise not_found("score job")
    return job


@router.post("/models/{handle}/score-jobs", status_code=202, response_model=ScoreJobAccepted,
             summary="Start a score job",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": ScoreJobCreate.model_json_schema()},
                 # The lines of the upload, each one `{id?, content}` object (JSON Lines framing).
                 jobs.NDJSON: {"schema": {"type": "array", "minItems": 1, "items": ScoreJobItemIn.model_json_schema(),
                                          "description": "One `{id?, content}` object per line."}},
             }}})
async def create_score_job(handle: str, request: Request, principal: KeyDep, session: SessionDep,
                           settings: SettingsDep, temporal: TemporalDep,
                           traits: list[str] | None = Query(None, description="NDJSON uploads: limit the cards to "
                                                                              "these traits.")):
    """Score many texts in the background against one version, pinned now (`handle@v3` works too)."""
    parsed_handle = parse_handle(handle, allow_pin=True)
    model = await load_model(session, principal, parsed_handle)
    served = await served_version(session, model, parsed_handle, settings.embedder)
    upload = jobs.Upload()
    try:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in (jobs.NDJSON, "application/jsonl"):
            upload.traits = traits or None
            check_traits(served, upload.traits)  # before reading what may be a large upload
            await jobs.read_ndjson(request.stream(), upload, settings.job_max_items)
            if upload.count == 0:
                raise ApiError(400, "bad_request", "The upload holds no items.")
        else:
            jobs.read_json(await request.body(), upload, settings.job_max_items)
            if upload.count == 0:
                raise ApiError(422, "validation_error", "A job needs at least one item.", {"field": "items"})
        check_traits(served, upload.traits)
        job_id = jobs.new_job_id()
        await session.commit()
        job = await session.run_sync(lambda s: job_store.create_job(
            s, job_id=job_id, model_id=model.id, handle=model.handle, version_id=served.version_id,
            version_no=served.version_no, traits=upload.traits, max_depth=model.max_depth,
            zero_data_retention=model.zero_data_retention, namespaces=principal.namespaces, items=upload.items()))
        await session.commit()
    finally:
        upload.close()
    try:
        await jobs.start_job(temporal, settings, job)
    except ApiError:
        await session.run_sync(lambda s: job_store.delete_job(s, job.id))
        await session.commit()
        raise
    # Retention needs no process of its own: expired jobs go when new ones arrive.
    await session.run_sync(lambda s: job_store.delete_expired(s, jobs.retention(settings)))
    await session.commit()
    return {"job_id": job.job_id, "state": RunStatus.QUEUED}


@router.get("/models/{handle}/score-jobs", response_model=ScoreJobPage, summary="List a model's score jobs")
async def list_score_jobs(handle: str, principal: KeyDep, session: SessionDep, settings: SettingsDep,
                          limit: int = Query(50, ge=1, le=250), cursor: str | None = None):
    """The jobs your key's namespaces started on this model, newest first."""
    model = await load_model(session, principal, parse_handle(handle))
    below = decode_cursor(cursor, int)
    rows = await session.run_sync(lambda s: job_store.list_jobs(
        s, model.id, principal.namespaces, jobs.retention(settings), limit + 1, below))
    result = page(rows, limit, lambda row: row.id)
    result["items"] = [jobs.job_view(row) for row in result["items"]]
    return result


@router.get("/score-jobs/{job_id}", response_model=ScoreJobOut, summary="Read a score job")
async def get_score_job(job_id: str, principal: KeyDep, session: SessionDep, settings: SettingsDep,
                        temporal: TemporalDep):
    """State, live progress, counts and (once it succeeded) the per-trait summary."""
    job = await _job(session, principal, settings, job_id)
    return jobs.job_view(job, await jobs.live_done(temporal, job))


@router.get("/score-jobs/{job_id}/results", response_model=ScoreJobResultPage, summary="Read a job's results",
            responses={200: {"content": {jobs.NDJSON: {"schema": {"type": "string"}}},
                             "description": "A page in input order, or every item as NDJSON with "
                                            "`Accept: application/x-ndjson`."}})
async def score_job_results(job_id: str, request: Request, principal: KeyDep, session: SessionDep,
                            settings: SettingsDep, limit: int = Query(100, ge=1, le=1000),
                            cursor: str | None = None):
    """Results in input order: `{id, result}` or `{id, error}` per item."""
    job = await _job(session, principal, settings, job_id)
    if job.state in OPEN_STATUSES:
        raise job_not_finished(job.state)
    if prefers_over_json(request.headers.get("accept", ""), jobs.NDJSON):
        return StreamingResponse(_stream(request.app.state.sessionmaker, job.id), media_type=jobs.NDJSON)
    after = decode_cursor(cursor, int)
    rows = await session.run_sync(lambda s: job_store.result_rows(s, job.id, -1 if after is None else after,
                                                                  limit + 1))
    result = page(rows, limit, lambda row: row[0])
    result["items"] = [jobs.result_item(item_id, res, err) for _seq, item_id, res, err in result["items"]]
    return JSONResponse(result)


async def _stream(sessionmaker, job_pk: int):
    """Every result line, read in batches on a session of its own (the request's closes first)."""
    after = -1
    async with sessionmaker() as session:
        while True:
            rows = await session.run_sync(lambda s: job_store.result_rows(s, job_pk, after, RESULTS_BATCH))
            await session.rollback()
            if not rows:
                return
            yield "".join(jobs.result_line(item_id, res, err) for _seq, item_id, res, err in rows).encode("utf-8")
            after = rows[-1][0]


@router.post("/score-jobs/{job_id}/cancel", response_model=ScoreJobOut, summary="Cancel a score job")
async def cancel_score_job(job_id: str, principal: KeyDep, session: SessionDep, settings: SettingsDep,
                           temporal: TemporalDep):
    """Stops the job; what was scored before stays readable. A succeeded or failed job → 409."""
    job = await _job(session, principal, settings, job_id)
    if job.state in (RunStatus.SUCCEEDED, RunStatus.FAILED):
        raise ApiError(409, "job_finished", "The job has already finished.", {"state": job.state})
    if job.state != RunStatus.CANCELLED:
        await jobs.cancel_run(temporal, job.job_id)
        await session.commit()
        await session.run_sync(lambda s: job_store.finish(
            s, job_id, RunStatus.CANCELLED, error={"code": "cancelled", "message": "The job was cancelled."}))
        await session.commit()
        await session.refresh(job)
    return jobs.job_view(job)

