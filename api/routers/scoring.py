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

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ValidationError

from api.deps import KeyDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, request_id_of, validation_error
from api.fetch import is_single_url
from api.lookup import load_model, parse_handle
from api.negotiation import prefers_over_json
from api.routers.extract import fetch_or_fail
from api.schemas.scoring import CompareRequest, CompareResponse, ScoreRequest, ScoreResponse
from api.scoring_service import check_traits, plan_feedback, score_card, served_version, store_feedback
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


@router.post(
    "/models/{handle}/score",
    response_model=ScoreResponse,
    responses=_TEXT_VIEW,
    summary="Score a text",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": ScoreRequest.model_json_schema()},
        "text/plain": {"schema": {"type": "string", "pattern": r"\S",
                                  "description": "The text (or a lone URL) to score; blank is refused."}},
    }}},
)
async def score(handle: str, request: Request, principal: KeyDep, session: SessionDep,
                settings: SettingsDep, temporal: TemporalDep):
    """Score the content against the active version, or a pinned one (`handle@v3`, `handle@tag`)."""
    parsed_handle = parse_handle(handle, allow_pin=True)
    body: ScoreRequest = await _parse(request, ScoreRequest, allow_text=True)
    model = await load_model(session, principal, parsed_handle)
    served = await served_version(session, model, parsed_handle, settings.embedder)
    check_traits(served, body.traits)
    plan = None
    if body.feedback:
        plan = await plan_feedback(session, principal, model, body.feedback)
    text, source_url, sha = await _readable(body.content, settings.fetch_allow_list)
    card = await score_card(served, text, body.traits, model.max_depth)
    sample_ids: list[int] = []
    if plan is not None:
        sample_ids = await store_feedback(session, temporal, settings, model, plan,
                                                           text, source_url, sha)
    if prefers_over_json(request.headers.get("accept", ""), "text/plain"):
        return PlainTextResponse(render_card(card), media_type=TEXT_PLAIN,
                                 headers={"X-Version-Id": served.label})
    return JSONResponse(_with_metadata(card, request, served.label, sample_ids))


@router.post("/models/{handle}/compare", response_model=CompareResponse, responses=_TEXT_VIEW,
             summary="Compare two texts",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": CompareRequest.model_json_schema()}}}})
async def compare(handle: str, request: Request, principal: KeyDep, session: SessionDep,
                  settings: SettingsDep):
    """Score a baseline `a` and a candidate `b` with the same version and report the differences."""
    parsed_handle = parse_handle(handle, allow_pin=True)
    body: CompareRequest = await _parse(request, CompareRequest, allow_text=False)
    model = await load_model(session, principal, parsed_handle)
    served = await served_version(session, model, parsed_handle, settings.embedder)
    check_traits(served, body.traits)
    # Both sides may be URLs: fetch them side by side; the first failure answers the request.
    results = await asyncio.gather(_readable(body.a, settings.fetch_allow_list),
                                   _readable(body.b, settings.fetch_allow_list), return_exceptions=True)
    for outcome in results:
        if isinstance(outcome, BaseException):
            raise outcome
    (text_a, _, _), (text_b, _, _) = results
    card_a = await score_card(served, text_a, body.traits, model.max_depth)
    card_b = await score_card(served, text_b, body.traits, model.max_depth)
    result = compare_cards(_with_metadata(card_a, request, served.label, []),
                           _with_metadata(card_b, request, served.label, []))
    if prefers_over_json(request.headers.get("accept", ""), "text/plain"):
        return PlainTextResponse(render_compare(result), media_type=TEXT_PLAIN,
                                 headers={"X-Version-Id": served.label})
    return JSONResponse(result)
