"""A real HTTP server on 127.0.0.1 for the URL-content tests (the network here is loopback only),
and an app whose fetch allowlist opens exactly that server."""

from __future__ import annotations

import http.server
import threading
import time
from functools import cache
from urllib.parse import parse_qs

import httpx
import pytest

from tests.lifespan import serving

ARTICLE_TEXT = (
    "Clear writing respects the reader. Every sentence in a good explanation carries one idea, "
    "uses familiar words, and leads naturally to the next. Short paragraphs give the eye a place "
    "to rest, and concrete examples turn abstract rules into something a reader can picture. "
    "When a writer cuts the filler, the argument that remains is easier to follow and to trust."
)
ARTICLE_HTML = f"""<!doctype html><html><head><title>On clear writing</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About</a> | <a href="/shop">Shop</a></nav>
<article><h1>On clear writing</h1><p>{ARTICLE_TEXT}</p></article>
<footer>Copyright footer text</footer></body></html>"""
BIG_BODY_BYTES = 6 * 1024 * 1024
HUGE_TABLE_BYTES = 5 * 1024 * 1024 - 4096  # just under the download cap
DRIP_SECONDS = 9.8  # just inside the 10 s fetch budget


@cache
def huge_table() -> bytes:
    """A 5 MB table of one-letter cells (about 930,000 elements; end tags are optional in HTML).
    trafilatura needs 50 s for it on an idle 2-core machine, 16 s with closed tags."""
    head, tail = b"<!doctype html><html><body><table>", b"</table></body></html>"
    row = b"<tr><td>a<td>b<td>c<td>d<td>e<td>f<td>g<td>h\n"
    return head + row * ((HUGE_TABLE_BYTES - len(head) - len(tail)) // len(row)) + tail


# A small article with one byte outside ASCII, served under hostile charset labels.
LABELLED_PAGE = f"<html><body><article><p>{ARTICLE_TEXT} Caf\u00e9.</p></article></body></html>".encode("latin-1")
# A lone surrogate (U+D800), which these codecs decode to but UTF-8 cannot carry.
LONE_SURROGATE = {"utf-7": b"+2AA-", "unicode_escape": b"\\ud800", "raw_unicode_escape": b"\\ud800"}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", {"Location": location})

    def _drip(self, body: bytes, seconds: float) -> None:
        """Sends ``body`` a byte at a time for ``seconds``, then the rest at once."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        end, sent = time.monotonic() + seconds, 0
        try:
            while time.monotonic() < end:
                self.wfile.write(body[sent:sent + 1])
                self.wfile.flush()
                sent += 1
                time.sleep(0.1)
            self.wfile.write(body[sent:])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the fetcher gave up, as it should

    def do_GET(self):  # noqa: N802 (http.server API)
        port = self.server.server_address[1]
        path, _, query = self.path.partition("?")
        params = {name: values[0] for name, values in parse_qs(query).items()}
        if path == "/article":
            self._send(200, ARTICLE_HTML.encode(), "text/html; charset=utf-8")
        elif path == "/plain":
            self._send(200, ARTICLE_TEXT.encode(), "text/plain; charset=utf-8")
        elif path == "/to-private":
            self._redirect("http://10.0.0.1/internal")
        elif path == "/to-metadata":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif path == "/to-loopback-name":
            self._redirect(f"http://localhost:{port}/article")
        elif path.startswith("/hops/"):
            left = int(path.rsplit("/", 1)[1])
            self._redirect(f"/hops/{left - 1}" if left > 0 else "/article")
        elif path == "/big":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(BIG_BODY_BYTES))
            self.end_headers()
            chunk = b"word " * 13107  # 64 KiB less a byte
            try:
                sent = 0
                while sent < BIG_BODY_BYTES:
                    piece = chunk[: BIG_BODY_BYTES - sent]
                    self.wfile.write(piece)
                    sent += len(piece)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the fetcher hung up at its cap, as it should
        elif path == "/charset":  # ?type=text/plain&charset=idna
            self._send(200, LABELLED_PAGE, f"{params['type']}; charset={params['charset']}")
        elif path == "/charset-rfc2231":  # the charset as an RFC 2231 extended parameter
            self._send(200, LABELLED_PAGE,
                       f"{params['type']}; charset*=utf-8''{params['charset']}")
        elif path == "/lone-surrogate":  # ?type=text/plain&charset=utf-7
            body = f"<html><body><article><p>{ARTICLE_TEXT} ".encode() + LONE_SURROGATE[params["charset"]] \
                + b"</p></article></body></html>"
            self._send(200, body, f"{params['type']}; charset={params['charset']}")
        elif path == "/huge-table":
            self._send(200, huge_table(), "text/html; charset=utf-8")
        elif path == "/drip-table":
            self._drip(huge_table(), DRIP_SECONDS)
        elif path == "/image":
            self._send(200, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
        else:
            self._send(404, b"not here", "text/plain")

    def log_message(self, *args):
        pass


class LocalSite:
    def __init__(self) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def allow_entry(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def local_site():
    site = LocalSite()
    site.thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()


@pytest.fixture(scope="session")
async def fetching_http(settings, temporal_env, local_site):
    """A second app on the same database whose fetch allowlist opens the local site."""
    from api.app import create_app

    allowed = settings.model_copy(update={"fetch_allow": local_site.allow_entry})
    application = create_app(allowed, temporal_client=temporal_env.client)
    async with serving(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://assay.test", timeout=30) as client:
            yield client
