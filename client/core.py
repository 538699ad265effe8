"""One table of `/v1` operations shared by the sync and the async client.

Each method turns its arguments into a `Call` (method, path, query, body, accept) and hands it to the
concrete client's `_json` or `_text`, which sends it. The sync client returns the decoded value; the
async one returns an awaitable of it. That is all the difference, so the operations are written once.

Decisions (the spec is silent on the client):
- Results are the wire JSON as plain dicts; the shapes are the ones documented in the OpenAPI schema.
- Optional arguments left as None are not sent, so the server's defaults apply. PATCH methods use the
  `UNSET` sentinel instead, because there an explicit null is meaningful (e.g. a retention policy of
  null means "the defaults").
- `base_url` is the server root; a trailing `/v1` is tolerated and stripped.
- A `429 rate_limited` answer is sent again after its `Retry-After` (seconds or an HTTP date; 1 s
  when absent), as long as the waits of that one call add up to at most `max_retry_wait` (60 s by
  default); then the 429 is raised. Resending is safe for every method: the limiter refuses a
  request before any route runs.
- The server advertises its request body limit in the `X-Max-Body-Bytes` header of every answer;
  the client keeps the last value seen in `max_body_bytes`, so callers size batches to it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from client.errors import AssayError, error_from_response, is_assay_response, not_assay_error

USER_AGENT = "assay-client/0.1"
JSON = "application/json"
MAX_BODY_HEADER = "x-max-body-bytes"
DEFAULT_MAX_RETRY_WAIT = 60.0  # seconds one call may spend waiting out 429s before it gives up
DEFAULT_RETRY_AFTER = 1.0  # a 429 without a usable Retry-After

JsonResult = TypeVar("JsonResult")  # dict for the sync client, Awaitable[dict] for the async one
TextResult = TypeVar("TextResult")  # str for the sync client, Awaitable[str] for the async one


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Call:
    """One HTTP request, described without sending it."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = UNSET
    content: str | None = None
    content_type: str | None = None
    accept: str = JSON


def segment(value: str | int) -> str:
    """A path segment, percent-encoded; `@` stays readable for pinned handles (`acme.tone@v3`)."""
    return quote(str(value), safe="@")


def model_path(handle: str, *rest: str | int) -> str:
    return "/".join(["/v1/models", segment(handle), *(segment(part) for part in rest)])


def present(**values: Any) -> dict[str, Any]:
    """The arguments that were given: None means "leave it to the server"."""
    return {name: value for name, value in values.items() if value is not None}


def given(**values: Any) -> dict[str, Any]:
    """The PATCH fields that were given: UNSET means "do not touch", None is sent as null."""
    return {name: value for name, value in values.items() if value is not UNSET}


def normalise_base_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def auth_headers(api_key: str | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def build_request(http: httpx.Client | httpx.AsyncClient, base_url: str, api_key: str | None,
                  call: Call) -> httpx.Request:
    headers = auth_headers(api_key) | {"Accept": call.accept}
    kwargs: dict[str, Any] = {}
    if call.json is not UNSET:
        kwargs["json"] = call.json
    elif call.content is not None:
        kwargs["content"] = call.content.encode("utf-8")
        headers["Content-Type"] = call.content_type or "text/plain; charset=utf-8"
    return http.build_request(call.method, base_url + call.path, params=call.params or None,
                              headers=headers, **kwargs)


def retry_after_seconds(value: str | None) -> float:
    """`Retry-After` as seconds to wait: a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())
    return DEFAULT_RETRY_AFTER


def retry_delay(response: httpx.Response, waited: float, max_wait: float) -> float | None:
    """Seconds to wait before sending a rate-limited request again; None when it must not be retried
    (not a 429, or the wait would take this call past ``max_wait`` seconds in all)."""
    if response.status_code != 429:
        return None
    delay = retry_after_seconds(response.headers.get("retry-after"))
    return delay if waited + delay <= max_wait else None


def advertised_body_limit(response: httpx.Response) -> int | None:
    value = response.headers.get(MAX_BODY_HEADER, "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def decode_json(response: httpx.Response) -> dict[str, Any]:
    if not response.is_success:
        raise error_from_response(response)
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError as exc:
        if not is_assay_response(response):
            raise not_assay_error(response) from exc
        raise AssayError(response.status_code, "invalid_response", "the server answered with something that "
                         "is not JSON", response.headers.get("x-request-id")) from exc
    return body


def decode_text(response: httpx.Response) -> str:
    if not response.is_success:
        raise error_from_response(response)
    return response.text


class Endpoints(ABC, Generic[JsonResult, TextResult]):
    """Every `/v1` operation of SPEC §3. Handles are `<namespace>.<name>`; score and compare also take
    `handle@vN` or `handle@tag`."""

    @abstractmethod
    def _json(self, call: Call) -> JsonResult: ...

    @abstractmethod
    def _text(self, call: Call) -> TextResult: ...

    # --- service ---------------------------------------------------------------------------------
    def health(self) -> JsonResult:
        return self._json(Call("GET", "/v1/health"))

    # --- models ----------------------------------------------------------------------------------
    def list_models(self, *, namespace: str | None = None, state: str | None = None, kind: str | None = None,
                    limit: int | None = None, cursor: str | None = None) -> JsonResult:
        params = present(namespace=namespace, state=state, kind=kind, limit=limit, cursor=cursor)
        return self._json(Call("GET", "/v1/models", params=params))

    def create_model(self, handle: str, *, description: str | None = None, scoring_method: str | None = None,
                     max_depth: int | None = None, kind: str | None = None, additional_terms: str | None = None,
                     upstream_sources: Sequence[Mapping[str, Any]] | None = None,
                     readme_markdown: str | None = None, zero_data_retention: bool | None = None,
                     retrain_gate: bool | None = None) -> JsonResult:
        body = {"handle": handle} | present(
            description=description, scoring_method=scoring_method, max_depth=max_depth, kind=kind,
            additional_terms=additional_terms,
            upstream_sources=None if upstream_sources is None else [dict(s) for s in upstream_sources],
            readme_markdown=readme_markdown, zero_data_retention=zero_data_retention, retrain_gate=retrain_gate)
        return self._json(Call("POST", "/v1/models", json=body))

    def get_model(self, handle: str) -> JsonResult:
        return self._json(Call("GET", model_path(handle)))

    def model_card(self, handle: str) -> TextResult:
        """The model card as markdown."""
        return self._text(Call("GET", model_path(handle), accept="text/markdown"))

    def update_model(self, handle: str, *, description: Any = UNSET, scoring_method: Any = UNSET,
                     max_depth: Any = UNSET, additional_terms: Any = UNSET, upstream_sources: Any = UNSET,
                     readme_markdown: Any = UNSET, zero_data_retention: Any = UNSET,
                     version_retention_policy: Any = UNSET, retrain_gate: Any = UNSET) -> JsonResult:
        body = given(description=description, scoring_method=scoring_method, max_depth=max_depth,
                     additional_terms=additional_terms, upstream_sources=upstream_sources,
                     readme_markdown=readme_markdown, zero_data_retention=zero_data_retention,
                     version_retention_policy=version_retention_policy, retrain_gate=retrain_gate)
        return self._json(Call("PATCH", model_path(handle), json=body))

    def delete_model(self, handle: str) -> JsonResult:
        """Archive the model (idempotent)."""
        return self._json(Call("DELETE", model_path(handle)))

    # --- traits ----------------------------------------------------------------------------------
    def list_traits(self, handle: str) -> JsonResult:
        return self._json(Call("GET", model_path(handle, "traits")))

    def upsert_traits(self, handle: str, traits: Sequence[Mapping[str, Any]]) -> JsonResult:
        """Add or replace traits by key; answers with all the model's traits."""
        return self._json(Call("POST", model_path(handle, "traits"), json={"traits": [dict(t) for t in traits]}))

    def get_trait(self, handle: str, key: str) -> JsonResult:
        return self._json(Call("GET", model_path(handle, "traits", key)))

    def update_trait(self, handle: str, key: str, *, name: Any = UNSET, description: Any = UNSET,
                     positive_label: Any = UNSET, negative_label: Any = UNSET,
                     aggregation: Any = UNSET) -> JsonResult:
        body = given(name=name, description=description, positive_label=positive_label,
                     negative_label=negative_label, aggregation=aggregation)
        return self._json(Call("PATCH", model_path(handle, "traits", key), json=body))

    def delete_trait(self, handle: str, key: str) -> JsonResult:
        return self._json(Call("DELETE", model_path(handle, "traits", key)))

    def discover_traits(self, handle: str, *, effort: str | None = None) -> JsonResult:
        return self._json(Call("POST", model_path(handle, "traits", "discover"), json=present(effort=effort)))

    # --- samples ---------------------------------------------------------------------------------
    def add_samples(self, handle: str, samples: Sequence[Mapping[str, Any]]) -> JsonResult:
        """Append 1–500 samples; answers `{ids}` in input order."""
        return self._json(Call("POST", model_path(handle, "samples"), json={"samples": [dict(s) for s in samples]}))

    def list_samples(self, handle: str, *, trait: str | None = None, limit: int | None = None,
                     cursor: str | None = None) -> JsonResult:
        params = present(trait=trait, limit=limit, cursor=cursor)
        return self._json(Call("GET", model_path(handle, "samples"), params=params))

    def delete_sample(self, handle: str, sample_id: int | str) -> JsonResult:
        return self._json(Call("DELETE", model_path(handle, "samples", sample_id)))

    def synthesize_samples(self, handle: str, *, synth_type: str | None = None,
                           effort: str | None = None) -> JsonResult:
        body = present(synth_type=synth_type, effort=effort)
        return self._json(Call("POST", model_path(handle, "samples", "synthesize"), json=body))

    # --- training and scoring --------------------------------------------------------------------
    def train(self, handle: str, *, effort: str | None = None, reoptimize_params: bool | None = None) -> JsonResult:
        body = present(effort=effort, reoptimize_params=reoptimize_params)
        return self._json(Call("POST", model_path(handle, "train"), json=body))

    def score(self, handle: str, content: str, *, traits: Sequence[str] | None = None,
              feedback: Mapping[str, str | float] | None = None) -> JsonResult:
        body = {"content": content} | present(traits=None if traits is None else list(traits),
                                              feedback=None if feedback is None else dict(feedback))
        return self._json(Call("POST", model_path(handle, "score"), json=body))

    def score_plain(self, handle: str, text: str) -> JsonResult:
        """Score a raw `text/plain` body (the curl convenience); answers the JSON score card."""
        return self._json(Call("POST", model_path(handle, "score"), content=text))

    def score_rendered(self, handle: str, content: str, *, traits: Sequence[str] | None = None) -> TextResult:
        """The score card as the server's text bar chart."""
        body = {"content": content} | present(traits=None if traits is None else list(traits))
        return self._text(Call("POST", model_path(handle, "score"), json=body, accept="text/plain"))

    def score_batch(self, handle: str, items: Sequence[str | Mapping[str, str]], *,
                    traits: Sequence[str] | None = None) -> JsonResult:
        """Score 1–256 texts in one call (`{"items": [{id, result} | {id, error}], "metadata"}`, in input
        order). An item is a text, or `{"id": …, "content": …}`; a text's id is its index."""
        body = {"items": [{"content": item} if isinstance(item, str) else dict(item) for item in items]} \
            | present(traits=None if traits is None else list(traits))
        return self._json(Call("POST", model_path(handle, "score", "batch"), json=body))

    def compare(self, handle: str, a: str, b: str, *, traits: Sequence[str] | None = None) -> JsonResult:
        body = {"a": a, "b": b} | present(traits=None if traits is None else list(traits))
        return self._json(Call("POST", model_path(handle, "compare"), json=body))

    def compare_rendered(self, handle: str, a: str, b: str, *, traits: Sequence[str] | None = None) -> TextResult:
        body = {"a": a, "b": b} | present(traits=None if traits is None else list(traits))
        return self._text(Call("POST", model_path(handle, "compare"), json=body, accept="text/plain"))

    def extract(self, url: str) -> JsonResult:
        return self._json(Call("POST", "/v1/extract", json={"url": url}))

    # --- score jobs (SPEC §9.2) -------------------------------------------------------------------
    def start_score_job(self, handle: str, items: Sequence[Mapping[str, Any]], *,
                        traits: Sequence[str] | None = None) -> JsonResult:
        """Start a background job over `items` (`{id?, content}` each); answers `{job_id, state}`."""
        body = {"items": [dict(item) for item in items]} | present(traits=None if traits is None else list(traits))
        return self._json(Call("POST", model_path(handle, "score-jobs"), json=body))

    def start_score_job_ndjson(self, handle: str, ndjson: str, *, traits: Sequence[str] | None = None) -> JsonResult:
        """Start a job from NDJSON text, one `{id?, content}` object per line (a data file as it is)."""
        return self._json(Call("POST", model_path(handle, "score-jobs"), content=ndjson,
                               content_type="application/x-ndjson",
                               params=present(traits=None if traits is None else list(traits))))

    def get_score_job(self, job_id: str) -> JsonResult:
        return self._json(Call("GET", f"/v1/score-jobs/{segment(job_id)}"))

    def list_score_jobs(self, handle: str, *, limit: int | None = None, cursor: str | None = None) -> JsonResult:
        return self._json(Call("GET", model_path(handle, "score-jobs"), params=present(limit=limit, cursor=cursor)))

    def score_job_results(self, job_id: str, *, limit: int | None = None, cursor: str | None = None) -> JsonResult:
        """One page of results in input order (the job must have finished)."""
        return self._json(Call("GET", f"/v1/score-jobs/{segment(job_id)}/results",
                               params=present(limit=limit, cursor=cursor)))

    def cancel_score_job(self, job_id: str) -> JsonResult:
        return self._json(Call("POST", f"/v1/score-jobs/{segment(job_id)}/cancel"))

    # --- evaluations (SPEC §9.5) ------------------------------------------------------------------
    def start_evaluation(self, handle: str, items: Sequence[Mapping[str, Any]], *,
                         versions: Sequence[str] | None = None) -> JsonResult:
        """Evaluate labelled items (samples-file lines: `content` plus a label per trait) against 1 or 2
        versions (default: the active one); answers `{evaluation_id, state, versions, jobs}`."""
        body = {"items": [dict(item) for item in items]} | present(
            versions=None if versions is None else list(versions))
        return self._json(Call("POST", model_path(handle, "evaluations"), json=body))

    def start_evaluation_ndjson(self, handle: str, ndjson: str, *,
                                versions: Sequence[str] | None = None) -> JsonResult:
        """Start an evaluation from NDJSON text, one labelled item per line (a samples file as it is)."""
        return self._json(Call("POST", model_path(handle, "evaluations"), content=ndjson,
                               content_type="application/x-ndjson",
                               params=present(versions=None if versions is None else list(versions))))

    def get_evaluation(self, evaluation_id: str) -> JsonResult:
        """State, progress and, once it succeeded, the report."""
        return self._json(Call("GET", f"/v1/evaluations/{segment(evaluation_id)}"))

    def list_evaluations(self, handle: str, *, limit: int | None = None, cursor: str | None = None) -> JsonResult:
        return self._json(Call("GET", model_path(handle, "evaluations"), params=present(limit=limit, cursor=cursor)))

    # --- versions --------------------------------------------------------------------------------
    def list_versions(self, handle: str, *, limit: int | None = None, cursor: str | None = None) -> JsonResult:
        return self._json(Call("GET", model_path(handle, "versions"), params=present(limit=limit, cursor=cursor)))

    def get_version(self, handle: str, version: str) -> JsonResult:
        """One version by `vN` or tag."""
        return self._json(Call("GET", model_path(handle, "versions", version)))

    def tag_version(self, handle: str, name: str) -> JsonResult:
        """Pin tag `name` to the active version."""
        return self._json(Call("POST", model_path(handle, "versions", name)))

    def untag_version(self, handle: str, name: str) -> JsonResult:
        return self._json(Call("DELETE", model_path(handle, "versions", name)))

    def activate_version(self, handle: str, *, version: str | None = None, tag: str | None = None) -> JsonResult:
        """Re-point the active version by `version="vN"` or `tag` (the server wants exactly one)."""
        body = present(version=version, tag=tag)
        return self._json(Call("PUT", model_path(handle, "versions", "active"), json=body))

    # --- runs ------------------------------------------------------------------------------------
    def list_runs(self, handle: str, *, limit: int | None = None, cursor: str | None = None) -> JsonResult:
        """The model's runs, newest first (owner keys only)."""
        return self._json(Call("GET", model_path(handle, "runs"), params=present(limit=limit, cursor=cursor)))

    def get_run(self, run_id: str) -> JsonResult:
        """One run with its live progress and its events."""
        return self._json(Call("GET", f"/v1/runs/{segment(run_id)}"))

    def cancel_run(self, run_id: str) -> JsonResult:
        """Ask for the run to be cancelled; the answer is the run (409 `run_finished` once it ended)."""
        return self._json(Call("POST", f"/v1/runs/{segment(run_id)}/cancel"))


def page_items(page: Mapping[str, Any]) -> tuple[list[Any], str | None]:
    """The items of a page and the cursor of the next one; a repeated cursor would loop forever."""
    return list(page.get("items") or []), page.get("next_cursor")
