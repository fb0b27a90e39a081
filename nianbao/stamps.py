"""The stamps every stage writes and compares, one definition each: UTC times as text, run ids, and
the WARC payload digest.

Why one place: the crawler writes these into WARC headers and its crawl state, the archive reads them
back and compares them (a revisit's digest against the version it repeats, a capture time against a
withdrawal), and the site checks an original against its digest. Written several times, a second
spelling (fractions of a second, an offset instead of `Z`, hex instead of base32) would silently stop
matching. A leaf module with no imports from the project, so every stage may import it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from warcio.utils import Digester

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # crawl state, captures, runs: whole seconds, UTC, `Z`
RUN_ID_FORMAT = "%Y%m%dT%H%M%SZ"  # crawl/nightly run ids and WARC file names


def utc_iso(when: datetime | float | None = None) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` of a datetime (naive = UTC), a POSIX timestamp, or now."""
    if when is None:
        when = datetime.now(UTC)
    elif isinstance(when, (int, float)):
        when = datetime.fromtimestamp(when, UTC)
    elif when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime(ISO_FORMAT)


def parse_utc_iso(text: str | None) -> datetime | None:
    """The inverse of `utc_iso` (None for None or empty)."""
    if not text:
        return None
    return datetime.strptime(text, ISO_FORMAT).replace(tzinfo=UTC)


def run_id(when: datetime | None = None) -> str:
    """A run id, `YYYYMMDDTHHMMSSZ` (UTC), of `when` or now."""
    when = datetime.now(UTC) if when is None else when
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).strftime(RUN_ID_FORMAT)


def payload_digest(body: bytes) -> str:
    """WARC-Payload-Digest as warcio writes it: `sha1:` + base32 of the SHA-1 (warcio's own Digester)."""
    digester = Digester("sha1")
    digester.update(body)
    return str(digester)
