"""Evaluations (SPEC §9.5): start one, read it, list a model's. Rules in api/evaluations.py.

Who: as for score jobs — any key that can read the model may evaluate it (public models too); the
evaluation belongs to the namespaces of that key, and only keys sharing one of them can read or list
it (404 for the others, as for an unreadable model).
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from api import evaluations as evals
from api import score_jobs as jobs
from api.deps import KeyDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, not_found
from api.lookup import load_model, parse_handle
from api.pagination import decode_cursor, page
from api.schemas.evaluations import EvaluationAccepted, EvaluationCreate, EvaluationOut, EvaluationPage
from contracts.states import RunStatus
from store import catalog
from store import evaluations as evaluation_store
from store import score_jobs as job_store

router = APIRouter(tags=["evaluations"])


@router.post("/models/{handle}/evaluations", status_code=202, response_model=EvaluationAccepted,
             summary="Start an evaluation",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": EvaluationCreate.model_json_schema()},
                 jobs.NDJSON: {"schema": {"type": "array", "minItems": 1, "items": {"type": "object"},
                                          "description": "One labelled item per line (a samples file)."}},
             }}})
async def create_evaluation(handle: str, request: Request, principal: KeyDep, session: SessionDep,
                            settings: SettingsDep, temporal: TemporalDep,
                            versions: list[str] | None = Query(None, description="NDJSON uploads: the 1 or 2 "
                                                                                  "versions to evaluate.")):
    """Score labelled items against one or two versions in the background, then report AUC and more."""
    model = await load_model(session, principal, parse_handle(handle))
    upload = evals.LabelledUpload(await catalog.list_traits(session, model.id))
    try:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in (jobs.NDJSON, "application/jsonl"):
            wanted = evals.read_versions(versions)
            await jobs.read_ndjson(request.stream(), upload, settings.job_max_items)
            if upload.count == 0:
                raise ApiError(400, "bad_request", "The upload holds no items.")
        else:
            body = jobs.read_json(await request.body(), upload, settings.job_max_items)
            wanted = evals.read_versions(body.get("versions"))
            if upload.count == 0:
                raise ApiError(422, "validation_error", "An evaluation needs at least one item.", {"field": "items"})
        served = await evals.resolve_versions(session, model, wanted, settings.embedder)
        traits = upload.labelled_traits()
        evals.check_versions_have(served, traits)
        upload.traits = traits
        evaluation_id = evals.new_evaluation_id()
        job_ids = [jobs.new_job_id() for _ in served]
        await session.commit()

        def store(s):
            for job_id, version in zip(job_ids, served):
                job_store.create_job(
                    s, job_id=job_id, model_id=model.id, handle=model.handle, version_id=version.version_id,
                    version_no=version.version_no, traits=traits, max_depth=model.max_depth,
                    zero_data_retention=model.zero_data_retention, namespaces=principal.namespaces,
                    items=upload.items())
            return evaluation_store.create_evaluation(
                s, evaluation_id=evaluation_id, model_id=model.id, handle=model.handle,
                version_nos=[v.version_no for v in served], version_ids=[v.version_id for v in served],
                job_ids=job_ids, traits=traits, numeric_traits=[k for k in traits if upload.numeric[k]],
                namespaces=principal.namespaces, labels=upload.labels)

        evaluation = await session.run_sync(store)
        await session.commit()
    finally:
        upload.close()
    try:
        await evals.start_evaluation(temporal, settings, evaluation)
    except ApiError:
        def forget(s):
            evaluation_store.delete_evaluation(s, evaluation.id)
            for job_id in job_ids:
                job = job_store.job_by_id(s, job_id)
                if job is not None:
                    job_store.delete_job(s, job.id)
        await session.run_sync(forget)
        await session.commit()
        raise
    view = evals.evaluation_view(evaluation)
    return {"evaluation_id": evaluation_id, "state": RunStatus.QUEUED, "versions": view["versions"],
            "jobs": view["jobs"]}


@router.get("/models/{handle}/evaluations", response_model=EvaluationPage, summary="List a model's evaluations")
async def list_evaluations(handle: str, principal: KeyDep, session: SessionDep,
                           limit: int = Query(50, ge=1, le=250), cursor: str | None = None):
    """The evaluations your key's namespaces started on this model, newest first."""
    model = await load_model(session, principal, parse_handle(handle))
    below = decode_cursor(cursor, int)
    rows = await session.run_sync(lambda s: evaluation_store.list_evaluations(
        s, model.id, principal.namespaces, limit + 1, below))
    result = page(rows, limit, lambda row: row.id)
    result["items"] = [evals.evaluation_view(row) for row in result["items"]]
    return result


@router.get("/evaluations/{evaluation_id}", response_model=EvaluationOut, summary="Read an evaluation")
async def get_evaluation(evaluation_id: str, principal: KeyDep, session: SessionDep, temporal: TemporalDep):
    """State, live progress and, once it succeeded, the report per version and trait."""
    evaluation = await session.run_sync(lambda s: evaluation_store.get_evaluation(
        s, evaluation_id, principal.namespaces))
    if evaluation is None:
        raise not_found("evaluation")
    score_jobs = await session.run_sync(lambda s: [job_store.job_by_id(s, j) for j in evaluation.job_ids])
    return evals.evaluation_view(evaluation, await evals.live_progress(temporal, evaluation, score_jobs))
