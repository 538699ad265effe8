"""POST /v1/extract: fetch a URL safely and return its readable text (SPEC §6)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import KeyDep, SettingsDep
from api.errors import ApiError
from api.fetch import FetchError, fetch_readable
from api.schemas.extract import ExtractRequest, ExtractResponse

router = APIRouter(tags=["scoring"])


def fetch_failed(error: FetchError) -> ApiError:
    return ApiError(422, "fetch_failed", error.message, {"reason": error.reason, **error.details})


async def fetch_or_fail(url: str, allow: list[str]):
    """The fetched content, or the 422 fetch_failed envelope with the reason in details."""
    try:
        return await fetch_readable(url, allow)
    except FetchError as error:
        raise fetch_failed(error) from error


@router.post("/extract", response_model=ExtractResponse, summary="Fetch a page's readable text")
async def extract(body: ExtractRequest, principal: KeyDep, settings: SettingsDep) -> ExtractResponse:
    """Any key may extract. The page is fetched with private addresses refused (unless the operator
    allowlisted the host), redirects re-checked, and its main text cut at 50 KB."""
    fetched = await fetch_or_fail(body.url, settings.fetch_allow_list)
    return ExtractResponse(url=fetched.url, content=fetched.content,
                           content_sha256=fetched.content_sha256, fetched_at=fetched.fetched_at)
