"""Pure ASGI middleware: request ids on every response, the request body size limit (advertised in
`X-Max-Body-Bytes` on every response, so clients can size their batches), and the refusal of JSON
strings that are not valid Unicode."""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from ulid import ULID

from api.errors import envelope
from api.lookup_cache import model_cache

# An incoming id is honoured only if it is short and plain (no header injection, no log forging).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Scoring writes nothing a model lookup caches (feedback only appends samples).
_SCORING_SUFFIXES = ("/score", "/score/batch", "/compare")


def may_change_models(scope) -> bool:
    """Whether a request may change a model row, so that this process's cached rows must go."""
    return scope["method"] not in _READ_ONLY_METHODS and not scope["path"].endswith(_SCORING_SUFFIXES)


def new_request_id() -> str:
    return f"req_{ULID()}"


class BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body parsing passes it through instead of answering 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


def is_upload(scope) -> bool:
    """A score-job upload: its body may be as large as ASSAY_JOB_MAX_BYTES and may be NDJSON."""
    return scope.get("method") == "POST" and scope.get("path", "").endswith("/score-jobs")


class RequestContextMiddleware:
    def __init__(self, app, max_body_bytes: int, upload_body_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Score-job uploads (POST …/score-jobs) have a limit of their own (ASSAY_JOB_MAX_BYTES).
        self.upload_body_bytes = upload_body_bytes or max_body_bytes
        self.advertised_limit = (b"x-max-body-bytes", str(max_body_bytes).encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope.get("headers") or [])
        incoming = request_headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        added = [(b"x-request-id", request_id.encode()), self.advertised_limit]
        started = False
        # A change is committed before its answer starts: the process that made it never serves
        # the old row again once the client can know about the change (api/lookup_cache.py).
        forget_models = may_change_models(scope)

        async def send_with_id(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if forget_models:
                    model_cache().clear()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, *added]}
            await send(message)

        limit = self.upload_body_bytes if is_upload(scope) else self.max_body_bytes
        declared = request_headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(send_with_id, request_id, limit)
            return

        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counting_receive, send_with_id)
        except BodyTooLarge:
            if not started:
                await self._too_large(send_with_id, request_id, limit)
        finally:
            if forget_models:  # also after a write that committed in its teardown
                model_cache().clear()

    async def _too_large(self, send, request_id: str, limit: int) -> None:
        body = json.dumps({"error": {
            "code": "payload_too_large",
            "message": f"The request body is larger than {limit} bytes.",
            "request_id": request_id,
            "details": {"max_bytes": limit},
        }}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


# A lone surrogate can only arrive as a \\uD800–\\uDFFF escape (raw surrogate bytes are not UTF-8),
# so bodies without such an escape — nearly all — are never parsed here.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def holds_lone_surrogate(body: bytes) -> bool:
    """True if ``body`` is JSON with a key or string value that UTF-8 cannot encode."""
    try:
        pending = [json.loads(body)]
    except (ValueError, RecursionError):
        return False  # not JSON: the route answers 400 itself
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


class UnicodeBodyGuard:
    """Answers 422 to a JSON body holding a lone surrogate (``"\\ud800"``), before any route reads it.

    Such a string parses but cannot be stored, embedded or echoed back, so every route (and MCP)
    would otherwise fail somewhere deep with a 500. One check here covers every reader of JSON.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") or is_upload(scope):
            # Uploads stream (up to ASSAY_JOB_MAX_BYTES) and are checked item by item by their route.
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body arrived
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _SURROGATE_ESCAPE.search(body) and holds_lone_surrogate(body):
            request_id = scope.get("state", {}).get("request_id", "")
            response = envelope(422, "validation_error",
                                "Strings must be valid Unicode: the body holds a lone surrogate escape (\\ud800–\\udfff).",
                                request_id, {"reason": "lone_surrogate"})
            await response(scope, receive, send)
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
