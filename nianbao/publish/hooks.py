"""Datasette plugin hooks for the nianbao archive.

- `/-/original/<capture_id>`: a page naming the archived original (source URL, capture time, WARC
  location) with the capture itself in a sandboxed iframe;
- `/-/original/<capture_id>/raw`: the captured body read from its WARC record, served so archived
  scripts can never run in the archive's origin (CSP sandbox without allow-scripts, nothing loaded
  from elsewhere, nosniff);
- `/robots.txt`: index pages, not query endpoints;
- `render_cell`: every `capture_id` cell (tables, views, canned queries) links to its original.

Configured under `plugins.nianbao` in datasette-metadata.json: `warc_dir` (usually
`{"$env": "NIANBAO_WARCS"}`, which `nianbao serve` sets) and `database` (default "nianbao").
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from nianbao.publish.original import (
    CaptureLocation,
    find_capture,
    find_revisit_target,
    is_displayable,
    raw_headers,
    resolve_body,
)
from nianbao.publish.robots import robots_txt
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


def _database(datasette):
    name = _config(datasette).get("database") or "nianbao"
    try:
        return datasette.get_database(name)
    except KeyError:
        raise NotFound(f"database {name!r} is not being served")


async def _location(datasette, request) -> CaptureLocation:
    capture_id = request.url_vars["capture_id"]
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


async def robots(datasette, request) -> Response:
    return Response.text(robots_txt(datasette.setting("base_url") or "/"))


READ_METHODS = {"GET", "HEAD", "OPTIONS"}

# Per connection to the archive (Datasette keeps 3): a 5 GB archive read through SQLite's default
# 2 MB page cache re-reads every page of a common search term's 100,000 sections on each request
# (count, rows, each facet). Memory-mapped reads (capped by SQLite, 2 GB in Debian's build) and a
# larger cache keep them in memory (bench/serve.py).
CONNECTION_PRAGMAS = ("pragma mmap_size = 8589934592", "pragma cache_size = -262144")


@hookimpl
def prepare_connection(conn, database, datasette):
    if database == (_config(datasette).get("database") or "nianbao"):
        for pragma in CONNECTION_PRAGMAS:
            conn.execute(pragma)


@hookimpl
def startup(datasette):
    """Views counted once in the inspect file (nianbao.publish.inspect) give unfiltered view pages
    their row count without re-aggregating millions of cells; Datasette 0.65 would otherwise also
    list those names as tables on the database page, so table_counts() leaves views out there."""

    async def inner():
        for db in list(datasette.databases.values()):
            if db.is_mutable or not (datasette.inspect_data or {}).get(db.name):
                continue
            views = set(await db.view_names())
            original = db.table_counts

            async def table_counts(limit=10, _original=original, _views=views):
                return {k: v for k, v in (await _original(limit)).items() if k not in _views}

            db.table_counts = table_counts

    return inner


@hookimpl
def asgi_wrapper(datasette):
    """The archive is read-only: any other HTTP method gets 405 before Datasette sees it."""

    def wrap(app):
        async def read_only(scope, receive, send):
            if scope.get("type") == "http" and scope.get("method", "GET").upper() not in READ_METHODS:
                await send({"type": "http.response.start", "status": 405,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"allow", b"GET, HEAD, OPTIONS")]})
                await send({"type": "http.response.body",
                            "body": "只读存档 read-only archive: only GET and HEAD\n".encode("utf-8")})
                return
            await app(scope, receive, send)

        return read_only

    return wrap


@hookimpl
def register_routes():
    return [
        (r"^/robots\.txt$", robots),
        (r"^/-/original/(?P<capture_id>[^/]+)/raw$", original_raw),
        (r"^/-/original/(?P<capture_id>[^/]+)$", original_page),
    ]


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """Link capture ids to the archived original, wherever they appear."""
    if value is None or value == "":
        return None
    if is_capture_column(column, table):
        href = datasette.urls.path(f"/-/original/{value}")
        return Markup(
            f'<a class="nianbao-original" href="{html.escape(href)}" '
            f'title="存档原件 / archived original">{html.escape(str(value))} ⧉ 原件</a>'
        )
    return None
