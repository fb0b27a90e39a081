"""Per-source health for operators (`nianbao status`, the nightly summary), read from the archive.

Everything comes from tables the build derives from the WARCs (sources, crawl_summaries, captures,
document_versions, documents, agencies), so health is as reproducible as the archive itself.
A source is judged by:
  - its crawls: last crawl, last success (complete crawl), consecutive failed crawls and the class of
    the failure: first what the crawler recorded as the cause (summary stats `incomplete_cause`:
    list_page_cap, interrupted, search_api), else the class of the errors on list pages (dns,
    refused, timeout, 5xx, 404, http_error, blocked, robots, redirect_loop…), else incomplete;
  - its reports: last new report (first capture of a document's first version), and parse drift
    (a report URL whose newer copy parses worse than the older one: parsed → partial/no_tables/…);
  - the calendar: `empty` when a complete crawl lists no report although earlier crawls did, and
    `overdue` when an agency that published in the two years before has no report for the latest
    year whose deadline has passed (Jan 31 departments/townships, Mar 31 governments:
    nianbao.deadlines), so a quiet July is fine and a missing report in April is not.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from nianbao.deadlines import deadline, latest_due_year

# Statuses ranked for drift: a newer copy of the same page ranked lower has drifted.
STATUS_RANK = {"parsed": 4, "partial": 3, "no_tables": 2, "pre2019": 2, "unreadable": 1, "not_a_report": 1,
               "challenge_page": 0, "login_wall": 0, "not_found_page": 0}
REPORT_STATUSES = ("parsed", "partial", "no_tables", "pre2019")

# Crawl error class names (Twisted/Scrapy exception names, or the crawler's own labels) → health class.
# Scrapy ≥ 2.13 wraps Twisted's errors in its own (CannotResolveHostError, DownloadConnectionRefusedError…).
ERROR_CLASSES = {
    "DNSLookupError": "dns", "gaierror": "dns", "CannotResolveHostError": "dns",
    "ConnectionRefusedError": "refused", "ConnectError": "refused", "DownloadConnectionRefusedError": "refused",
    "TCPTimedOutError": "timeout", "TimeoutError": "timeout", "ResponseNeverReceived": "timeout",
    "DownloadTimeoutError": "timeout", "ConnectionLost": "timeout", "ConnectionDone": "timeout",
    "ResponseDataLossError": "timeout", "DownloadFailedError": "download_error",
    "challenge_page": "blocked", "login_wall": "blocked",
    "not_found_page": "404", "IgnoreRequest": "robots", "robots_forbidden": "robots",
    "unrecognised_page": "blocked", "empty_response": "empty_response", "redirect_loop": "redirect_loop",
    "bad_api_response": "search_api",
}
# Which class names a failed crawl, when several errors are present (most telling first).
CLASS_ORDER = ("dns", "refused", "timeout", "blocked", "5xx", "404", "http_error", "redirect_loop",
               "empty_response", "search_api", "download_error", "robots")
# The crawler's own `incomplete_cause` (crawler/spiders/column.py) that name the failure by themselves;
# `list_errors` and `no_list_page` are explained by the list pages' errors.
CAUSES = ("list_page_cap", "interrupted", "search_api")


def classify_error(error: dict[str, Any]) -> str:
    """One crawl-summary error `{url, status, class}` as a health class."""
    name = str(error.get("class") or "")
    status = error.get("status")
    if name in ERROR_CLASSES:
        return ERROR_CLASSES[name]
    if status in (404, 410):
        return "404"
    if status in (401, 403, 412, 429, 521):
        return "blocked"
    if isinstance(status, int) and status >= 500:
        return "5xx"
    if status:
        return "http_error"
    return name or "error"


def failure_class(errors: list[dict[str, Any]], start_urls: list[str], stats: dict[str, Any] | None = None) -> str:
    """Why a crawl failed. What the crawler recorded first (`stats`: a pagination trap stopped at the
    list-page cap, an interrupted crawl, a failed search API), since detail-page errors (a timeout on
    one report) do not make a crawl incomplete; else the class of the errors on list pages, an error on
    a start URL first, else the most telling error."""
    stats = stats or {}
    cause = stats.get("incomplete_cause") or ("list_page_cap" if stats.get("list_page_cap_hit") else None)
    if cause in CAUSES:
        return cause
    if not errors:
        return "incomplete"
    listing = [e for e in errors if e.get("role") == "list"]
    starts = {u.rstrip("/") for u in start_urls}
    on_start = [e for e in errors if str(e.get("url") or "").rstrip("/").removesuffix("/index.html") in starts
                or str(e.get("url") or "").rstrip("/") in starts]
    classes = [classify_error(e) for e in (on_start or listing or errors)]
    for cls in CLASS_ORDER:
        if cls in classes:
            return cls
    return classes[0]


@dataclass
class SourceHealth:
    source: str
    agency: str | None
    enabled: bool
    state: str = "ok"  # ok | failing | drift | overdue | empty | never_crawled | disabled
    crawls: int = 0
    last_crawl: str | None = None
    last_success: str | None = None
    consecutive_failures: int = 0
    failure_class: str | None = None
    last_errors: dict[str, int] = field(default_factory=dict)  # class -> count in the latest crawl
    last_report_urls: int | None = None
    reports: int = 0
    last_new_report: str | None = None
    last_new_report_title: str | None = None
    drift: list[dict[str, Any]] = field(default_factory=list)
    overdue: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rows(conn: sqlite3.Connection, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _json(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def overdue_reports(conn: sqlite3.Connection, today: date, source: str | None = None) -> list[dict[str, Any]]:
    """Agencies (of `source`, or all) with no report for the latest year past its deadline, although
    they published for one of the two years before. Level from `agencies` (unknown → Mar 31)."""
    where, params = ("and v.source = ?", (source,)) if source else ("", ())
    seen = _rows(conn, f"""
        select v.agency, v.year, a.level from document_versions v left join agencies a on a.name = v.agency
        where v.is_latest = 1 and v.agency is not null and v.year is not null
          and v.status in {REPORT_STATUSES!r} {where}""", params)
    years: dict[str, set[int]] = {}
    levels: dict[str, str | None] = {}
    for r in seen:
        years.setdefault(r["agency"], set()).add(int(r["year"]))
        levels[r["agency"]] = r["level"]
    if source:  # a report of the agency's due year may sit on another source: look everywhere
        every = _rows(conn, f"""select agency, year from document_versions where is_latest = 1
                               and agency is not null and year is not null and status in {REPORT_STATUSES!r}""")
        for r in every:
            if r["agency"] in years:
                years[r["agency"]].add(int(r["year"]))
    out = []
    for agency in sorted(years):
        level = levels[agency]
        due = latest_due_year(level, today)
        have = years[agency]
        if due not in have and ({due - 1, due - 2} & have):
            out.append({"agency": agency, "level": level, "year": due,
                        "deadline": deadline(level, due).isoformat(),
                        "last_year": max(y for y in have if y < due)})
    return out


def _drift(conn: sqlite3.Connection, source: str) -> list[dict[str, Any]]:
    versions = _rows(conn, """
        select document_id, url, version, status, agency, year, first_seen from document_versions
        where source = ? and url is not null order by document_id, url, version""", (source,))
    by_page: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for v in versions:
        by_page.setdefault((v["document_id"], v["url"]), []).append(v)
    out = []
    for (_, url), vs in sorted(by_page.items()):
        if len(vs) < 2:
            continue
        before, now = vs[-2], vs[-1]
        if STATUS_RANK.get(now["status"], 0) < STATUS_RANK.get(before["status"], 0):
            out.append({"agency": now["agency"], "year": now["year"], "url": url, "was": before["status"],
                        "now": now["status"], "since": now["first_seen"]})
    return out


def source_health(db_path: Path, today: date) -> list[SourceHealth]:
    """Health of every source in the archive's `sources` table (plus sources seen only in crawls)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return _source_health(conn, today)
    finally:
        conn.close()


def _source_health(conn: sqlite3.Connection, today: date) -> list[SourceHealth]:
    sources = {r["name"]: r for r in _rows(conn, "select name, agency, enabled, frozen, start_urls from sources")}
    for r in _rows(conn, "select distinct source from crawl_summaries where source is not null"):
        sources.setdefault(r["source"], {"name": r["source"], "agency": None, "enabled": 1, "frozen": 0,
                                         "start_urls": "[]"})
    out = []
    for name in sorted(sources):
        src = sources[name]
        h = SourceHealth(source=name, agency=src["agency"], enabled=bool(src["enabled"]) and not src["frozen"])
        crawls = _rows(conn, """select run_id, finished, complete, n_report_urls, errors, stats from crawl_summaries
                                where source = ? order by finished desc, run_id desc""", (name,))
        h.crawls = len(crawls)
        start_urls = _json(src["start_urls"], [])
        if crawls:
            latest = crawls[0]
            h.last_crawl = latest["finished"]
            h.last_report_urls = latest["n_report_urls"]
            h.last_errors = dict(Counter(classify_error(e) for e in _json(latest["errors"], [])))
            h.last_success = next((c["finished"] for c in crawls if c["complete"]), None)
            for c in crawls:
                if c["complete"]:
                    break
                h.consecutive_failures += 1
            if h.consecutive_failures:
                h.failure_class = failure_class(_json(latest["errors"], []), start_urls, _json(latest["stats"], {}))
                h.problems.append(f"{h.consecutive_failures} failed crawl(s) in a row ({h.failure_class})")
            complete = [c for c in crawls if c["complete"]]
            if complete and not complete[0]["n_report_urls"] and any(c["n_report_urls"] for c in complete[1:]):
                h.problems.append("empty: the column lists no report any more")
                if not h.consecutive_failures:
                    h.failure_class = "empty"
        first = _rows(conn, f"""
            select v.first_seen, v.title, v.agency, v.year from document_versions v
            where v.source = ? and v.version = 1 and v.agency is not null and v.year is not null
              and v.status in {REPORT_STATUSES + ('not_a_report',)!r}
            order by v.first_seen desc limit 1""", (name,))
        if first:
            h.last_new_report = first[0]["first_seen"]
            h.last_new_report_title = first[0]["title"] or f"{first[0]['agency']} {first[0]['year']}"
        h.reports = _rows(conn, f"""select count(*) as n from document_versions where source = ?
                                   and is_latest = 1 and year is not null and status in {REPORT_STATUSES!r}""",
                          (name,))[0]["n"]
        h.drift = _drift(conn, name)
        if h.drift:
            h.problems.append(f"parse drift on {len(h.drift)} report(s) "
                              f"({', '.join(sorted({d['was'] + '→' + d['now'] for d in h.drift}))})")
        h.overdue = overdue_reports(conn, today, name)
        for o in h.overdue:
            h.problems.append(f"overdue: {o['agency']} {o['year']} (deadline {o['deadline']})")
        if not h.enabled:
            h.state = "disabled"
        elif not h.crawls:
            h.state = "never_crawled"
        elif h.consecutive_failures:
            h.state = "failing"
        elif h.failure_class == "empty":
            h.state = "empty"
        elif h.drift:
            h.state = "drift"
        elif h.overdue:
            h.state = "overdue"
        out.append(h)
    return out
