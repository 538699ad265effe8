"""Pages built to hurt the fetcher, served from a real local web server (allowlisted on 127.0.0.1).

A declared charset that is not a usable text encoding is `fetch_failed` with reason `undecodable`
(it was a 500). Fetch and extraction share one time budget, enforced by killing the extractor
process (`timeout`): a huge table, a table that drips in until the download budget is nearly
spent, or three huge tables at once are all answered within the budget, and the pool of extractor
processes recovers afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from urllib.parse import urlencode

import pytest

from api import fetch
from api.app import create_app
from api.extractor import EXTRACT_WORKERS, close_extractor_pool, extractor_pool
from api.fetch import FETCH_TIMEOUT_SECONDS, FetchError, fetch_readable
from tests.api.local_site import ARTICLE_TEXT, fetching_http, local_site  # noqa: F401 (fixtures)
from tests.lifespan import serving

UNUSABLE_CHARSETS = ["idna", "punycode", "undefined", "x-no-such-charset", "base64", "rot13"]
PAGE_TYPES = ["text/plain", "text/html"]
MARGIN_SECONDS = 5.0  # answering after the budget ends: killing a process, writing the envelope
CLIENT_TIMEOUT = 120.0  # far past any answer the tests accept, so a hang shows as a failed bound


def _labelled(local_site, kind: str, charset: str, path: str = "/charset") -> str:
    return local_site.url(f"{path}?{urlencode({'type': kind, 'charset': charset})}")


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _assert_fetch_failed(response, reason: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "fetch_failed"
    assert error["details"]["reason"] == reason


def _assert_answered(response) -> None:
    """A huge page is either extracted (cut to the element cap) or out of time — never a 500."""
    if response.status_code == 200:
        assert response.json()["content"].strip()
    else:
        _assert_fetch_failed(response, "timeout")


async def _reason(url: str, allow: list[str]) -> str:
    with pytest.raises(FetchError) as caught:
        await fetch_readable(url, allow)
    return caught.value.reason


@pytest.fixture(scope="module")
async def world(make_world):
    return await make_world()


# --- charsets ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", PAGE_TYPES)
@pytest.mark.parametrize("charset", UNUSABLE_CHARSETS)
async def test_an_unusable_charset_on_extract_is_undecodable(fetching_http, local_site, owner, charset, kind):
    response = await fetching_http.post("/v1/extract", json={"url": _labelled(local_site, kind, charset)},
                                        headers=owner["headers"])
    _assert_fetch_failed(response, "undecodable")
    assert response.json()["error"]["details"]["charset"] == charset


@pytest.mark.parametrize("kind", PAGE_TYPES)
@pytest.mark.parametrize("charset", UNUSABLE_CHARSETS)
async def test_an_unusable_charset_on_score_by_url_is_undecodable(fetching_http, local_site, world, charset, kind):
    response = await fetching_http.post(f"/v1/models/{world.ready}/score",
                                        json={"content": _labelled(local_site, kind, charset)},
                                        headers=world.owner["headers"])
    _assert_fetch_failed(response, "undecodable")


@pytest.mark.parametrize("charset", ["utf-8", "ISO-8859-1", "windows-1252", "latin1", "shift_jis", "koi8-r"])
async def test_real_charsets_decode_also_as_rfc2231_parameters(local_site, charset):
    # charset*=utf-8''name comes out of the header parser as a tuple (it was a 500).
    allow = [local_site.allow_entry]
    for path in ("/charset", "/charset-rfc2231"):
        fetched = await fetch_readable(_labelled(local_site, "text/html", charset, path), allow)
        assert ARTICLE_TEXT in fetched.content
    assert await _reason(_labelled(local_site, "text/plain", "idna", "/charset-rfc2231"), allow) == "undecodable"


@pytest.mark.parametrize("kind", PAGE_TYPES)
@pytest.mark.parametrize("charset", ["utf-7", "unicode_escape", "raw_unicode_escape"])
async def test_a_lone_surrogate_from_the_decoder_becomes_a_replacement_character(fetching_http, local_site,
                                                                               owner, charset, kind):
    response = await fetching_http.post("/v1/extract",
                                        json={"url": _labelled(local_site, kind, charset, "/lone-surrogate")},
                                        headers=owner["headers"])
    assert response.status_code == 200, response.text
    content = response.json()["content"]
    assert ARTICLE_TEXT in content
    assert "\ufffd" in content


# --- the time budget ----------------------------------------------------------------------------

async def test_a_huge_table_is_answered_within_the_budget_and_its_process_is_gone(fetching_http, local_site, owner):
    await close_extractor_pool()  # a fresh pool: the process started for the table is the only one
    started = time.monotonic()
    response = await fetching_http.post("/v1/extract", json={"url": local_site.url("/huge-table")},
                                        headers=owner["headers"], timeout=CLIENT_TIMEOUT)
    assert time.monotonic() - started < FETCH_TIMEOUT_SECONDS + MARGIN_SECONDS
    _assert_answered(response)
    assert extractor_pool().pids == []  # killed at the deadline, or replaced after an oversized page
    after = await fetching_http.post("/v1/extract", json={"url": local_site.url("/article")},
                                     headers=owner["headers"])
    assert after.status_code == 200 and ARTICLE_TEXT in after.json()["content"]


async def test_three_huge_tables_at_once_do_not_queue_past_the_budget(fetching_http, local_site, owner):
    await close_extractor_pool()
    pool, most, done = extractor_pool(), 0, asyncio.Event()

    async def count_processes() -> None:
        nonlocal most
        while not done.is_set():
            most = max(most, len(pool.pids))
            await asyncio.sleep(0.02)

    async def one():
        response = await fetching_http.post("/v1/extract", json={"url": local_site.url("/huge-table")},
                                            headers=owner["headers"], timeout=CLIENT_TIMEOUT)
        return response, time.monotonic() - started

    counter = asyncio.create_task(count_processes())
    started = time.monotonic()
    results = await asyncio.gather(one(), one(), one())
    done.set()
    await counter
    for response, elapsed in results:
        assert elapsed < FETCH_TIMEOUT_SECONDS + MARGIN_SECONDS
        _assert_answered(response)
    assert 1 <= most <= EXTRACT_WORKERS  # the third page waited for a slot instead of a third process


async def test_a_page_that_drips_in_is_extracted_in_what_is_left_of_the_budget(fetching_http, local_site, owner):
    # The huge table trickles in until the download has nearly used the budget; extracting it must
    # fit in what is left (it took 50 s more before). Out of time is the likely answer, not the only one.
    started = time.monotonic()
    response = await fetching_http.post("/v1/extract", json={"url": local_site.url("/drip-table")},
                                        headers=owner["headers"], timeout=CLIENT_TIMEOUT)
    assert time.monotonic() - started < FETCH_TIMEOUT_SECONDS + MARGIN_SECONDS
    _assert_answered(response)
    after = await fetching_http.post("/v1/extract", json={"url": local_site.url("/article")},
                                     headers=owner["headers"])
    assert after.status_code == 200


async def test_an_extraction_past_the_budget_kills_its_process(local_site, monkeypatch):
    allow, article = [local_site.allow_entry], local_site.url("/article")
    await close_extractor_pool()
    await fetch_readable(article, allow)
    pool = extractor_pool()
    [stuck] = pool.pids
    os.kill(stuck, signal.SIGSTOP)  # it will never answer its next job
    monkeypatch.setattr(fetch, "FETCH_TIMEOUT_SECONDS", 2.0)
    started = time.monotonic()
    assert await _reason(article, allow) == "timeout"
    assert time.monotonic() - started < 2.0 + MARGIN_SECONDS
    assert not _is_alive(stuck)
    assert ARTICLE_TEXT in (await fetch_readable(article, allow)).content
    assert len(pool.pids) == 1 and stuck not in pool.pids


async def test_extractor_processes_end_with_the_app(settings, temporal_env, local_site):
    allowed = settings.model_copy(update={"fetch_allow": local_site.allow_entry})
    async with serving(create_app(allowed, temporal_client=temporal_env.client)):
        await fetch_readable(local_site.url("/article"), [local_site.allow_entry])
        pids = extractor_pool().pids
        assert pids
    assert not any(_is_alive(pid) for pid in pids)
