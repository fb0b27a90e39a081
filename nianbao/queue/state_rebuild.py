"""The crawler's state (`crawl_state.db`) rebuilt from a host's WARC files: `nianbao crawl-state rebuild`.

Why: crawl state travels with the host (its directory under `<data>/hosts/`); when that directory is
lost, or a host's WARCs move to storage without it, the WARCs are the record and the state is derived
from them. Uses only `nianbao.crawler.state`'s public API (CrawlState.update/get, state_key) and
replays, file by file in crawl order (each file's first WARC-Date), what the crawler wrote live:

  - from the `crawl-summary` (first, as the spider lists before it fetches): `last_seen_listed`
    (the summary's `now` when it carries one, else `started`) and `withdrawn_at = None` for every
    listed URL (`report_urls`, `titles`, `dates`), `first_seen` for a URL not seen before; after the
    records: `last_seen_listed` for a listed URL's recorded redirect source (not a moved one),
    `withdrawn_at = finished` for the withdrawn of a complete summary, and an error's class as `junk`
    for a stored report or attachment whose revalidation timed out;
  - from each `response`/`revisit` (the key is `state_key(url, method, body)` of its `request`
    record, which names it in WARC-Concurrent-To): source, role, parent, `last_fetch` (WARC-Date),
    `fetch_count`, `first_seen`; a revisit: status, validators, `junk = None`; a response marked
    junk (WARC-Nianbao-Junk) or suspect (`parsers.junk.suspect_page`, as the middleware judges it):
    status and junk; a good 200: digest, record id and date, validators, `last_changed`; a 3xx:
    `location` (and `redirect_loop` when the chain returns to the URL); anything else: the status.

Times are the WARC-Dates (to the second), where the live crawler read its clock a moment before
writing the record; every field the crawler decides by (due or not, conditional headers, revisit
targets, redirects, junk, listing and withdrawal) is reproduced. Known gap: a crawl run with
`--now` (tests) keeps that time only in the spider, so `last_seen_listed` is the real start time
unless the summary carries `now`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from warcio.archiveiterator import ArchiveIterator

from nianbao.crawler.state import CrawlState, state_key
from nianbao.parsers.junk import suspect_page

ROLES = ("list", "report", "attachment", "robots", "other")


def _when(warc_date: str) -> str:
    return warc_date[:19] + "Z"


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def warc_paths(warc_dir: Path) -> list[Path]:
    """Every WARC file (closed or left `.open`) in crawl order: by the date of its first record."""
    paths = sorted(warc_dir.glob("*.warc.gz")) + sorted(warc_dir.glob("*.warc.gz.open"))
    keyed = []
    for p in paths:
        try:
            with open(p, "rb") as fh:
                first = next(iter(ArchiveIterator(fh)), None)
                date = first.rec_headers.get_header("WARC-Date") if first is not None else ""
        except Exception:  # a damaged file still sorts (last) and is read as far as it goes
            date = "~"
        keyed.append((date or "~", p.name, p))
    return [p for _, _, p in sorted(keyed)]


def _read(path: Path) -> tuple[list[dict[str, Any]], dict[str, tuple[str, bytes]], list[dict[str, Any]]]:
    """A file's captures (as dicts, bodies decoded), request method/body by the record they are
    concurrent to, and its crawl summaries."""
    captures, requests, summaries = [], {}, []
    try:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                h = rec.rec_headers
                if rec.rec_type == "request":
                    body = rec.content_stream().read()
                    method = (rec.http_headers.protocol if rec.http_headers is not None else "GET") or "GET"
                    requests[h.get_header("WARC-Concurrent-To") or ""] = (method.upper(), body)
                elif rec.rec_type == "metadata" and h.get_header("WARC-Nianbao-Kind") == "crawl-summary":
                    summaries.append(json.loads(rec.content_stream().read()))
                elif rec.rec_type in ("response", "revisit") and h.get_header("WARC-Nianbao-Role") in ROLES:
                    http = rec.http_headers
                    captures.append({
                        "type": rec.rec_type, "url": h.get_header("WARC-Target-URI"),
                        "id": h.get_header("WARC-Record-ID"), "date": h.get_header("WARC-Date") or "",
                        "role": h.get_header("WARC-Nianbao-Role"), "source": h.get_header("WARC-Nianbao-Source"),
                        "parent": h.get_header("WARC-Nianbao-Parent"), "junk": h.get_header("WARC-Nianbao-Junk"),
                        "digest": h.get_header("WARC-Payload-Digest"),
                        "status": int(http.get_statuscode()) if http is not None else 0,
                        "etag": http.get_header("ETag") if http is not None else None,
                        "last_modified": http.get_header("Last-Modified") if http is not None else None,
                        "location": http.get_header("Location") if http is not None else None,
                        "ctype": (http.get_header("Content-Type") or "").lower() if http is not None else "",
                        "body": rec.content_stream().read() if rec.rec_type == "response" else b"",
                    })
    except Exception:  # a damaged tail (EOFError, zlib, ArchiveLoadFailed): keep what was read before it
        pass
    return captures, requests, summaries


def _listed_urls(summary: dict[str, Any]) -> list[str]:
    urls = set(summary.get("report_urls") or []) | set(summary.get("titles") or {}) | set(summary.get("dates") or {})
    return sorted(urls)


def _apply_listing(state: CrawlState, summary: dict[str, Any], wanted: set[str]) -> None:
    when = summary.get("now") or summary.get("started")
    for url in _listed_urls(summary):
        if wanted and _host(url) not in wanted:
            continue
        first = {} if state.get(url) else {"first_seen": when}
        state.update(url, source=summary["source"], role="report", last_seen_listed=when, withdrawn_at=None, **first)


def _apply_capture(state: CrawlState, cap: dict[str, Any], method: str, body: bytes) -> None:
    url, when = cap["url"], _when(cap["date"])
    key = state_key(url, method, body)
    row = state.get(key)
    common: dict[str, Any] = {"source": cap["source"], "role": cap["role"], "last_fetch": when,
                              "fetch_count": ((row or {}).get("fetch_count") or 0) + 1}
    if cap["parent"]:
        common["parent"] = cap["parent"]
    if row is None:
        common["first_seen"] = when
    if cap["type"] == "revisit":
        update = dict(common, status=cap["status"], junk=None)
        if cap["etag"]:
            update["etag"] = cap["etag"]
        if cap["last_modified"]:
            update["last_modified"] = cap["last_modified"]
        state.update(key, **update)
        return
    status, junk = cap["status"], cap["junk"]
    if status == 200 and not junk and cap["role"] in ("list", "report", "attachment"):
        api = method != "GET" or "json" in cap["ctype"]
        junk = suspect_page(cap["body"], cap["ctype"], "api" if api else cap["role"])
    if junk:
        state.update(key, **common, status=status, junk=junk)
    elif status == 200:
        state.update(key, **common, status=200, junk=None, digest=cap["digest"], record_id=cap["id"],
                     record_date=cap["date"], etag=cap["etag"], last_modified=cap["last_modified"],
                     last_changed=when, location=None)
    elif 300 <= status < 400 and cap["location"]:
        location = urljoin(url, cap["location"])
        state.update(key, **common, status=status, location=location, junk=None)
        if state.resolve(url) == url and location != url and (state.get(location) or {}).get("location"):
            state.update(key, junk="redirect_loop")  # the recorded chain comes back here
        elif location == url:
            state.update(key, junk="redirect_loop")
    else:
        state.update(key, **common, status=status)


def _apply_outcome(state: CrawlState, summary: dict[str, Any], wanted: set[str]) -> None:
    # a report listed at an old URL that redirects: the summary names where it led, the spider marked both
    when = summary.get("now") or summary.get("started")
    moved = {m.get("from") for m in summary.get("moved") or [] if isinstance(m, dict)}  # gone from the listing
    for url in _listed_urls(summary):
        for (old,) in state.db.conn.execute("select url from urls where location = ? and url != ?", [url, url]):
            if old not in moved and not (wanted and _host(old) not in wanted):
                state.update(old, last_seen_listed=when)
    for err in summary.get("errors") or []:
        url = err.get("url") or ""
        if (err.get("status") is None and err.get("class") not in (None, "robots_forbidden")
                and err.get("role") in ("report", "attachment") and state.get(url)
                and not (wanted and _host(url) not in wanted)):
            state.update(url, junk=err["class"])
    if summary.get("complete"):
        for url in summary.get("withdrawn") or []:
            if not (wanted and _host(url) not in wanted):
                state.update(url, withdrawn_at=summary["finished"])


def rebuild_state(warc_dir: Path, out: Path, hosts: Iterable[str] = ()) -> dict[str, int]:
    """Write a new crawl state at `out` from the WARC files of `warc_dir` (only `hosts`' URLs when
    given). Reconcile's `warc_files` table is left to the next crawl, which takes the files then present
    as consistent (every one of them was read here)."""
    wanted = {h.lower() for h in hosts}
    state = CrawlState(out)
    files = records = 0
    try:
        for path in warc_paths(Path(warc_dir)):
            captures, requests, summaries = _read(path)
            files += 1
            records += len(captures)
            for summary in summaries:
                _apply_listing(state, summary, wanted)
            for cap in captures:
                if wanted and _host(cap["url"]) not in wanted:
                    continue
                method, body = requests.get(cap["id"], ("GET", b""))
                _apply_capture(state, cap, method, body)
            for summary in summaries:
                _apply_outcome(state, summary, wanted)
        urls = state.db["urls"].count
    finally:
        state.close()
    return {"files": files, "records": records, "urls": urls}
