"""Find a capture in the archive and serve its body safely.

The `captures` table (docs/schema.md) says where each record sits: `warc_file` (a name in the WARC
directory), `warc_offset`. A revisit record carries no body: it `refers_to` the record id of the
response whose payload it repeats, which is looked up in `captures` again. Captures made by
`nianbao build --from-files` (record_type `file`) are read from their file when it still exists and
still has the recorded digest.

`raw_headers` decides how the body is served: whatever the page contained, it is rendered with a
sandboxing Content-Security-Policy (no scripts, no plugins, no forms, an opaque origin) that also
forbids loading anything from elsewhere, so a visitor's browser never contacts the original site.
"""

from __future__ import annotations

import mimetypes
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from nianbao.publish.warc import ArchivedResponse, OriginalNotFound, read_record
from nianbao.stamps import payload_digest

# No allow-scripts, no allow-same-origin: the document gets an opaque origin and cannot run code.
# default-src 'none' keeps the page from fetching anything (images, fonts, frames) from anywhere;
# inline styles and data: images are allowed so the page stays readable.
CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "font-src data:; form-action 'none'; frame-ancestors 'self'; base-uri 'none'"
)

# archive.ids.stable_id: 16 lowercase hex digits of a SHA-1.
CAPTURE_ID = re.compile(r"[0-9a-f]{16}")

CAPTURE_COLUMNS = (
    "id, url, fetched, record_type, role, source, http_status, content_type, payload_digest, "
    "refers_to, junk, warc_file, warc_offset, warc_length, record_id, version_id"
)


@dataclass(frozen=True)
class CaptureLocation:
    """One row of `captures`: what was fetched, when, and where its WARC record is."""

    capture_id: str
    url: str
    fetched: str | None
    record_type: str | None
    role: str | None
    source: str | None
    http_status: int | None
    content_type: str | None
    payload_digest: str | None
    refers_to: str | None
    junk: str | None
    warc_file: str | None
    warc_offset: int | None
    warc_length: int | None
    record_id: str | None
    version_id: str | None

    @classmethod
    def from_row(cls, row: tuple) -> CaptureLocation:
        return cls(*row)


def capture_id_problem(capture_id: str) -> str | None:
    """Why `capture_id` cannot name a capture (so the viewer answers 400 without a lookup), or None."""
    if CAPTURE_ID.fullmatch(capture_id):
        return None
    shown = capture_id if len(capture_id) <= 40 else capture_id[:40] + "…"
    return f"not a capture id: {shown!r} (a capture id is 16 hexadecimal digits, e.g. 0b924056547599df)"


def find_capture(conn: sqlite3.Connection, capture_id: str) -> CaptureLocation | None:
    row = conn.execute(f"select {CAPTURE_COLUMNS} from captures where id = ?", [capture_id]).fetchone()
    return CaptureLocation.from_row(tuple(row)) if row else None


def find_revisit_target(conn: sqlite3.Connection, revisit: CaptureLocation) -> CaptureLocation | None:
    """The response a revisit repeats: by WARC-Refers-To record id, else the same payload digest."""
    row = None
    if revisit.refers_to:
        row = conn.execute(
            f"select {CAPTURE_COLUMNS} from captures where record_id = ? and record_type != 'revisit'",
            [revisit.refers_to],
        ).fetchone()
    if row is None and revisit.payload_digest:
        row = conn.execute(
            f"select {CAPTURE_COLUMNS} from captures where payload_digest = ? and record_type = 'response' "
            "order by fetched limit 1",
            [revisit.payload_digest],
        ).fetchone()
    return CaptureLocation.from_row(tuple(row)) if row else None


sha1_base32 = payload_digest  # `sha1:BASE32`, the WARC-Payload-Digest form the archive stores


def _read_file_capture(location: CaptureLocation) -> ArchivedResponse:
    parsed = urlparse(location.url or "")
    if parsed.scheme != "file":
        raise OriginalNotFound(f"capture {location.capture_id} has no WARC record and no file")
    path = Path(unquote(parsed.path))
    if not path.is_file():
        raise OriginalNotFound(f"input file no longer exists: {path}")
    body = path.read_bytes()
    if location.payload_digest and sha1_base32(body) != location.payload_digest:
        raise OriginalNotFound(f"input file changed since it was archived: {path}")
    content_type = location.content_type or mimetypes.guess_type(path.name)[0]
    return ArchivedResponse(url=location.url, captured=location.fetched or "", record_type="file",
                            status=None, content_type=content_type, body=body)


def resolve_body(
    warc_dir: Path,
    location: CaptureLocation,
    lookup: Callable[[CaptureLocation], CaptureLocation | None],
) -> ArchivedResponse:
    """The body a capture shows, following a revisit to the response it repeats."""
    if location.record_type == "file" or not location.warc_file:
        return _read_file_capture(location)
    if location.record_type == "revisit":
        target = lookup(location)
        if target is None:
            raise OriginalNotFound(f"revisit {location.capture_id} refers to a record not in the archive")
        location = target
    if location.warc_offset is None:
        raise OriginalNotFound(f"capture {location.capture_id} has no WARC offset")
    return read_record(warc_dir, location.warc_file, location.warc_offset)


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<body", b"<div", b"<p", b"<table"))


def raw_headers(record: ArchivedResponse) -> tuple[str, dict[str, str]]:
    """Content-Type and safety headers for serving an archived body from the archive's origin."""
    content_type = (record.content_type or "").strip()
    if not content_type:
        content_type = "text/html" if _looks_like_html(record.body) else "application/octet-stream"
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Robots-Tag": "noindex",
        "Cache-Control": "public, max-age=86400, immutable",
        "X-Nianbao-Original-URL": (record.url or "").encode("ascii", "backslashreplace").decode("ascii"),
        "X-Nianbao-Captured": record.captured,
    }
    if not is_displayable(content_type):
        # PDFs, Word files, anything else: a download, never rendered in the archive's origin.
        ext = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ".bin"
        headers["Content-Disposition"] = f'attachment; filename="original{ext}"'
    return content_type, headers


def is_displayable(content_type: str | None) -> bool:
    """HTML and plain text are shown in the sandboxed frame; everything else is downloaded."""
    base = (content_type or "text/html").split(";")[0].strip().lower()
    return base in ("text/html", "text/plain", "application/xhtml+xml")
