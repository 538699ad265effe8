"""The single exception the client raises: every non-2xx answer, and a server that cannot be reached."""

from __future__ import annotations

from typing import Any

import httpx

# Not an HTTP status: the request never got an answer (refused connection, DNS failure, timeout).
NO_RESPONSE_STATUS = 0


class AssayError(Exception):
    """A failed call. `code` is the stable snake_case code from the error envelope; branch on it.

    A body that is not the envelope (a proxy's HTML page, say) still raises, with code `http_<status>`;
    an answer with neither the envelope nor Assay's `X-Request-Id` header raises `not_assay_api`: the
    URL points at some other server.
    A transport failure raises with status 0 and code `connection_failed` or `timeout`, so callers need
    one except clause, not two.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details or {}
        self.headers = headers or {}

    @property
    def run_id(self) -> str | None:
        """The conflicting run of a `409 run_exists`."""
        return self.headers.get("x-run-id")

    @property
    def retry_after(self) -> str | None:
        return self.headers.get("retry-after")


def is_assay_response(response: httpx.Response) -> bool:
    """Every answer of an Assay server carries `X-Request-Id` (its middleware adds it)."""
    return "x-request-id" in response.headers


def not_assay_error(response: httpx.Response) -> AssayError:
    try:
        server = str(response.request.url.copy_with(path="/", query=None, fragment=None))
    except RuntimeError:  # a response built without a request
        server = "the server"
    return AssayError(response.status_code, "not_assay_api",
                      f"{server} is not an Assay API (it answered HTTP {response.status_code} without Assay's "
                      "request id or error envelope); check the server URL",
                      None, {"status": response.status_code},
                      {name.lower(): value for name, value in response.headers.items()})


def error_from_response(response: httpx.Response) -> AssayError:
    headers = {name.lower(): value for name, value in response.headers.items()}
    request_id = headers.get("x-request-id")
    try:
        body = response.json()
    except ValueError:
        body = None
    envelope = body.get("error") if isinstance(body, dict) else None
    if isinstance(envelope, dict) and isinstance(envelope.get("code"), str):
        details = envelope.get("details")
        return AssayError(
            response.status_code,
            envelope["code"],
            str(envelope.get("message") or ""),
            envelope.get("request_id") or request_id,
            details if isinstance(details, dict) else {},
            headers,
        )
    if request_id is None:
        return not_assay_error(response)
    snippet = response.text.strip()[:200] or response.reason_phrase or "no body"
    return AssayError(response.status_code, f"http_{response.status_code}", snippet, request_id, {}, headers)


def error_from_transport(exc: httpx.TransportError, url: str) -> AssayError:
    code = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection_failed"
    return AssayError(NO_RESPONSE_STATUS, code, f"could not reach {url}: {exc or type(exc).__name__}")
