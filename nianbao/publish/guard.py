"""The ASGI guard in front of Datasette: what one request may cost, decided from its path and query.

Datasette 0.65 has one `sql_time_limit_ms` and one pool of `num_sql_threads` for everything, so a few
slow ad-hoc queries used to hold every thread while a 1-row table page waited behind them (issue 15).
This wrapper tells requests apart before Datasette sees them:

- ad-hoc SQL — `/<db>?sql=` (any format: .json, .csv, .blob), table pages with `?_where=` or
  `?_searchmode=raw` — runs
  under `adhoc_time_limit_ms`, applied through Datasette's own `_timelimit` parameter (which can only
  lower `sql_time_limit_ms`, the canned queries' limit; a visitor's larger `_timelimit` is clamped;
  such table pages also skip their count, which `_timelimit` does not reach), and at most
  `adhoc_concurrency` of them run at once, so the other SQL threads always remain for table, row and
  canned-query pages. A slot is given back when the response starts (the SQL is done by then). Up to
  `adhoc_queue` more wait (for `adhoc_wait_s` at most); beyond that a visitor gets 503 + Retry-After.
- CSV streams (`_stream=on`) get their own, equally small, gate, held for the whole stream (a table's
  stream runs one query per 1,000 rows as it goes).
- Every generated response is measured: a whole body over `response_max_mb` is replaced by a 400 that
  says so; a streamed body (CSV) ends, with a note, before the row that would take it past
  Datasette's `max_csv_mb` in bytes (Datasette counts characters and appends "CSV contains more than
  N bytes" at its own limit, so ASCII hits Datasette's note, Chinese text the guard's first). Files —
  static assets, archived originals (at most the crawler's 64 MB), the database download — are not
  capped.
- Anything but GET/HEAD/OPTIONS gets 405 (the archive is read-only); a `_timelimit` that is not a
  positive whole number gets 400 (Datasette's int() would make it a 500).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from nianbao.publish.limits import Limits

Scope = dict[str, Any]
Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]
App = Callable[..., Awaitable[None]]

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
DATABASE_PAGE = re.compile(r"^/[^/.]+(?:\.\w+)?$")          # /nianbao, /nianbao.json, /nianbao.csv
TABLE_PAGE = re.compile(r"^/[^/.]+/[^/.]+(?:\.\w+)?$")       # /nianbao/requests(.json)
UNCAPPED = re.compile(r"^/(?:-/static/|-/static-plugins/|-/original/|[^/.]+\.db$)")


@dataclass(frozen=True)
class Kind:
    """What the guard decided about one request."""

    adhoc: bool = False
    stream: bool = False
    capped: bool = True


def route_path(path: str, base_url: str = "/") -> str:
    """The path Datasette routes on: without the base_url prefix."""
    if base_url not in ("", "/") and path.startswith(base_url):
        return "/" + path[len(base_url):]
    return path


def classify(path: str, args: list[tuple[str, str]]) -> Kind:
    """Ad-hoc: SQL a visitor wrote — `?sql=` on a database page; `?_where=` (an SQL expression) or
    `?_searchmode=raw` (an FTS5 expression: OR, NEAR, prefixes) on a table page."""
    keys = {k for k, v in args if v != ""}
    raw_search = ("_searchmode", "raw") in args
    adhoc = bool((DATABASE_PAGE.match(path) and "sql" in keys)
                 or (TABLE_PAGE.match(path) and ("_where" in keys or raw_search)))
    return Kind(adhoc=adhoc, stream="_stream" in keys, capped=not UNCAPPED.match(path))


class BadTimeLimit(ValueError):
    pass


def requested_time_limit(args: list[tuple[str, str]]) -> int | None:
    """`_timelimit` as Datasette reads it (the first value), or None; garbage is a client error here
    rather than Datasette's int() failing with a 500."""
    values = [v for k, v in args if k == "_timelimit" and v != ""]
    if not values:
        return None
    try:
        limit = int(values[0])
    except ValueError:
        raise BadTimeLimit("_timelimit must be a whole number of milliseconds") from None
    if limit <= 0:
        raise BadTimeLimit("_timelimit must be a positive number of milliseconds")
    return limit


def with_query(query_string: bytes, drop: set[str], add: dict[str, str]) -> bytes:
    """The query string with `drop` keys removed and `add` appended, other parameters byte for byte."""
    def key(part: bytes) -> str:
        return unquote_plus(part.split(b"=", 1)[0].decode("latin-1"))

    kept = [part for part in query_string.split(b"&") if part and key(part) not in drop]
    kept += [f"{k}={v}".encode("ascii") for k, v in add.items()]
    return b"&".join(kept)


class Busy(Exception):
    pass


class Gate:
    """At most `limit` requests inside at once; up to `queue` wait, each for `wait_s` at most."""

    def __init__(self, name: str, limit: int, queue: int, wait_s: float):
        self.name, self.limit, self.queue, self.wait_s = name, limit, queue, wait_s
        self.running = 0
        self.waiting = 0
        self._slots: asyncio.Semaphore | None = None

    async def acquire(self) -> Slot:
        """A slot, after waiting in the queue if all are taken; Busy if the queue is full or the wait
        runs out."""
        if self._slots is None:  # created on the serving loop
            self._slots = asyncio.Semaphore(self.limit)
        if self._slots.locked() and self.waiting >= self.queue:
            raise Busy(f"{self.running} {self.name} running and {self.waiting} waiting")
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_s)
        except TimeoutError:
            raise Busy(f"no {self.name} slot within {self.wait_s:g} s") from None
        finally:
            self.waiting -= 1
        self.running += 1
        return Slot(self)

    def _release(self) -> None:
        self.running -= 1
        assert self._slots is not None
        self._slots.release()


class Slot:
    """One request's place in a Gate; released once, however many times `release` is called."""

    def __init__(self, gate: Gate):
        self._gate: Gate | None = gate

    def release(self) -> None:
        if self._gate is not None:
            self._gate._release()
            self._gate = None

    def on_start(self, send: Send) -> Send:
        """`send` that gives the slot back when the response starts: an ad-hoc query's SQL is done by
        then (Datasette renders the whole page, or fetches a CSV query's rows, before it starts), so a
        client reading slowly does not keep ad-hoc SQL from others."""
        async def releasing(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.release()
            await send(message)
        return releasing


def error_response(status: int, message: str, path: str, extra: list[tuple[bytes, bytes]] = ()) -> list[Message]:
    """A short error in the request's format (JSON for .json, text for .csv, else a small HTML page)."""
    if path.endswith(".json"):
        body = json.dumps({"ok": False, "error": message, "status": status}, ensure_ascii=False)
        content_type = b"application/json; charset=utf-8"
    elif path.endswith((".csv", ".tsv", ".txt")):
        body, content_type = message + "\n", b"text/plain; charset=utf-8"
    else:
        body = (f"<!DOCTYPE html><html lang=\"zh\"><meta charset=\"utf-8\"><title>{status}</title>"
                f"<h1>{status}</h1><p>{escape(message)}</p><p><a href=\"/\">存档首页 archive home</a></p></html>\n")
        content_type = b"text/html; charset=utf-8"
    data = body.encode("utf-8")
    headers = [(b"content-type", content_type), (b"content-length", str(len(data)).encode()),
               (b"cache-control", b"no-store"), *extra]
    return [{"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": data}]


class CappedSend:
    """Wraps `send`: holds the response start until the first body message shows whether the body
    is whole (one message: Datasette's Response) or streamed (more_body: Datasette's AsgiStream, one
    message per CSV row). A whole body over `whole_max` is replaced by a 400; a stream ends before
    the first message that would take it past `stream_max`, with a note, and whatever the producer
    sends after that is dropped (Datasette's own max_csv_mb stops it soon after)."""

    def __init__(self, send: Send, path: str, whole_max: int, stream_max: int):
        self.send, self.path, self.whole_max, self.stream_max = send, path, whole_max, stream_max
        self.start: Message | None = None
        self.streaming = False
        self.sent = 0
        self.done = False

    async def __call__(self, message: Message) -> None:
        if self.done:
            return
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] != "http.response.body":
            await self.send(message)
            return
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if self.start is not None:
            start, self.start = self.start, None
            if not more and len(body) > self.whole_max:
                self.done = True
                await send_all(self.send, error_response(
                    400, f"response too large: {len(body) / 1_000_000:.1f} MB, over the "
                    f"{self.whole_max / 1_000_000:g} MB limit (ask for fewer rows or columns; "
                    "a whole table: CSV with _stream=on)", self.path))
                return
            await self.send(start)
            self.streaming = more
        if self.streaming and self.sent + len(body) > self.stream_max:
            self.done = True
            note = f"\nresponse cut at {self.sent:,} bytes (limit {self.stream_max:,})\n".encode()
            await self.send({"type": "http.response.body", "body": note, "more_body": False})
            return
        self.sent += len(body)
        await self.send(message)


class Guard:
    """The wrapper itself (see the module docstring); `gates` are read by /-/limits.json."""

    def __init__(self, app: App, limits: Limits, *, stream_max_bytes: int, base_url: str = "/"):
        self.app, self.limits, self.base_url = app, limits, base_url
        self.stream_max_bytes = stream_max_bytes
        self.adhoc = Gate("ad-hoc SQL queries", limits.adhoc_concurrency, limits.adhoc_queue, limits.adhoc_wait_s)
        self.streams = Gate("CSV streams", limits.stream_concurrency, limits.stream_queue, limits.stream_wait_s)

    def status(self) -> dict[str, Any]:
        return {gate.name: {"running": gate.running, "waiting": gate.waiting, "limit": gate.limit,
                            "queue": gate.queue} for gate in (self.adhoc, self.streams)}

    async def __call__(self, scope: Scope, receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope.get("path", "/"), self.base_url)
        if scope.get("method", "GET").upper() not in READ_METHODS:
            await send_all(send, error_response(405, "只读存档 read-only archive: only GET and HEAD", path,
                                                [(b"allow", b"GET, HEAD, OPTIONS")]))
            return
        query = scope.get("query_string", b"")
        args = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        kind = classify(path, args)
        try:
            asked = requested_time_limit(args)
        except BadTimeLimit as exc:
            await send_all(send, error_response(400, str(exc), path))
            return
        if kind.adhoc:
            limit = min(asked or self.limits.adhoc_time_limit_ms, self.limits.adhoc_time_limit_ms)
            add = {"_timelimit": str(limit)}
            if TABLE_PAGE.match(path):
                add["_nocount"] = "1"
            scope = dict(scope, query_string=with_query(query, set(add), add))
        capped = CappedSend(send, path, self.limits.response_max_mb * 1_000_000, self.stream_max_bytes) \
            if kind.capped else None
        out: Send = capped or send
        gate = self.adhoc if kind.adhoc else self.streams if kind.stream else None
        slot = None
        if gate is not None:
            try:
                slot = await gate.acquire()
            except Busy as exc:
                await send_all(send, error_response(503, f"server busy: {exc}; try again shortly", path,
                                                    [(b"retry-after", b"5")]))
                return
            if kind.adhoc:
                out = slot.on_start(out)
        try:
            await self.app(scope, receive, out)
        finally:
            if slot is not None:
                slot.release()
        if capped is not None and capped.start is not None:  # a start with no body message after it
            await send(capped.start)


async def send_all(send: Send, messages: list[Message]) -> None:
    for message in messages:
        await send(message)
