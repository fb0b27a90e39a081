"""Bring the crawl state up to date with the WARCs of a crawl that was killed.

The WARC middleware writes a record, then commits the crawl-state row that points at it. A crawl
killed (kill -9, OOM, power) between the two leaves a good copy in the WARC that the state does not
know, and the next crawl would fetch the page again. A killed crawl is known by its WARC file: a
cleanly closed one ends with a `crawl-summary` record. Before a source is crawled, each of its WARC
files not yet checked is read once; in one without a summary, every good copy of a report or
attachment newer than the state's is recorded as if its commit had happened. Files are remembered
in the `warc_files` table, so each is read at most once (files already present when the table is
created are taken as consistent, as they were before this check existed).

An `….warc.gz.open` file is one a crawl was still writing when it was killed (crawler/warc.py
renames on close; builds skip `*.open`). The next crawl of its source reconciles it as above, then
checks it the way `warcio check` does (every record parses, every block and payload digest
verifies) and renames it to its final `….warc.gz` name either way: whole, it is as good as a
closed file; damaged (a tail cut by a disk or filesystem fault — our single-write records make that
rare), the build reads it up to its last whole record and records the rest as one `damaged`
capture, which is better than a file no build ever reads. The check's verdict is logged and kept
in `warc_files.valid`. A crawl of one source never touches another source's files, and the data
lock (`nianbao crawl`) keeps any other crawl from writing an `.open` file meanwhile.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from nianbao.crawler.state import CrawlState, iso, utcnow
from nianbao.crawler.warc import OPEN_SUFFIX
from nianbao.parsers.junk import suspect_page

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


def check_warc(path: Path) -> str | None:
    """What `warcio check` would complain of in `path`, and what it lets pass: a gzip stream cut
    short (warcio reads a cut member quietly as a shorter record). None: every gzip member ends
    properly, every record parses and every digest it carries verifies."""
    try:
        with gzip.open(path, "rb") as gz:
            while gz.read(1 << 20):
                pass
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, check_digests=True):
                rec.content_stream().read()
                problems = getattr(rec.digest_checker, "problems", None)
                if problems:
                    return f"{rec.rec_headers.get_header('WARC-Record-ID')}: {problems[0]}"
    except Exception as exc:  # EOFError, zlib.error, ArchiveLoadFailed…: a damaged stretch
        return f"{type(exc).__name__}: {exc}"
    return None


def _close_left_open(path: Path) -> tuple[Path, str | None]:
    """Rename a killed crawl's `.open` file to its final name (after a check); returns the new path
    and the check's complaint (None when whole)."""
    problem = check_warc(path)
    final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
    n = 1
    while final.exists():  # never overwrite a closed file
        n += 1
        final = path.with_name(path.name[: -len(".warc.gz" + OPEN_SUFFIX)] + f"-{n}.warc.gz")
    path.rename(final)
    if problem:
        log.warning("%s: left open by a killed crawl and damaged (%s); closed as %s, the build reads it up to "
                    "the damage", path.name, problem, final.name)
    else:
        log.warning("%s: left open by a killed crawl, whole (warcio check passes); closed as %s",
                    path.name, final.name)
    return final, problem


def reconcile(state: CrawlState, warc_dir: str | Path, source: str) -> int:
    """Read the unchecked WARC files of `source`; from those without a crawl-summary (a killed
    crawl's), record their good copies in the crawl state. Returns how many rows were updated."""
    warc_dir = Path(warc_dir)
    table = _table(state, warc_dir)
    checked = {r["name"] for r in table.rows}
    applied = 0
    paths = sorted(warc_dir.glob(f"nianbao-*-{source}-*.warc.gz")) + sorted(
        warc_dir.glob(f"nianbao-*-{source}-*.warc.gz{OPEN_SUFFIX}"))
    for path in paths:
        left_open = path.name.endswith(OPEN_SUFFIX)
        if path.name in checked and not left_open:
            continue
        summary, n, other_source = False, 0, False
        try:
            with open(path, "rb") as fh:
                for rec in ArchiveIterator(fh):
                    if rec.rec_headers.get_header("WARC-Nianbao-Source") not in (None, source):
                        other_source = True
                        break  # another source whose name ends like this one's
                    kind = rec.rec_headers.get_header("WARC-Nianbao-Kind")
                    if rec.rec_type == "metadata" and kind == "crawl-summary":
                        summary = True
                    elif rec.rec_type == "response":
                        if _apply(state, source, rec):
                            n += 1
        except Exception as exc:  # a damaged tail is what a kill can leave: keep what was read
            log.warning("reconciling %s: %s", path.name, exc)
        if summary and n:
            log.info("%s: %d copies recorded from a file that was closed cleanly", path.name, n)
        applied += n
        row = {"name": path.name, "source": source, "checked": iso(utcnow()), "summary": int(summary), "applied": n}
        if left_open and other_source:
            continue  # another source's file: its own crawl closes it
        if left_open:
            # The state now knows its copies (committed above); a kill between here and the upsert
            # leaves the final name unchecked, and reading it again records nothing twice.
            final, problem = _close_left_open(path)
            row.update(name=final.name, valid=int(problem is None), problem=problem)
        table.upsert(row, pk="name", alter=True)
    if applied:
        log.warning("%s: %d stored copies of a killed crawl recorded in the crawl state", source, applied)
    return applied
