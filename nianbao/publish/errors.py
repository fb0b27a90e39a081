"""Error pages and error logging for the public server: one short line per client error.

Datasette 0.65's default `handle_exception` prints every exception, 404s included, with
rich's `print_exception(show_locals=True)`: ~46 KB of boxed traceback and local variables (the
request, the SQL, the database object) per visitor mistake, and a 404 raised without an exception
(`/-/original//raw` falls through to Datasette's own 404) makes rich itself fail — a 500 (issue 15).

`handle_exception` here replaces that default (the `startup` hook unregisters it; pluggy calls every
handle_exception implementation, so returning first would not stop its printing): the same error
pages (Datasette's error.html, JSON for .json), and on stderr one line for a 4xx — status, method,
path, reason, each shortened — and a plain traceback (no locals) for a 5xx.

`ShortLines` shortens any single line written to stderr past a bound: Datasette writes
"ERROR: conn=…, sql = <the whole SQL>, params = …: <error>" for each failing query. `ShortAccessLog`,
a logging filter on uvicorn's access logger, does the same for the request target in its access line
(a `?sql=` URL can be 16 KB).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import sys
import traceback
from typing import TextIO

from datasette.utils import add_cors_headers
from datasette.utils.asgi import Base400, Response
from datasette.views.base import DatasetteError
from markupsafe import Markup

DEFAULT_HANDLER = "datasette.handle_exception"
MAX_LOG_LINE = 300
TAG = re.compile(r"<[^>]+>")
SPACE = re.compile(r"\s+")


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(message: object, limit: int = 160) -> str:
    """An error message as one line of plain text: tags dropped, whitespace collapsed, shortened."""
    return shorten(SPACE.sub(" ", TAG.sub(" ", str(message))).strip(), limit)


def client_error_line(status: int, method: str, path: str, query: str, message: object) -> str:
    target = path + ("?" + query if query else "")
    return shorten(f"nianbao: {status} {method} {shorten(target, 120)}: {one_line(message)}", MAX_LOG_LINE)


def classify(exception: BaseException) -> tuple[int, dict, object, str | None]:
    """(status, extra JSON fields, message, title) as Datasette's default handler decides them, except
    that two kinds of client error Datasette reports as 500 are 400 here: a DatasetteError left at its
    default status (Datasette raises it with a message about the request: "Cannot sort table by x",
    "Invalid _through"), and a value or result SQLite or the result budget refused (sqlite3.DataError:
    "string or blob too big", nianbao.publish.limits.ResultTooLarge) on a table page, where Datasette
    does not catch it."""
    if isinstance(exception, Base400):
        return exception.status, {}, exception.args[0] if exception.args else "", None
    if isinstance(exception, DatasetteError):
        message = Markup(exception.message) if exception.message_is_html else exception.message
        status = 400 if exception.status == 500 else exception.status
        return status, dict(exception.error_dict), message, exception.title
    if isinstance(exception, sqlite3.DataError):
        return 400, {}, str(exception), "Query refused"
    return 500, {}, str(exception), None


def handle_exception(datasette, request, exception):
    """The error page (as Datasette renders it) and one concise log entry."""

    async def inner():
        status, info, message, title = classify(exception)
        if status < 500:
            sys.stderr.write(client_error_line(status, request.method, request.path, request.query_string,
                                               message) + "\n")
        else:
            sys.stderr.write(f"nianbao: {status} {request.method} {shorten(request.path, 120)}\n")
            traceback.print_exception(exception, file=sys.stderr)
        sys.stderr.flush()
        info.update({"ok": False, "error": message, "status": status, "title": title})
        headers: dict[str, str] = {}
        if datasette.cors:
            add_cors_headers(headers)
        if request.path.split("?")[0].endswith(".json"):
            return Response.json(info, status=status, headers=headers)
        template = datasette.jinja_env.select_template([f"{status}.html", "error.html"])
        body = await template.render_async(dict(info, urls=datasette.urls, app_css_hash=datasette.app_css_hash(),
                                                menu_links=lambda: []))
        return Response.html(body, status=status, headers=headers)

    return inner


def replace_default_handler(plugin_manager) -> bool:
    """Unregister Datasette's rich-printing default handler; True if it was registered."""
    if plugin_manager.get_plugin(DEFAULT_HANDLER) is None:
        return False
    plugin_manager.unregister(name=DEFAULT_HANDLER)
    return True


class ShortLines:
    """A stderr proxy that shortens overlong single writes (one logged line each), passing all else."""

    def __init__(self, stream: TextIO, limit: int = MAX_LOG_LINE):
        self._stream = stream
        self._limit = limit

    def write(self, text: str) -> int:
        if len(text) > self._limit and "\n" not in text.rstrip("\n"):
            note = f" [{len(text):,} chars]"
            text = shorten(text.rstrip("\n"), self._limit - len(note)) + note + "\n"
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def shorten_stderr(limit: int = MAX_LOG_LINE) -> None:
    if not isinstance(sys.stderr, ShortLines):
        sys.stderr = ShortLines(sys.stderr, limit)


class ShortAccessLog(logging.Filter):
    """Shortens long string arguments of a log record (uvicorn's access line: client, method, target…)."""

    def __init__(self, limit: int = 200):
        super().__init__()
        self.limit = limit

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and len(a) > self.limit for a in record.args):
            record.args = tuple(shorten(a, self.limit) if isinstance(a, str) else a for a in record.args)
        return True


def shorten_access_log(logger_name: str = "uvicorn.access") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, ShortAccessLog) for f in logger.filters):
        logger.addFilter(ShortAccessLog())
