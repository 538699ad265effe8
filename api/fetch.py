"""SSRF-safe fetching of a URL and extraction of its readable text (SPEC §6).

How the address check cannot be bypassed: the HTTP client is httpcore with our own network
backend. Its ``connect_tcp`` resolves the host name once, rejects the request unless every
resolved address is public (or the host is on the operator allowlist), and then connects to that
validated IP itself — so a DNS answer that changes between "check" and "connect" (rebinding) never
reaches a private address. TLS still verifies the certificate against the host name, because
httpcore performs the handshake with the URL's host as server name. Redirects are followed here,
one request at a time (at most 5), and every hop goes through the same backend.

Decisions (SPEC is silent):
- The allowlist (``ASSAY_FETCH_ALLOW``) matches the host *as written in the URL*, lowercased
  (``host`` for any port, ``host:port`` for one port; IPv6 as ``[::1]`` or ``[::1]:8999``). A name
  that is not listed is checked by its resolved addresses even when it resolves to a listed IP.
- A host is refused when *any* of its resolved addresses is not public, not only the one used.
- "Public" means ``ipaddress`` says global and none of loopback, private, link-local, multicast,
  reserved, unspecified; IPv4 carried in IPv6 (mapped ``::ffff:a.b.c.d``, 6to4, NAT64
  ``64:ff9b::/96``) is judged by the embedded IPv4 address.
- One 10 s budget covers the whole fetch *and* the extraction (all redirects, connect, download,
  then trafilatura in a killable process, ``api/extractor.py``); running out of it anywhere is
  ``timeout``. A body over 5 MB is refused (``too_large``) rather than extracted from a partial
  download; an HTML page is cut to its first 20,000 elements before extraction.
- Readable text: HTML (or no content type) goes through trafilatura's main-content extraction, with
  its plain-text conversion as a fallback for pages too small for the main-content heuristics;
  ``text/*`` bodies are used as they are; anything else is ``unsupported_content_type``.
- A declared charset must name a codec that turns any bytes into text (``undecodable`` otherwise):
  an unknown name, a codec that is not a text encoding (``base64``), or one that fails on bytes
  under the ``replace`` error handler (``idna``, ``punycode``, ``undefined``) is refused rather
  than guessed, since a wrong guess would be scored as if it were the page. Without a charset, HTML
  is sniffed by trafilatura and text is read as UTF-8. Lone surrogates in decoded text (``utf-7``
  and the unicode-escape codecs produce them) become U+FFFD.
- Failure reasons (``details.reason``) are stable strings: invalid_url, scheme_not_allowed,
  address_not_allowed, dns_failed, connect_failed, timeout, too_many_redirects, http_status,
  too_large, unsupported_content_type, undecodable, no_readable_text.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import ipaddress
import re
import socket
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Iterable

import anyio
import httpcore
import httpx

from api.extractor import ExtractionFailed, extractor_pool
from engine.segment import truncate_utf8

FETCH_TIMEOUT_SECONDS = 10.0
MAX_DOWNLOAD_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
USER_AGENT = "Assay/1.0 (readable-text fetch)"

_SINGLE_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


FETCH_ALLOW_SETTING = "ASSAY_FETCH_ALLOW"


class FetchError(Exception):
    """A fetch that could not produce readable text; ``reason`` is a stable machine string."""

    def __init__(self, reason: str, message: str, **details) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details


@dataclass(frozen=True)
class FetchedContent:
    url: str
    content: str
    content_sha256: str
    fetched_at: datetime


def is_single_url(content: str) -> bool:
    """True when the whole content (ignoring surrounding whitespace) is one http(s) URL."""
    return bool(_SINGLE_URL.match(content.strip()))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(address: str) -> bool:
    """Whether connecting to this IP literal is allowed without an allowlist entry."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return is_public_address(str(inner))
    blocked = (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
               or ip.is_reserved or ip.is_unspecified)
    return ip.is_global and not blocked


def _host_entry(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def is_allowlisted(host: str, port: int, allow: Iterable[str]) -> bool:
    entry = _host_entry(host.lower())
    allowed = set(allow)
    return entry in allowed or f"{entry}:{port}" in allowed


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, validates, then connects to the validated IP (never re-resolving)."""

    def __init__(self, allow: Iterable[str]) -> None:
        self._allow = [entry.lower() for entry in allow]
        self._inner = httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise FetchError("dns_failed", f"Could not resolve host '{host}'.", host=host) from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise FetchError("dns_failed", f"Host '{host}' has no address.", host=host)
        return addresses

    async def checked_addresses(self, host: str, port: int) -> list[str]:
        """The host's addresses, or FetchError unless all are public (or the host is allowlisted)."""
        addresses = await self.resolve(host, port)
        if not is_allowlisted(host, port, self._allow):
            refused = [a for a in addresses if not is_public_address(a)]
            if refused:
                # Name the setting: a refused local page is usually a development setup to allow.
                entry = f"{_host_entry(host.lower())}:{port}"
                raise FetchError("address_not_allowed",
                                 f"Host '{host}' resolves to a non-public address; to fetch from it, add "
                                 f"'{entry}' to the server's {FETCH_ALLOW_SETTING}.",
                                 host=host, address=refused[0], allow_setting=FETCH_ALLOW_SETTING,
                                 allow_entry=entry)
        return addresses

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = await self.checked_addresses(host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise FetchError("connect_failed", f"Could not connect to '{host}'.", host=host) from last_error

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise FetchError("address_not_allowed", "Unix sockets are never fetched.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def parse_http_url(raw: str) -> httpx.URL:
    """An http(s) URL with a host, or FetchError (invalid_url, scheme_not_allowed)."""
    try:
        url = httpx.URL(raw.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError("invalid_url", "The URL could not be parsed.", url=raw[:2000]) from exc
    if url.scheme not in ("http", "https"):
        raise FetchError("scheme_not_allowed", "Only http and https URLs are fetched.",
                         url=raw[:2000], scheme=url.scheme)
    if not url.host:
        raise FetchError("invalid_url", "The URL has no host.", url=raw[:2000])
    return url


@dataclass
class _Body:
    data: bytes
    content_type: str | None
    charset: str | None


def _content_type(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    for name, value in headers:
        if name.lower() == b"content-type":
            message = Message()
            message["content-type"] = value.decode("latin-1")
            charset = message.get_param("charset")
            # An RFC 2231 parameter (charset*=utf-8''name) comes back as a tuple.
            return message.get_content_type(), None if charset is None else collapse_rfc2231_value(charset)
    return None, None


def _location(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"location":
            return value.decode("latin-1")
    return None


async def _download(pool: httpcore.AsyncConnectionPool, start: httpx.URL) -> tuple[httpx.URL, _Body]:
    url = start
    timeouts = {"connect": FETCH_TIMEOUT_SECONDS, "read": FETCH_TIMEOUT_SECONDS,
                "write": FETCH_TIMEOUT_SECONDS, "pool": FETCH_TIMEOUT_SECONDS}
    headers = [(b"User-Agent", USER_AGENT.encode()),
               (b"Accept", b"text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1")]
    for _hop in range(MAX_REDIRECTS + 1):
        request_url = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                                   target=url.raw_path)
        async with pool.stream("GET", request_url, headers=headers,
                               extensions={"timeout": timeouts}) as response:
            if response.status in REDIRECT_STATUSES:
                location = _location(response.headers)
                if not location:
                    raise FetchError("http_status", "A redirect came without a Location.",
                                     status=response.status)
                url = parse_http_url(str(url.join(location)))
                continue
            if response.status >= 400:
                raise FetchError("http_status", f"The server answered {response.status}.",
                                 status=response.status)
            content_type, charset = _content_type(response.headers)
            chunks, size = [], 0
            async for chunk in response.aiter_stream():
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise FetchError("too_large", "The document is larger than the download cap.",
                                     max_bytes=MAX_DOWNLOAD_BYTES)
                chunks.append(chunk)
            return url, _Body(b"".join(chunks), content_type, charset)
    raise FetchError("too_many_redirects", f"More than {MAX_REDIRECTS} redirects.",
                     max_redirects=MAX_REDIRECTS)


@functools.lru_cache(maxsize=256)
def _text_codec(charset: str) -> str | None:
    """The codec for a declared charset, or None when it cannot turn bytes into text.

    A codec is usable when Python knows the name, calls it a text encoding, and decodes every byte
    value to a str under the ``replace`` handler — which every real charset does, while ``idna``,
    ``punycode`` and ``undefined`` raise (UnicodeError, not LookupError) and ``base64`` is bytes to
    bytes."""
    try:
        info = codecs.lookup(charset)
        if not getattr(info, "_is_text_encoding", True):
            return None
        with warnings.catch_warnings():  # unicode-escape warns about the probe's invalid escapes
            warnings.simplefilter("ignore")
            probe = codecs.decode(bytes(range(256)), info.name, "replace")
    except (LookupError, UnicodeError, TypeError, ValueError):
        return None
    return info.name if isinstance(probe, str) else None


def _well_formed(text: str) -> str:
    """``text`` with lone surrogates (which utf-7 and the unicode-escape codecs decode to, as may a
    sniffed encoding) replaced by U+FFFD: readable text is hashed, embedded and sent as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _decode(body: _Body) -> str:
    codec = _text_codec(body.charset) if body.charset else "utf-8"
    if codec is None:
        raise FetchError("undecodable", "The page declares a charset that cannot decode it.",
                         charset=body.charset[:100])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _well_formed(body.data.decode(codec, errors="replace"))


async def _readable_text(body: _Body) -> str:
    """Main text of an HTML page (in an extractor process), or the body itself for text/*."""
    kind = body.content_type
    if kind is None or kind in ("text/html", "application/xhtml+xml"):
        html = _decode(body) if body.charset else body.data
        try:
            text, _cut = await extractor_pool().extract(html)
        except ExtractionFailed as exc:
            raise FetchError("no_readable_text", "The page's text could not be extracted.") from exc
        return _well_formed(text)
    if kind.startswith("text/"):
        return _decode(body).strip()
    raise FetchError("unsupported_content_type", f"Content of type '{kind}' has no readable text.",
                     content_type=kind)


async def _fetch(start: httpx.URL, allow: Iterable[str]) -> _Body:
    pool = httpcore.AsyncConnectionPool(network_backend=GuardedBackend(allow), max_connections=2,
                                        retries=0)
    try:
        _final_url, body = await _download(pool, start)
        return body
    except httpcore.TimeoutException as exc:
        raise FetchError("timeout", "The server was too slow to answer.",
                         seconds=FETCH_TIMEOUT_SECONDS) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise FetchError("connect_failed", "The connection failed before the document arrived.") from exc
    finally:
        await pool.aclose()


async def check_target(raw_url: str, allow: Iterable[str]) -> httpx.URL:
    """The parsed URL if every address its host resolves to now may be contacted (the rules of a
    fetch); FetchError otherwise. Connections still go through ``GuardedBackend``, which checks
    again, so an answer that changes later (DNS rebinding) is caught there."""
    url = parse_http_url(raw_url)
    with anyio.fail_after(FETCH_TIMEOUT_SECONDS):
        await GuardedBackend(allow).checked_addresses(url.host, url.port or (443 if url.scheme == "https" else 80))
    return url


async def fetch_readable(raw_url: str, allow: Iterable[str]) -> FetchedContent:
    """Fetch ``raw_url`` safely and return its readable text (truncated to 50 KB), all within
    ``FETCH_TIMEOUT_SECONDS``."""
    start = parse_http_url(raw_url)
    fetched_at = datetime.now(timezone.utc)
    try:
        with anyio.fail_after(FETCH_TIMEOUT_SECONDS):
            text = await _readable_text(await _fetch(start, allow))
    except TimeoutError as exc:
        raise FetchError("timeout", "Fetching and extracting the page took longer than the time limit.",
                         seconds=FETCH_TIMEOUT_SECONDS) from exc
    text = truncate_utf8(text)
    if not text.strip():
        raise FetchError("no_readable_text", "The page has no readable text.")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return FetchedContent(url=raw_url, content=text, content_sha256=digest, fetched_at=fetched_at)
