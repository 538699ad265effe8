"""The fetcher refuses every address that is not public, after DNS and on every redirect."""

from __future__ import annotations

import pytest

from api.fetch import MAX_REDIRECTS, FetchError, fetch_readable, is_public_address, is_single_url
from tests.api.local_site import ARTICLE_TEXT, fetching_http, local_site  # noqa: F401 (fixtures)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "224.0.0.1", "0.0.0.0", "240.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fc00::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1",
])
def test_non_public_addresses_are_refused(address):
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert is_public_address(address)


@pytest.mark.parametrize("content,expected", [
    ("https://example.com/a", True), ("  http://example.com/a?b=1  \n", True),
    ("HTTPS://EXAMPLE.COM", True), ("see https://example.com", False),
    ("https://a.com https://b.com", False), ("ftp://example.com", False), ("plain words", False),
])
def test_single_url_detection(content, expected):
    assert is_single_url(content) is expected


async def _reason(url: str, allow: list[str] | None = None) -> str:
    with pytest.raises(FetchError) as caught:
        await fetch_readable(url, allow or [])
    return caught.value.reason


@pytest.mark.parametrize("url,reason", [
    ("http://127.0.0.1/", "address_not_allowed"),
    ("http://10.0.0.1/", "address_not_allowed"),
    ("http://169.254.169.254/latest/meta-data/", "address_not_allowed"),
    ("http://[::1]/", "address_not_allowed"),
    ("http://[::ffff:127.0.0.1]/", "address_not_allowed"),
    ("http://0.0.0.0/", "address_not_allowed"),
    ("file:///etc/passwd", "scheme_not_allowed"),
    ("gopher://127.0.0.1/", "scheme_not_allowed"),
    ("http:///no-host", "invalid_url"),
])
async def test_refused_urls(url, reason):
    assert await _reason(url) == reason


async def test_a_name_that_resolves_to_loopback_is_refused(local_site):
    # The IP is allowlisted, but the name is not: the check runs on what `localhost` resolves to.
    assert await _reason(f"http://localhost:{local_site.port}/article", [local_site.allow_entry]) \
        == "address_not_allowed"


async def test_loopback_without_allowlist_is_refused(local_site):
    assert await _reason(local_site.url("/article")) == "address_not_allowed"


@pytest.mark.parametrize("path", ["/to-private", "/to-metadata", "/to-loopback-name"])
async def test_redirects_to_private_addresses_are_refused(local_site, path):
    assert await _reason(local_site.url(path), [local_site.allow_entry]) == "address_not_allowed"


async def test_redirects_are_followed_up_to_the_limit(local_site):
    fetched = await fetch_readable(local_site.url(f"/hops/{MAX_REDIRECTS - 1}"), [local_site.allow_entry])
    assert "Clear writing respects the reader." in fetched.content
    assert await _reason(local_site.url(f"/hops/{MAX_REDIRECTS}"), [local_site.allow_entry]) \
        == "too_many_redirects"


async def test_download_cap_stops_the_transfer(local_site):
    assert await _reason(local_site.url("/big"), [local_site.allow_entry]) == "too_large"


async def test_error_status_and_unreadable_types_fail(local_site):
    allow = [local_site.allow_entry]
    assert await _reason(local_site.url("/missing"), allow) == "http_status"
    assert await _reason(local_site.url("/image"), allow) == "unsupported_content_type"


async def test_allowlisted_html_page_is_extracted(local_site):
    fetched = await fetch_readable(local_site.url("/article"), [local_site.allow_entry])
    assert ARTICLE_TEXT in fetched.content
    assert "Copyright footer text" not in fetched.content  # boilerplate is left out


async def test_unresolvable_name_fails_cleanly():
    assert await _reason("http://no-such-host.invalid/") == "dns_failed"


async def test_extract_endpoint_refuses_private_addresses(fetching_http, owner):
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]:8080/", "file:///etc/passwd"):
        response = await fetching_http.post("/v1/extract", json={"url": url}, headers=owner["headers"])
        assert response.status_code == 422, url
        error = response.json()["error"]
        assert error["code"] == "fetch_failed"
        assert error["details"]["reason"] in ("address_not_allowed", "scheme_not_allowed")
