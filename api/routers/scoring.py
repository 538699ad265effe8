"""POST …/score and POST …/compare (SPEC §4, §6, §1.10).

Decisions (SPEC is silent):
- The body is JSON unless its Content-Type is ``text/plain`` (then the whole body, UTF-8, is the
  content). An empty body is ``400 bad_request``; unknown JSON fields are ignored.
- ``traits: []`` is a ``422 validation_error`` (a card needs at least one trait); ``feedback: {}``
  counts as no feedback.
- The text view is chosen when ``Accept`` ranks ``text/plain`` strictly above JSON (``*/*`` or no
  header → JSON). It carries the serving version in an ``X-Version-Id`` header, since the text has
  no metadata block.
- Feedback is accepted whenever the model serves a version (state ``ready``, or ``busy`` while a
  retrain runs — appending samples does not touch the definition, and refusing would make feedback
  flaky exactly when continuous learning is working). Every feedback entry is validated (trait,
  label) before the content is fetched or scored, and nothing is written unless all are valid.
- Feedback samples keep ``source_url`` and ``content_sha256`` when the content was a fetched URL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.background import BackgroundTask

from api.deps import (KeyDep, SessionDep, SettingsDep, TemporalDep, get_principal, get_settings_dep, get_temporal,
                      open_session)
from api.direct_route import direct_route
from api.errors import ApiError, error_object, request_id_of, validation_error
from api.fetch import is_single_url
from api.lookup import load_model, load_model_for_scoring, parse_handle
from api.negotiation import prefers_over_json
from api.routers.extract import fetch_or_fail
from api.schemas.scoring import (NON_BLANK, BatchScoreRequest, BatchScoreResponse, CompareRequest, CompareResponse,
                                 ScoreRequest, ScoreResponse)
from api.scoring_service import (ServedVersion, check_traits, plan_feedback, score_card, served_version,
                                 store_feedback)
from engine.card import compare_cards, with_metadata
from engine.render import render_card, render_compare

router = APIRouter(tags=["scoring"])
log = logging.getLogger("assay.api.scoring")

TEXT_PLAIN = "text/plain; charset=utf-8"
_TEXT_VIEW = {200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                    "description": "The card as JSON, or as a text chart with `Accept: text/plain`."}}


async def _parse(request: Request, schema: type[BaseModel], allow_text: bool) -> BaseModel:
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "bad_request", "A request body is required.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if allow_text and content_type == "text/plain":
        try:
            data = {"content": raw.decode("utf-8")}
        except UnicodeDecodeError as exc:
            raise ApiError(400, "bad_request", "A text/plain body must be UTF-8.") from exc
    else:
        try:
            data = json.loads(raw)
        # Nesting deeper than the interpreter's recursion limit is malformed input too, not a server fault.
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ApiError(400, "bad_request", "The request body is not valid JSON.") from exc
    try:
        parsed = schema.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
    if getattr(parsed, "traits", None) == []:
        raise validation_error("`traits` must name at least one trait, or be left out.", {"traits": []})
    return parsed


async def _readable(content: str, allow: list[str]) -> tuple[str, str | None, str | None]:
    """(text to score, source url, content sha256) — a lone URL is fetched and extracted."""
    if not is_single_url(content):
        return content, None, None
    fetched = await fetch_or_fail(content.strip(), allow)
    return fetched.content, fetched.url, fetched.content_sha256


def _with_metadata(card: dict, request: Request, version_label: str, sample_ids: list[int]) -> dict:
    return with_metadata(card, request_id_of(request), version_label, sample_ids)


@dataclass(frozen=True)
class Scored:
    card: dict  # without metadata
    text: str
    source_url: str | None
    content_sha256: str | None


async def scored(served: ServedVersion, content: str, traits: list[str] | None, max_depth: int,
                 allow: list[str], *, single: bool = False) -> Scored:
    """The one way content becomes a card, for `…/score` and for every item of `…/score/batch`."""
    text, source_url, sha = await _readable(content, allow)
    return Scored(await score_card(served, text, traits, max_depth, single=single), text, source_url, sha)


async def score(handle: str, request: Request, principal: KeyDep, session: SessionDep,
                settings: SettingsDep, temporal: TemporalDep):
    """Score the content against the active version, or a pinned one (`handle@v3`, `handle@tag`)."""
    parsed_handle = parse_handle(handle, allow_pin=True)
    body: ScoreRequest = await _parse(request, ScoreRequest, allow_text=True)
    # Feedback writes samples under the model's current rules (ZDR), so it reads the row afresh.
    model = await (load_model if body.feedback else load_model_for_scoring)(session, principal, parsed_handle)
    served = await served_version(session, model, parsed_handle, settings.embedder)
    check_traits(served, body.traits)
    plan = None
    if body.feedback:
        plan = await plan_feedback(session, principal, model, body.feedback)
    result = await scored(served, body.content, body.traits, model.max_depth, settings.fetch_allow_list,
                          single=True)
    sample_ids: list[int] = []
    if plan is not None:
        sample_ids = await store_feedback(session, temporal, settings, model, plan,
                                          result.text, result.source_url, result.content_sha256)
    if prefers_over_json(request.headers.get("accept", ""), "text/plain"):
        return PlainTextResponse(render_card(result.card), media_type=TEXT_PLAIN,
                                 headers={"X-Version-Id": served.label})
    return JSONResponse(_with_metadata(result.card, request, served.label, sample_ids))


async def _score_directly(request: Request) -> Response:
    """``score`` with its dependencies supplied by hand: the hot path (api/direct_route.py)."""
    cleanup = AsyncExitStack()
    session = await cleanup.enter_async_context(open_session(request))
    try:
        response = await score(request.path_params["handle"], request, await get_principal(request, session),
                               session, await get_settings_dep(request), await get_temporal(request))
    except BaseException:
        await cleanup.aclose()
        raise
    # Closed once the answer is sent, as FastAPI closes the session dependency: leaving the session's
    # context awaits a task of its own, a turn of the event loop in which other requests' inline
    # scores may run first (bench/results/open_loop_ab_direct-route-closed-before-sending.md:
    # open-loop p50 12.8 -> 20.5 ms when closed before). uvicorn's send does not raise when the
    # client has gone, so the task runs then too.
    response.background = BackgroundTask(cleanup.aclose)
    return response


router.add_api_route(
    "/models/{handle}/score",
    score,
    methods=["POST"],
    response_model=ScoreResponse,
    responses=_TEXT_VIEW,
    summary="Score a text",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": ScoreRequest.model_json_schema()},
        "text/plain": {"schema": {"type": "string", "pattern": r"\S",
                                  "description": "The text (or a lone URL) to score; blank is refused."}},
    }}},
    route_class_override=direct_route(_score_directly),
)


def _inline_schema(schema: type[BaseModel]) -> dict:
    """``schema``'s JSON schema with nested models written in place: in a route's ``openapi_extra``
    a ``#/$defs/…`` reference would point nowhere in the OpenAPI document."""
    document = schema.model_json_schema()
    definitions = document.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            if set(node) == {"$ref"}:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return resolve(document)


# Items are scored a few at a time: URL items wait on the network, not the CPU, and one batch
# must not take every embedding thread of the process from the single-score traffic around it.
BATCH_CONCURRENCY = 4


@router.post("/models/{handle}/score/batch", response_model=BatchScoreResponse, summary="Score up to 256 texts",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": _inline_schema(BatchScoreRequest)}}}})
async def score_batch(handle: str, request: Request, principal: KeyDep, session: SessionDep,
                      settings: SettingsDep):
    """Score 1–256 items with one version (active or pinned). Each `result` is exactly the card
    `POST …/score` gives for that content; an item that cannot be scored (a URL that fails to fetch,
    blank content) carries its own `error` and the others are scored. No feedback here."""
    parsed_handle = parse_handle(handle, allow_pin=True)
    body: BatchScoreRequest = await _parse(request, BatchScoreRequest, allow_text=False)
    ids = [item.id if item.id is not None else str(index) for index, item in enumerate(body.items)]
    repeated = sorted(item_id for item_id, count in Counter(ids).items() if count > 1)
    if repeated:  # results are matched to inputs by id
        raise validation_error("Item ids must be unique within a batch.", {"duplicate_ids": repeated[:20]})
    model = await load_model_for_scoring(session, principal, parsed_handle)
    served = await served_version(session, model, parsed_handle, settings.embedder)
    check_traits(served, body.traits)
    request_id = request_id_of(request)
    slots = asyncio.Semaphore(BATCH_CONCURRENCY)

    async def one(content: str) -> dict:
        if not re.search(NON_BLANK, content):
            return {"error": error_object("validation_error", "`content` must not be blank.", request_id,
                                          {"field": "content"})}
        async with slots:
            try:
                result = await scored(served, content, body.traits, model.max_depth, settings.fetch_allow_list)
            except ApiError as error:
                return {"error": error_object(error.code, error.message, request_id, error.details)}
        return {"result": _with_metadata(result.card, request, served.label, [])}

    async with asyncio.TaskGroup() as group:  # an unexpected failure cancels the other items
        tasks = [group.create_task(one(item.content)) for item in body.items]
    outcomes = [task.result() for task in tasks]
    failed = sum("error" in outcome for outcome in outcomes)
    return JSONResponse({
        "items": [{"id": item_id, **outcome} for item_id, outcome in zip(ids, outcomes)],
        "metadata": {"request_id": request_id, "version_id": served.label,
                     "succeeded": len(outcomes) - failed, "failed": failed},
    })


@router.post("/models/{handle}/compare", response_model=CompareResponse, responses=_TEXT_VIEW,
             summary="Compare two texts",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": CompareRequest.model_json_schema()}}}})
async def compare(handle: str, request: Request, principal: KeyDep, session: SessionDep,
                  settings: SettingsDep):
    """Score a baseline `a` and a candidate `b` with the same version and report the differences."""
    parsed_handle = parse_handle(handle, allow_pin=True)
    body: CompareRequest = await _parse(request, CompareRequest, allow_text=False)
    model = await load_model_for_scoring(session, principal, parsed_handle)
    served = await served_version(session, model, parsed_handle, settings.embedder)
    check_traits(served, body.traits)
    # Both sides may be URLs: fetch them side by side; the first failure answers the request.
    results = await asyncio.gather(_readable(body.a, settings.fetch_allow_list),
                                   _readable(body.b, settings.fetch_allow_list), return_exceptions=True)
    for outcome in results:
        if isinstance(outcome, BaseException):
            raise outcome
    (text_a, _, _), (text_b, _, _) = results
    card_a = await score_card(served, text_a, body.traits, model.max_depth, single=True)
    card_b = await score_card(served, text_b, body.traits, model.max_depth, single=True)
    result = compare_cards(_with_metadata(card_a, request, served.label, []),
                           _with_metadata(card_b, request, served.label, []))
    if prefers_over_json(request.headers.get("accept", ""), "text/plain"):
        return PlainTextResponse(render_compare(result), media_type=TEXT_PLAIN,
                                 headers={"X-Version-Id": served.label})
    return JSONResponse(result)
