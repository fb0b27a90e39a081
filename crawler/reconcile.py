"""Bring the crawl state up to date with the WARCs of a crawl that was killed.

The WARC middleware writes a record, then commits the crawl-state row that points at it. A crawl
killed (kill -9, OOM, power) between the two leaves a good copy in the WARC that the state does not
know, and the next crawl would fetch the page again. A killed crawl is known by its WARC file: a
cleanly closed one ends with a `crawl-summary` record. Before a source is crawled, each of its WARC
files not yet checked is read once; in one without a summary, every good copy of a report or
attachment newer than the state's is recorded as if its commit had happened. Files are remembered
in the `warc_files` table, so each is read at most once (files already present when the table is
created are taken as consistent, as they were before this check existed).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from crawler.junk import suspect_page
from crawler.state import CrawlState, iso, utcnow

log = logging.getLogger(__name__)
TABLE = "warc_files"
ROLES = ("report", "attachment")


def _table(state: CrawlState, warc_dir: Path) -> Any:
    if TABLE not in state.db.table_names():
        state.db[TABLE].create({"name": str, "source": str, "checked": str, "summary": int, "applied": int},
                               pk="name")
        now = iso(utcnow())
        state.db[TABLE].insert_all([{"name": f.name, "source": None, "checked": now, "summary": None, "applied": 0}
                                    for f in sorted(warc_dir.glob("*.warc.gz"))])
    return state.db[TABLE]


def mark_checked(state: CrawlState, warc_dir: Path, name: str, source: str, summary: bool) -> None:
    """A file this process closed (with its summary): nothing to reconcile in it."""
    _table(state, warc_dir).upsert({"name": name, "source": source, "checked": iso(utcnow()),
                                    "summary": int(summary), "applied": 0}, pk="name")


def _state_time(warc_date: str) -> str:
    """WARC-Date (maybe with fractions of a second) in the crawl state's `%Y-%m-%dT%H:%M:%SZ`."""
    return warc_date[:19] + "Z"


def _apply(state: CrawlState, source: str, rec: Any) -> bool:
    h = rec.rec_headers
    url = h.get_header("WARC-Target-URI")
    role = h.get_header("WARC-Nianbao-Role")
    if rec.rec_type != "response" or role not in ROLES or h.get_header("WARC-Nianbao-Junk"):
        return False
    if rec.http_headers is None or rec.http_headers.get_statuscode() != "200":
        return False
    date = h.get_header("WARC-Date") or ""
    row = state.get(url) or {}
    if row.get("record_id") == h.get_header("WARC-Record-ID") or (row.get("record_date") or "") >= date:
        return False  # the state knows this copy, or a newer one
    ctype = rec.http_headers.get_header("Content-Type") or ""
    if suspect_page(rec.content_stream().read(), ctype.lower(), role):
        return False  # not a good copy: the page stays due
    when = _state_time(date)
    fields: dict[str, Any] = {
        "source": source, "role": role, "status": 200, "junk": None, "location": None,
        "digest": h.get_header("WARC-Payload-Digest"), "record_id": h.get_header("WARC-Record-ID"),
        "record_date": date, "etag": rec.http_headers.get_header("ETag"),
        "last_modified": rec.http_headers.get_header("Last-Modified"), "last_fetch": when, "last_changed": when,
        "fetch_count": (row.get("fetch_count") or 0) + 1,
    }
    if h.get_header("WARC-Nianbao-Parent"):
        fields["parent"] = h.get_header("WARC-Nianbao-Parent")
    if not row:
        fields["first_seen"] = when
    state.update(url, **fields)
    return True


def reconcile(state: CrawlState, warc_dir: str | Path, source: str) -> int:
    """Read the unchecked WARC files of `source`; from those without a crawl-summary (a killed
    crawl's), record their good copies in the crawl state. Returns how many rows were updated."""
    warc_dir = Path(warc_dir)
    table = _table(state, warc_dir)
    checked = {r["name"] for r in table.rows}
    applied = 0
    for path in sorted(warc_dir.glob(f"nianbao-*-{source}-*.warc.gz")):
        if path.name in checked:
            continue
        summary, n = False, 0
        try:
            with open(path, "rb") as fh:
                for rec in ArchiveIterator(fh):
                    if rec.rec_headers.get_header("WARC-Nianbao-Source") not in (None, source):
                        break  # another source whose name ends like this one's
                    if rec.rec_type == "metadata" and rec.rec_headers.get_header("WARC-Nianbao-Kind") == "crawl-summary":
                        summary = True
                    elif rec.rec_type == "response":
                        if _apply(state, source, rec):
                            n += 1
        except Exception as exc:  # a damaged tail is what a kill can leave: keep what was read
            log.warning("reconciling %s: %s", path.name, exc)
        if summary and n:
            log.info("%s: %d copies recorded from a file that was closed cleanly", path.name, n)
        applied += n
        table.upsert({"name": path.name, "source": source, "checked": iso(utcnow()), "summary": int(summary),
                      "applied": n}, pk="name")
    if applied:
        log.warning("%s: %d stored copies of a killed crawl recorded in the crawl state", source, applied)
    return applied
