"""Datasette plugin hooks for the nianbao archive.

- `/-/original/<capture_id>`: a page naming the archived original (source URL, capture time, WARC
  location) with the capture itself in a sandboxed iframe;
- `/-/original/<capture_id>/raw`: the captured body read from its WARC record, served so archived
  scripts can never run in the archive's origin (CSP sandbox without allow-scripts, nothing loaded
  from elsewhere, nosniff);
- `/robots.txt`: index pages, not query endpoints;
- `/-/limits.json`: the limits in force, and the ad-hoc queries and CSV streams running or waiting;
- `/-/report/<version_id>`: the report card (nianbao.publish.card, template nianbao_report.html);
- `/-/search?q=…`: search of report text with highlighted excerpts (nianbao.publish.search);
- `/-/fresh.json`: which file generation is served (nianbao.publish.fresh follows a rebuilt nianbao.db);
- `render_cell`: every `capture_id` cell (tables, views, canned queries) links to its original; a
  report's `version_id` (and the agency/title beside it, in reports, report_totals, rule_failures,
  document_versions and canned queries) to its report card, a search hit's section to its anchor;
- limits for a public server (issue 15): SQLite limits and a result budget on every connection
  (`prepare_connection`, nianbao.publish.limits), the request guard (`asgi_wrapper`,
  nianbao.publish.guard: read-only, ad-hoc SQL time limit and concurrency, response caps), and
  concise error logs (`handle_exception`, nianbao.publish.errors, replacing Datasette's default).

Configured under `plugins.nianbao` in datasette-metadata.json: `warc_dir` (usually
`{"$env": "NIANBAO_WARCS"}`, which `nianbao serve` sets), `database` (default "nianbao") and
`limits` (overrides of nianbao.publish.limits.Limits, e.g. `{"adhoc_time_limit_ms": 2000}`) and
`reload_check_seconds` (how often the served file is checked for a rebuild, default 2; 0 = never).
"""

from __future__ import annotations

import html
import os
import re
import weakref
from dataclasses import asdict
from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import BadRequest, NotFound, Response
from markupsafe import Markup

from nianbao.publish import errors
from nianbao.publish.card import load_card
from nianbao.publish.fresh import DEFAULT_CHECK_SECONDS, Freshness, inspect_for
from nianbao.publish.guard import Guard
from nianbao.publish.limits import Limits, guard_connection
from nianbao.publish.original import (
    CaptureLocation,
    capture_id_problem,
    find_capture,
    find_revisit_target,
    is_displayable,
    raw_headers,
    resolve_body,
)
from nianbao.publish.robots import robots_txt
from nianbao.publish.search import search as search_sections
from nianbao.publish.warc import OriginalNotFound

PLUGIN = "nianbao"


def is_capture_column(column: str | None, table: str | None) -> bool:
    """`capture_id`, `*_capture_id` anywhere, and the primary key of `captures`."""
    if not column:
        return False
    return column == "capture_id" or column.endswith("_capture_id") or (table == "captures" and column == "id")


def _config(datasette) -> dict[str, Any]:
    return datasette.plugin_config(PLUGIN) or {}


def warc_dir(datasette) -> Path:
    """Where the WARCs are: plugin config, else $NIANBAO_WARCS, else $NIANBAO_DATA/warcs, else ./data/warcs."""
    configured = _config(datasette).get("warc_dir") or os.environ.get("NIANBAO_WARCS")
    if configured:
        return Path(configured)
    return Path(os.environ.get("NIANBAO_DATA") or "data") / "warcs"


def limits(datasette) -> Limits:
    """The limits in force: nianbao.publish.limits defaults, overridden by `plugins.nianbao.limits`."""
    return Limits.from_config(_config(datasette).get("limits"))


def _database(datasette):
    name = _config(datasette).get("database") or "nianbao"
    try:
        return datasette.get_database(name)
    except KeyError as err:
        raise NotFound(f"database {name!r} is not being served") from err


async def _location(datasette, request) -> CaptureLocation:
    capture_id = request.url_vars["capture_id"]
    problem = capture_id_problem(capture_id)
    if problem:
        raise BadRequest(problem)
    db = _database(datasette)
    location = await db.execute_fn(lambda conn: find_capture(conn, capture_id))
    if location is None:
        raise NotFound(f"no capture {capture_id}")
    return location


async def original_page(datasette, request) -> Response:
    """The viewer page: provenance first, then the capture in an iframe with an empty sandbox."""
    location = await _location(datasette, request)
    raw_url = datasette.urls.path(f"/-/original/{location.capture_id}/raw")
    body = await datasette.render_template(
        "nianbao_original.html",
        {"capture": location, "raw_url": raw_url, "database": _database(datasette).name,
         "displayable": is_displayable(location.content_type)},
        request=request,
    )
    return Response.html(body, headers={"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


async def original_raw(datasette, request) -> Response:
    """The captured body, as received (transfer/content encodings undone), never executable here."""
    location = await _location(datasette, request)
    try:
        record = await _read(datasette, location)
    except OriginalNotFound as exc:
        return Response.text(f"archived original unavailable: {exc}", status=404,
                             headers={"X-Content-Type-Options": "nosniff"})
    content_type, headers = raw_headers(record)
    return Response(record.body, status=200, headers=headers, content_type=content_type)


async def _read(datasette, location: CaptureLocation):
    """Resolve a revisit through the captures table, then read the WARC record off the event loop."""
    import asyncio

    directory = warc_dir(datasette)
    target = location
    if location.record_type == "revisit":
        target = await _database(datasette).execute_fn(lambda conn: find_revisit_target(conn, location))
    return await asyncio.get_running_loop().run_in_executor(
        None, lambda: resolve_body(directory, location, lambda _: target)
    )


async def original_unknown(request) -> Response:
    """Any other address under /-/original/ (an empty id, extra segments): a short 404, not a
    fall-through to Datasette's row route."""
    raise NotFound("no such page: an archived original is at /-/original/ID and its body at "
                   "/-/original/ID/raw, where ID is a capture id (16 hexadecimal digits)")


GUARDS: weakref.WeakKeyDictionary[Any, Guard] = weakref.WeakKeyDictionary()


async def limits_json(datasette) -> Response:
    """/-/limits.json: the limits in force and how many ad-hoc queries and CSV streams run or wait now."""
    guard = GUARDS.get(datasette)
    return Response.json({
        "limits": asdict(limits(datasette)),
        "settings": {name: datasette.setting(name) for name in
                     ("sql_time_limit_ms", "num_sql_threads", "max_returned_rows", "max_csv_mb",
                      "allow_csv_stream", "facet_time_limit_ms")},
        "now": guard.status() if guard else None,
    }, headers={"Cache-Control": "no-store"})


async def robots(datasette, request) -> Response:
    return Response.text(robots_txt(datasette.setting("base_url") or "/"))


# Per connection to the archive (Datasette keeps 3): a 5 GB archive read through SQLite's default
# 2 MB page cache re-reads every page of a common search term's 100,000 sections on each request
# (count, rows, each facet). Memory-mapped reads (capped by SQLite, 2 GB in Debian's build) and a
# larger cache keep them in memory (bench/serve.py).
CONNECTION_PRAGMAS = ("pragma mmap_size = 8589934592", "pragma cache_size = -262144")


@hookimpl
def prepare_connection(conn, database, datasette):
    """Every connection Datasette opens, to any database (its per-thread read connections are opened
    lazily and each goes through this hook): SQLite limits and the result budget; the archive's
    also gets the read pragmas."""
    guard_connection(conn, limits(datasette))
    if database == (_config(datasette).get("database") or "nianbao"):
        for pragma in CONNECTION_PRAGMAS:
            conn.execute(pragma)


@hookimpl
def startup(datasette):
    """Datasette's default exception handler is replaced by `handle_exception` below, and single
    overlong log lines (Datasette's SQL error lines carry the whole SQL, uvicorn's access lines the
    whole URL) are shortened.

    Views counted once in the inspect file (nianbao.publish.inspect) give unfiltered view pages
    their row count without re-aggregating millions of cells; Datasette 0.65 would otherwise also
    list those names as tables on the database page, so table_counts() leaves views out there."""

    from datasette.plugins import pm

    errors.replace_default_handler(pm)
    errors.shorten_stderr()
    errors.shorten_access_log()

    async def inner():
        for db in list(datasette.databases.values()):
            if db.is_mutable or not (datasette.inspect_data or {}).get(db.name):
                continue
            original = db.table_counts

            async def table_counts(limit=10, _original=original, _db=db):
                # views looked up each time: the file may have been replaced (nianbao.publish.fresh)
                views = set(await _db.view_names())
                return {k: v for k, v in (await _original(limit)).items() if k not in views}

            db.table_counts = table_counts
        _follow_rebuilds(datasette)

    return inner


def _follow_rebuilds(datasette) -> None:
    """Serve a rebuilt nianbao.db (os.replace of a new file) without a restart: nianbao.publish.fresh."""
    name = _config(datasette).get("database") or "nianbao"
    db = datasette.databases.get(name)
    if db is None or db.is_memory or not db.path or datasette in FRESH:
        return
    seconds = float(_config(datasette).get("reload_check_seconds", DEFAULT_CHECK_SECONDS))
    inspect = inspect_for(name) if (datasette.inspect_data or {}).get(name) else None
    fresh = Freshness(datasette, db, check_seconds=seconds, inspect=inspect)
    fresh.install()
    fresh.start()
    FRESH[datasette] = fresh


@hookimpl
def asgi_wrapper(datasette):
    """The request guard (nianbao.publish.guard): read-only (405), ad-hoc SQL limits, response caps.
    Streamed responses (CSV `_stream=on`) end at Datasette's `max_csv_mb`, counted in bytes. Inside
    it, each request is pinned to one generation of the served file (nianbao.publish.fresh)."""

    def wrap(app):
        async def pinned(scope, receive, send):
            # nianbao.publish.fresh: every query of one request reads one file across a rebuild
            fresh = FRESH.get(datasette)
            if fresh is None:
                return await app(scope, receive, send)
            return await fresh.serve(app, scope, receive, send)

        wrapped = Guard(pinned, limits(datasette), stream_max_bytes=int(datasette.setting("max_csv_mb")) * 1024 * 1024,
                        base_url=datasette.setting("base_url") or "/")
        GUARDS[datasette] = wrapped
        return wrapped

    return wrap


@hookimpl
def handle_exception(datasette, request, exception):
    return errors.handle_exception(datasette, request, exception)


VERSION_ID = re.compile(r"^[0-9a-f]{16}$")


async def report_card(datasette, request) -> Response:
    """/-/report/<version_id>: one report version as printed, with its findings and originals."""
    version_id = request.url_vars["version_id"]
    if not VERSION_ID.match(version_id):
        raise BadRequest("a report version id is 16 hexadecimal digits")
    db = _database(datasette)
    card = await db.execute_fn(lambda conn: load_card(conn, version_id))
    if card is None:
        raise NotFound(f"no report version {version_id}")
    body = await datasette.render_template(
        "nianbao_report.html", {"card": card, "database": db.name}, request=request)
    return Response.html(body)


async def search_page(datasette, request) -> Response:
    """/-/search?q=…[&year=…][&before=…]: a short page of hits in report text, newest rows first."""
    query = request.args.get("q") or ""
    try:
        before = int(request.args["before"]) if request.args.get("before") else None
        year = int(request.args["year"]) if request.args.get("year") else None
    except ValueError as err:
        raise BadRequest("before and year are whole numbers") from err
    db = _database(datasette)
    results = await db.execute_fn(lambda conn: search_sections(conn, query, before=before, year=year))
    body = await datasette.render_template(
        "nianbao_search.html", {"results": results, "before": before, "database": db.name}, request=request)
    return Response.html(body)


FRESH: weakref.WeakKeyDictionary[Any, Freshness] = weakref.WeakKeyDictionary()


async def fresh_json(datasette) -> Response:
    fresh = FRESH.get(datasette)
    return Response.json(fresh.status() if fresh else None, headers={"Cache-Control": "no-store"})


@hookimpl
def register_routes():
    return [
        (r"^/robots\.txt$", robots),
        (r"^/-/report/(?P<version_id>[^/]+)$", report_card),
        (r"^/-/search$", search_page),
        (r"^/-/fresh\.json$", fresh_json),
        (r"^/-/limits\.json$", limits_json),
        (r"^/-/original/(?P<capture_id>[^/]+)/raw$", original_raw),
        (r"^/-/original/(?P<capture_id>[^/]+)$", original_page),
        (r"^/-/original(?:/.*)?$", original_unknown),
    ]


CARD_ID_COLUMNS = ("version_id", "report_version_id", "other_version_id")
# Tables and views whose agency (or title) cell opens the row's report card.
CARD_ROW_TABLES = ("reports", "report_totals", "rule_failures", None)


def _cell_value(row, key: str):
    """A row's value by column name (sqlite3.Row or Datasette's row), an expanded foreign key's value."""
    try:
        value = row[key]
    except (KeyError, IndexError, TypeError):
        return None
    return value.get("value") if isinstance(value, dict) else value


def _card_link(datasette, version_id: str, text: str, anchor: str = "") -> Markup:
    href = datasette.urls.path(f"/-/report/{version_id}") + anchor
    return Markup(f'<a class="nianbao-card" href="{html.escape(href)}" title="报告卡 report card">'
                  f'{html.escape(text)}</a>')


def report_card_cell(row, value, column, table, datasette) -> Markup | None:
    """Report card links: a version id anywhere; the agency of a report row (reports, report_totals,
    rule_failures, canned queries with a version_id column); a version's title; a search hit's
    section (to its anchor on the card)."""
    label = value.get("label") if isinstance(value, dict) else None
    raw = value.get("value") if isinstance(value, dict) else value
    if column in CARD_ID_COLUMNS and isinstance(raw, str) and VERSION_ID.match(raw):
        return _card_link(datasette, raw, f"{label or raw} ▤")
    if table == "document_versions" and column == "title" and isinstance(raw, str):
        vid = _cell_value(row, "id")
        return _card_link(datasette, vid, raw) if isinstance(vid, str) and VERSION_ID.match(vid) else None
    if column == "agency" and table in CARD_ROW_TABLES and raw:
        vid = _cell_value(row, "version_id")
        if isinstance(vid, str) and VERSION_ID.match(vid):
            return _card_link(datasette, vid, str(label or raw))
    if table == "section_search" and column == "section" and raw is not None:
        vid, number = _cell_value(row, "version_id"), _cell_value(row, "number")
        if isinstance(vid, str) and VERSION_ID.match(vid):
            text = str(label or raw)
            short = text[:120] + ("…" if len(text) > 120 else "")
            return _card_link(datasette, vid, short or "¶", f"#s{number}" if number is not None else "")
    return None


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """Link capture ids to the archived original, and reports to their report card, wherever they appear."""
    if value is None or value == "":
        return None
    if is_capture_column(column, table):
        href = datasette.urls.path(f"/-/original/{value}")
        return Markup(
            f'<a class="nianbao-original" href="{html.escape(href)}" '
            f'title="存档原件 / archived original">{html.escape(str(value))} ⧉ 原件</a>'
        )
    if database == (_config(datasette).get("database") or "nianbao"):
        return report_card_cell(row, value, column, table, datasette)
    return None
