"""The crawler's own per-URL state (`DataDir.crawl_state`): what we need for polite re-crawls.

Per URL: validators (ETag, Last-Modified) for conditional GETs, the payload digest and WARC record of
the last stored copy (for `revisit` records), when it was fetched and last seen in a listing. It is
derivable from the WARCs and kept apart from the archive so a rebuild never loses it.

Revalidation policy (why the second night fetches a few percent of detail pages): a detail page or
attachment already fetched is revalidated when it is *due*:
  - never stored a good copy, or its last answer was not the real thing: an error, junk (a challenge,
    soft 404 or login page, an empty 200 or a page that looks like no report at all: parsers/junk.py),
    a redirect loop, or a redirect to a page that has no good copy itself, or
  - last fetched `cycle_days` (default 30) or more ago (every report is rechecked at least monthly), or
  - last fetched at least `min_hours` (20) ago AND today is its rotation day: bucket(url) =
    sha1(url) mod cycle_days equals the day number mod cycle_days, so about 1/cycle_days of the
    reports (3.3%) are revalidated each night, spread evenly.
List pages are fetched on every crawl (they are how we find new and withdrawn reports).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from nianbao.stamps import parse_utc_iso, utc_iso

TABLE = "urls"


def utcnow() -> datetime:
    return datetime.now(UTC)


iso = utc_iso  # the crawl state's time text: nianbao.stamps, the one definition
parse_iso = parse_utc_iso


def state_key(url: str, method: str = "GET", body: bytes | None = b"") -> str:
    """The crawl-state row of a request: its URL, except for a request with a body (a search API's
    POST, one URL for every page), whose row is the URL plus method and a digest of the body, so
    each page keeps its own digest and revisit chain."""
    if method == "GET" or not body:
        return url
    return f"{url}#{method}:{hashlib.sha1(body).hexdigest()[:16]}"


@dataclass(frozen=True)
class Policy:
    """When an already-fetched page is fetched again; `mode` all|policy|none."""

    mode: str = "policy"
    cycle_days: int = 30
    min_hours: float = 20.0

    def bucket(self, url: str) -> int:
        return int(hashlib.sha1(url.encode("utf-8")).hexdigest(), 16) % self.cycle_days

    def is_due(self, row: dict[str, Any] | None, now: datetime, target: dict[str, Any] | None = None) -> bool:
        """`row` is the URL's crawl state; for a recorded redirect, `target` is the row of the page it
        leads to (CrawlState.target), None when the chain loops or ends at an unknown URL."""
        if not good_copy(row) and not (row and row.get("location")):
            return True  # never stored a copy (or only errors/junk): try again
        assert row is not None
        if row.get("junk") or (row.get("status") or 200) >= 400:
            return True  # last answer was a challenge page or an error: try again next crawl
        if row.get("location") and not good_copy(target):
            return True  # a redirect (loop) to nothing stored yet: a redirect alone is no copy
        if self.mode == "all":
            return True
        if self.mode == "none":
            return False
        last = parse_iso(row.get("last_fetch"))
        if last is None:
            return True
        age = now - last
        if age >= timedelta(days=self.cycle_days):
            return True
        day_number = (now - datetime(1970, 1, 1, tzinfo=UTC)).days
        return age >= timedelta(hours=self.min_hours) and self.bucket(row["url"]) == day_number % self.cycle_days


def good_copy(row: dict[str, Any] | None) -> bool:
    """Whether a crawl-state row holds a good copy: a digest of a response that looked like the real
    thing, and the last answer was neither junk nor an error nor a redirect."""
    return bool(row and row.get("digest") and not row.get("junk")
                and not row.get("location") and (row.get("status") or 200) < 400)


class CrawlState:
    """sqlite-utils wrapper; one row per URL."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(self.path)
        self.db.conn.execute("PRAGMA journal_mode=WAL")
        self.db.conn.execute("PRAGMA busy_timeout=30000")
        # WAL + NORMAL: each update is its own transaction (a killed crawl loses nothing it
        # recorded) without an fsync per response; only a power cut can lose the last few.
        self.db.conn.execute("PRAGMA synchronous=NORMAL")
        if TABLE not in self.db.table_names():
            self.db[TABLE].create(
                {
                    "url": str, "source": str, "role": str, "status": int,
                    "etag": str, "last_modified": str, "digest": str,
                    "record_id": str, "record_date": str, "location": str, "parent": str,
                    "junk": str, "first_seen": str, "last_fetch": str, "last_changed": str,
                    "last_seen_listed": str, "withdrawn_at": str, "fetch_count": int,
                },
                pk="url",
            )
            self.db[TABLE].create_index(["source"])
            self.db[TABLE].create_index(["parent"])
        self.table = self.db[TABLE]
        self.columns = {c.name for c in self.table.columns}

    def get(self, url: str) -> dict[str, Any] | None:
        cur = self.db.conn.execute(f"SELECT * FROM {TABLE} WHERE url = ?", [url])
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    def update(self, url: str, **fields: Any) -> None:
        """Insert or update the named fields of one URL's row (one statement, autocommitted)."""
        unknown = set(fields) - self.columns
        if unknown:
            raise KeyError(f"unknown crawl-state fields: {sorted(unknown)}")
        cols = ["url", *fields]
        sets = ", ".join(f"{c} = excluded.{c}" for c in fields) or "url = excluded.url"
        with self.db.conn:
            self.db.conn.execute(
                f"INSERT INTO {TABLE} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
                f"ON CONFLICT(url) DO UPDATE SET {sets}", [url, *fields.values()])

    def attachments_of(self, parent: str) -> list[dict[str, Any]]:
        return list(self.table.rows_where("parent = ? and role = 'attachment'", [parent]))

    def resolve(self, url: str, hops: int = 10) -> str:
        """Follow recorded redirects (301/302 Location) to the URL that served the page; a chain that
        loops (or runs past `hops`) resolves to `url` itself."""
        seen = {url}
        current = url
        for _ in range(hops):
            row = self.get(current)
            if not row or not row.get("location") or row["location"] == current:
                return current
            current = row["location"]
            if current in seen:
                return url
            seen.add(current)
        return url

    def target(self, url: str) -> dict[str, Any] | None:
        """The row of the page a recorded redirect chain from `url` ends at; None when it loops."""
        end = self.resolve(url)
        return None if end == url else self.get(end)

    def close(self) -> None:
        self.db.conn.close()
