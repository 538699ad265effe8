"""The error envelope. Every non-2xx response goes through here with a stable snake_case code."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("assay.api")


class ApiError(Exception):
    """Raise anywhere in a request to answer with the envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


class ErrorDetail(BaseModel):
    code: str = Field(..., description="Machine-readable snake_case code; new codes may appear, none is renamed.",
                      examples=["invalid_handle"])
    message: str = Field(..., description="A sentence for people; do not parse it.")
    request_id: str | None = Field(None, description="Same value as the `X-Request-Id` response header.",
                                   examples=["req_01J9Z6ABCDXYZ"])
    details: dict[str, Any] = Field(default_factory=dict, description="Extra facts for this code, or `{}`.")


class ErrorEnvelope(BaseModel):
    """The body of every non-2xx answer."""

    error: ErrorDetail


_ERROR_WHEN = {
    400: "The body is not JSON, or a required body is empty.",
    401: "The key is missing, unknown or revoked.",
    403: "This key may not do this here: wrong scope, or not an owner of the namespace.",
    404: "Nothing by that name is readable with this key.",
    409: "The model's state does not allow this now (see the code).",
    413: "The body is larger than the configured limit.",
    422: "A field, handle, label or parameter is not acceptable.",
    429: "Too many requests for this key; see `Retry-After`.",
    500: "Something failed on our side; the body carries no trace of it.",
    503: "The database or Temporal could not be reached.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses, all answered with the envelope."""
    return {status: {"model": ErrorEnvelope, "description": _ERROR_WHEN[status]} for status in statuses}


# What any keyed /v1 route can answer besides its success (the middleware alone can give 413 and 429).
API_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422, 429, 500, 503)
# The keyless liveness probe.
HEALTH_ERRORS = error_responses(500, 503)


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"No such {what}.")


def run_finished(status: str) -> ApiError:
    return ApiError(409, "run_finished", f"The run has already ended ({status}); there is nothing to cancel.",
                    {"status": status})


def model_archived() -> ApiError:
    """Every write, run and score on an archived model (reads still work)."""
    return ApiError(409, "model_archived", "This model is archived: it can be read but not changed, trained or "
                                           "scored.")


def forbidden(message: str = "This key may not do that.") -> ApiError:
    return ApiError(403, "forbidden", message)


def validation_error(message: str, details: dict[str, Any] | None = None, code: str = "validation_error") -> ApiError:
    return ApiError(422, code, message, details)


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", "") or ""


def json_safe(value: Any) -> Any:
    """``value`` with everything strict JSON cannot carry made printable.

    Details often echo what the client sent: NaN and infinities (which Python's JSON reader accepts),
    strings with lone surrogates (which UTF-8 cannot encode), or other objects. An error answer must
    never fail to serialize, or the client gets a 500 instead of the real reason.
    """
    if isinstance(value, dict):
        return {json_safe(key) if isinstance(key, str) else str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value).replace("inf", "Infinity").replace("nan", "NaN")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return json_safe(str(value))


def error_object(code: str, message: str, request_id: str, details: dict | None = None) -> dict:
    """The envelope's ``error`` object; batch items carry it alone (SPEC §9.1)."""
    return {"code": code, "message": message, "request_id": request_id, "details": json_safe(details or {})}


def envelope(status: int, code: str, message: str, request_id: str, details: dict | None = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error_object(code, message, request_id, details)}, status_code=status,
                        headers=headers)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def _jsonable_errors(errors: list[dict]) -> list[dict]:
    out = []
    for err in errors:
        out.append({
            "loc": [str(part) for part in err.get("loc", ())],
            "type": str(err.get("type", "")),
            "message": str(err.get("msg", "")),
        })
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return envelope(exc.status, exc.code, exc.message, request_id_of(request), exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        # Undecodable JSON is the client's framing fault, not a field problem.
        if any(err.get("type") == "json_invalid" for err in errors):
            return envelope(400, "bad_request", "The request body is not valid JSON.", request_id_of(request),
                            {"errors": _jsonable_errors(errors)})
        if any(err.get("type") == "missing" and tuple(err.get("loc", ())) == ("body",) for err in errors):
            return envelope(400, "bad_request", "A JSON request body is required.", request_id_of(request))
        return envelope(422, "validation_error", "The request did not pass validation.", request_id_of(request),
                        {"errors": _jsonable_errors(errors)})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404:
            message = "No such route."
        return envelope(exc.status_code, code, message, request_id_of(request), headers=getattr(exc, "headers", None))

    # The driver's connection-level failures (refused, dropped, server shutting down) mean the
    # database is unreachable: 503 `unavailable`, as for Temporal. Handled here rather than by the
    # catch-all below, which also re-raises to the server (uvicorn then drops the keep-alive connection).
    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_unreachable(request: Request, exc: Exception):
        log.warning("database unreachable: %s", type(getattr(exc, "orig", exc)).__name__,
                    extra={"request_id": request_id_of(request)})
        return envelope(503, "unavailable", "The database is not reachable right now; try again shortly.",
                        request_id_of(request))

    # Uniqueness races are answered where they can happen (upserts, HandleTaken); one that slips
    # through is still the client's conflict with another request, not a server fault.
    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError):
        log.warning("integrity conflict: %s", type(exc.orig).__name__, extra={"request_id": request_id_of(request)})
        return envelope(409, "conflict", "Another request changed this at the same time; read it again and retry.",
                        request_id_of(request))

    # The database refusing a value (PostgreSQL: NUL in text, a number out of range) means input
    # that no check in front of it caught; the client's data, not a server fault.
    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError):
        log.warning("database refused a value: %s", type(exc.orig).__name__, extra={"request_id": request_id_of(request)})
        return envelope(422, "validation_error", "A value in the request cannot be stored or compared.",
                        request_id_of(request))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error", extra={"request_id": request_id_of(request)})
        # Starlette re-raises to the server after this answer and the server then drops the
        # connection; saying so lets a keep-alive client open a new one instead of failing its next request.
        # This answer is sent outside the request-id middleware, so it sets that header itself.
        return envelope(500, "internal_error", "Something went wrong on our side.", request_id_of(request),
                        headers={"Connection": "close", "X-Request-Id": request_id_of(request)})
