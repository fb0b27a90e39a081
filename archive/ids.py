"""Content-derived ids, so building the archive twice gives the same ids (never wall-clock based)."""

from __future__ import annotations

import hashlib

from nianbao import stamps


def stable_id(*parts: object) -> str:
    """16 hex characters of SHA-1 over the parts (joined with a separator no part contains)."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()[:16]


payload_digest = stamps.payload_digest  # the WARC-Payload-Digest form warcio writes (nianbao.stamps)


def document_key(agency: str | None, year: int | None, url: str) -> str:
    """One report = agency + year; pages the parser cannot name are keyed by their URL."""
    if agency and year:
        return f"doc|{agency}|{year}"
    return f"url|{url}"
