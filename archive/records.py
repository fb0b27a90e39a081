"""What a WARC record says about the HTTP response it holds: shared by the build and the
archived-original viewer, so both read status and type the same way."""

from __future__ import annotations

from typing import Any


def http_status_and_type(record: Any) -> tuple[int | None, str | None]:
    """(HTTP status, Content-Type) of a warcio record; (None, None) where it carries no HTTP headers
    (revisits without them, resource records) or a status line that is not a number."""
    http = record.http_headers
    if http is None:
        return None, None
    try:
        status: int | None = int(http.get_statuscode())
    except (TypeError, ValueError):
        status = None
    return status, http.get_header("Content-Type")
