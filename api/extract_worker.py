"""The extractor process: turns one HTML page at a time into readable text (``python -m api.extract_worker``).

trafilatura is pure CPU and cannot be interrupted inside a thread, so the API runs it here, in a
process it can kill when a request's time budget ends (``api/extractor.py`` owns these processes).
Jobs and replies are length-prefixed frames on stdin/stdout. A job is one flag byte — ``T`` for
text already decoded from the declared charset (sent as UTF-8), ``B`` for raw bytes whose encoding
trafilatura sniffs — followed by the page. A reply is JSON: ``{"text", "cut"}`` or ``{"error"}``.
The process ends when stdin closes, so it never outlives the API process that started it.

Extraction time grows faster than linearly with the number of elements, not with the bytes: 5 MB
of prose paragraphs extract in under a second, 1 MB of list items or table cells (45,000
elements) takes 3–7 s. A page is therefore cut after its first ``MAX_ELEMENTS`` elements in
document order before extraction (under 1 s for any page of the 5 MB download cap); the kept part
still yields several times the 50 KB of text that is returned.
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


def cut_after(tree, limit: int) -> bool:
    """Drops every element after the first ``limit`` in document order; True when any was dropped."""
    for count, element in enumerate(tree.iter()):
        if count == limit:
            break
    else:
        return False
    node = element
    while (parent := node.getparent()) is not None:
        for later in list(node.itersiblings()):
            parent.remove(later)
        node = parent
    element.getparent().remove(element)
    return True


def extract(html: str | bytes) -> tuple[str, bool]:
    """(readable text, whether the page was cut): main content, or plain text for tiny pages."""
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return "", False
    cut = cut_after(tree, MAX_ELEMENTS)
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
