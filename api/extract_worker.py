"""The extractor process: turns one HTML page at a time into readable text (``python -m api.extract_worker``).

trafilatura is pure CPU and cannot be interrupted inside a thread, so the API runs it here, in a
process it can kill when a request's time budget ends (``api/extractor.py`` owns these processes).
Jobs and replies are length-prefixed frames on stdin/stdout. A job is one flag byte — ``T`` for
text already decoded from the declared charset (sent as UTF-8), ``B`` for raw bytes whose encoding
trafilatura sniffs — followed by the page. A reply is JSON: ``{"text", "cut"}`` or ``{"error"}``.
The process ends when stdin closes, so it never outlives the API process that started it.

Extraction time grows with the number of elements, not with the bytes: 5 MB of prose paragraphs
extract in under a second, a 5 MB table of one-letter cells (a million elements) takes 50 s. So
the page is parsed only up to its first ``MAX_ELEMENTS`` elements (fed to lxml in small chunks, so
the rest is never even parsed) and trafilatura works on that tree: under a second and under 100 MB
for any page of the 5 MB download cap. The kept part still yields several times the 50 KB of text
that is returned.
"""

from __future__ import annotations

import json
import struct
import sys
from typing import BinaryIO

FRAME = struct.Struct(">I")
AS_TEXT = b"T"
AS_BYTES = b"B"
MAX_ELEMENTS = 20_000
PARSE_CHUNK_BYTES = 8192  # the cap is overshot by at most one chunk's elements


def read_frame(stream: BinaryIO) -> bytes | None:
    """The next frame, or None when the stream ended (the API closed the pipe)."""
    head = stream.read(FRAME.size)
    if len(head) < FRAME.size:
        return None
    (size,) = FRAME.unpack(head)
    data = stream.read(size)
    return data if len(data) == size else None


def frame(data: bytes) -> bytes:
    return FRAME.pack(len(data)) + data


def parse_capped(page: str | bytes, limit: int = MAX_ELEMENTS):
    """(tree of the page's first ``limit`` elements or a few more, whether the page was cut).

    Prepares the page as trafilatura's ``load_html`` does (bytes sniffed and decoded, faulty HTML
    repaired, non-HTML rejected), with the same parser options, but stops parsing at the cap."""
    from lxml import etree, html
    from trafilatura.utils import decode_file, is_dubious_html, repair_faulty_html

    text = decode_file(page)
    beginning = text[:50].lower()
    data = repair_faulty_html(text, beginning).encode("utf-8", "surrogatepass")
    parser = etree.HTMLPullParser(events=("start",), collect_ids=False, default_doctype=False,
                                  encoding="utf-8", remove_comments=True, remove_pis=True)
    parser.set_element_class_lookup(html.HtmlElementClassLookup())
    seen, cut = 0, False
    for offset in range(0, len(data), PARSE_CHUNK_BYTES):
        parser.feed(data[offset:offset + PARSE_CHUNK_BYTES])
        seen += sum(1 for _event in parser.read_events())
        if seen >= limit:
            cut = offset + PARSE_CHUNK_BYTES < len(data)
            break
    tree = parser.close()
    if tree is not None and is_dubious_html(beginning) and len(tree) < 2:
        return None, cut
    return tree, cut


def extract(page: str | bytes) -> tuple[str, bool]:
    """(readable text, whether the page was cut): main content, or plain text for tiny pages."""
    import trafilatura

    tree, cut = parse_capped(page)
    if tree is None:
        return "", cut
    # Both calls copy the tree before changing it, so one parse serves the fallback too.
    text = trafilatura.extract(tree, include_comments=False, include_tables=True, favor_recall=True,
                               deduplicate=False)
    if not text:
        text = trafilatura.html2txt(tree)
    return (text or "").strip(), cut


def serve(jobs: BinaryIO, replies: BinaryIO) -> None:
    while (job := read_frame(jobs)) is not None:
        kind, page = job[:1], job[1:]
        try:
            text, cut = extract(page.decode("utf-8") if kind == AS_TEXT else page)
            reply = {"text": text, "cut": cut}
        except Exception as exc:  # noqa: BLE001 — a page that breaks the extractor fails, the process lives on
            reply = {"error": type(exc).__name__}
        replies.write(frame(json.dumps(reply).encode("utf-8")))
        replies.flush()


def main() -> None:
    jobs, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print from a library must not corrupt the reply frames
    import trafilatura  # noqa: F401 — imported before the first job, not on its clock

    serve(jobs, replies)


if __name__ == "__main__":
    main()
