"""Read the record: WARC files (with their damaged stretches) and folders of report files.

Each reader yields (kind, capture-or-meta, body) in record order; the builder decides what a record
means. Nothing in a file stops the build (see `iter_warc`).
"""

from __future__ import annotations

import json
import logging
import mimetypes
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nianbao import stamps
from nianbao.archive.ids import payload_digest, stable_id

log = logging.getLogger("nianbao.archive.build")

# what `--from-files` picks up in a folder (a file named on the command line is read whatever its name;
# the parser decides the format by its bytes)
FILE_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml", ".txt", ".pdf", ".docx", ".doc", ".wps", ".rtf", ".ofd",
                 ".xlsx", ".xls", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".webp")


utc_iso = stamps.utc_iso  # capture times as text: nianbao.stamps, the one definition



def iter_file_inputs(paths: Iterable[Path]) -> Iterator[tuple[dict, bytes]]:
    """Report files under the given folders (or files), in sorted path order."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in FILE_SUFFIXES)
        elif p.is_file():
            files.append(p)
    for f in sorted(set(files), key=lambda f: str(f.resolve())):
        body = f.read_bytes()
        digest = payload_digest(body)
        url = f.resolve().as_uri()
        ctype = mimetypes.guess_type(f.name)[0] or ("text/html" if f.suffix.lower() in (".shtml", "") else None)
        yield ({
            "id": stable_id("file", url, digest), "url": url, "fetched": utc_iso(f.stat().st_mtime),
            "record_type": "file", "role": "report", "source": None, "parent_url": None,
            "http_status": None, "content_type": ctype, "payload_digest": digest, "refers_to": None,
            "junk": None, "warc_file": None, "warc_offset": None, "warc_length": None, "record_id": None,
        }, body)


def iter_warc(path: Path) -> Iterator[tuple[str, dict, bytes | None]]:
    """(kind, capture-or-meta, body) for each record of one WARC file, with offsets for provenance.

    Nothing in a file stops the build: a record whose payload cannot be read, or is cut short (its
    digest could not be verified: a crawl killed mid-write), is a capture with `error` and no body;
    a stretch warcio cannot parse at all is one `damaged` capture (offset where it starts), and
    reading resumes at the next record that parses (the next gzip member of a .warc.gz)."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b" or path.name.endswith(".gz")
        pos: int | None = 0
        damaged: int | None = None  # start of the unreadable stretch being skipped
        while pos is not None:
            fh.seek(pos)
            records = ArchiveIterator(fh, check_digests=True)
            try:
                for record in records:
                    damaged = None
                    item = _read_record(path, record, records)
                    if item is not None:
                        yield item
                break
            except Exception as exc:  # warcio could not parse the next record: skip to one it can
                at = records.offset if records.offset > pos else pos
                if damaged is None:
                    damaged = at
                    log.warning("damaged WARC %s at offset %s: %s", path.name, at, str(exc)[:200])
                    yield "damaged", _damaged_capture(path, at, exc), None
                pos = _next_record_start(fh, at + 1, gz)
            finally:
                records.close()


def _damaged_capture(path: Path, offset: int, exc: BaseException) -> dict:
    return {
        "id": stable_id(path.name, offset, "damaged"), "url": None, "fetched": None, "record_type": "damaged",
        "role": None, "source": None, "parent_url": None, "http_status": None, "content_type": None,
        "payload_digest": None, "refers_to": None, "junk": None, "warc_file": path.name, "warc_offset": offset,
        "warc_length": None, "record_id": None,
        "error": f"unreadable WARC data from offset {offset}: {type(exc).__name__}: {str(exc)[:200]!r}",
    }


def _next_record_start(fh: Any, start: int, gz: bool, chunk: int = 1 << 20) -> int | None:
    """Offset of the next place a record may start (a gzip member header, or a `WARC/` version line)."""
    mark = b"\x1f\x8b\x08" if gz else b"WARC/1."
    fh.seek(start)
    base, tail = start, b""
    while True:
        block = fh.read(chunk)
        if not block:
            return None
        data = tail + block
        at = data.find(mark)
        if at >= 0:
            return base - len(tail) + at
        tail = data[-(len(mark) - 1):]
        base += len(block)


def _read_record(path: Path, record: Any, records: Any) -> tuple[str, dict, bytes | None] | None:
    """One record as (kind, capture-or-meta, body), or None for record types the archive ignores."""
    from nianbao.archive.records import http_status_and_type

    rtype = record.rec_type
    h = record.rec_headers
    if rtype not in ("response", "revisit", "metadata"):
        return None
    kind = h.get_header("WARC-Nianbao-Kind")
    error = None
    try:
        body = record.content_stream().read() if rtype != "revisit" else None
    except Exception as exc:  # a damaged record: kept as a capture with the error
        body, error = None, f"unreadable record: {type(exc).__name__}: {exc}"[:1000]
    if body is not None:
        checker = getattr(record, "digest_checker", None)
        passed = getattr(checker, "passed", True)
        if passed is None:  # the decoded payload may end before the record does: read the rest
            try:
                while record.raw_stream.read(1 << 16):
                    pass
            except Exception:
                pass
            passed = checker.passed
        if passed is False:
            body, error = None, "digest mismatch: " + "; ".join(map(str, checker.problems))[:900]
        elif passed is None and (h.get_header("WARC-Block-Digest") or h.get_header("WARC-Payload-Digest")):
            body, error = None, f"truncated record: its digest could not be verified ({len(body)} bytes read)"
    offset, length = records.get_record_offset(), records.get_record_length()
    record_id = h.get_header("WARC-Record-ID")
    if rtype == "metadata":
        if kind == "crawl-summary" and body is not None:
            try:
                summary = json.loads(body.decode("utf-8"))
            except ValueError:
                return None
            if not isinstance(summary, dict):
                return None
            return "summary", {"summary": summary, "source": h.get_header("WARC-Nianbao-Source"),
                               "warc_file": path.name, "warc_offset": offset,
                               "warc_length": length, "record_id": record_id}, None
        return None
    status, ctype = http_status_and_type(record)
    # a 304 revisit (server-not-modified: no payload digest) names its copy's digest in a nianbao header
    digest = h.get_header("WARC-Payload-Digest") or h.get_header("WARC-Nianbao-Refers-To-Digest")
    if rtype == "response" and body is not None and not digest:
        digest = payload_digest(body)
    capture = {
        "id": stable_id(path.name, offset), "url": h.get_header("WARC-Target-URI"),
        "fetched": h.get_header("WARC-Date"), "record_type": rtype,
        "role": h.get_header("WARC-Nianbao-Role"), "source": h.get_header("WARC-Nianbao-Source"),
        "parent_url": h.get_header("WARC-Nianbao-Parent"), "http_status": status,
        "content_type": ctype, "payload_digest": digest,
        "refers_to": h.get_header("WARC-Refers-To"), "junk": h.get_header("WARC-Nianbao-Junk"),
        "warc_file": path.name, "warc_offset": offset, "warc_length": length,
        "record_id": record_id, "error": error,
    }
    if error:
        capture["junk"] = None
    return rtype, capture, body




def iter_warcs(warc_files: list[Path]) -> Iterator[tuple[str, dict, bytes | None]]:
    for path in warc_files:
        yield from iter_warc(path)


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[str, dict, bytes | None]]:
    for capture, body in iter_file_inputs(paths):
        yield "response", capture, body
