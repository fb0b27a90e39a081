"""Read one archived response back out of a WARC file, at the offset the archive recorded.

The archive stores, per capture, the WARC file name and the byte offset of its record; this module
seeks there and lets warcio parse exactly one record (each record of a .warc.gz is its own gzip
member, so no decompression of what comes before). Pure I/O, no Datasette.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from nianbao.archive.records import http_status_and_type


class OriginalNotFound(LookupError):
    """The WARC file or the record at the given offset is missing or unreadable."""


@dataclass(frozen=True)
class ArchivedResponse:
    """What a visitor is shown: the body exactly as decoded from the capture, and where it came from."""

    url: str
    captured: str
    record_type: str
    status: int | None
    content_type: str | None
    body: bytes
    warc_headers: dict[str, str] = field(default_factory=dict)
    refers_to: str | None = None  # for a revisit: the WARC-Refers-To-Target-URI / record id


def resolve_warc_path(warc_dir: Path, warc_file: str) -> Path:
    """The WARC path for a stored file name, refusing anything that escapes `warc_dir`."""
    root = warc_dir.resolve()
    path = (root / warc_file).resolve()
    if root != path.parent and root not in path.parents:
        raise OriginalNotFound(f"WARC file outside the WARC directory: {warc_file!r}")
    if not path.is_file():
        raise OriginalNotFound(f"WARC file not found: {warc_file}")
    return path


def read_record(warc_dir: Path, warc_file: str, offset: int) -> ArchivedResponse:
    """The response (or revisit/resource) record starting at `offset` in `warc_file`."""
    path = resolve_warc_path(warc_dir, warc_file)
    try:
        with path.open("rb") as fh:
            fh.seek(int(offset))
            for record in ArchiveIterator(fh):
                headers = dict(record.rec_headers.headers)
                status, content_type = http_status_and_type(record)
                if record.http_headers is None:
                    content_type = record.rec_headers.get_header("Content-Type")
                # content_stream() undoes chunked transfer and Content-Encoding: the body as a
                # browser would have seen it.
                body = record.content_stream().read()
                return ArchivedResponse(
                    url=record.rec_headers.get_header("WARC-Target-URI") or "",
                    captured=record.rec_headers.get_header("WARC-Date") or "",
                    record_type=record.rec_type,
                    status=status,
                    content_type=content_type,
                    body=body,
                    warc_headers=headers,
                    refers_to=record.rec_headers.get_header("WARC-Refers-To"),
                )
    except OriginalNotFound:
        raise
    except Exception as exc:  # warcio raises several types on a bad offset or a damaged file
        raise OriginalNotFound(f"no readable WARC record at {warc_file}:{offset} ({exc})") from exc
    raise OriginalNotFound(f"no WARC record at {warc_file}:{offset}")
