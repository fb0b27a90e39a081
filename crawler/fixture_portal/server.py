"""Serve a laid-out fixture site on 127.0.0.1 (ephemeral port) the way real portals do:
Content-Type with or without charset, ETag/Last-Modified and 304s (where the column supports
them), 301 redirects, 404s, gzip Content-Encoding on some columns, robots.txt. Every request is
logged so tests and the benchmark can count exactly what the crawler fetched.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    conditional: bool
    user_agent: str
    form: dict[str, str] | None = None  # a POST's form fields (the search API's parameters)
    time: float = 0.0  # time.monotonic() when the request was answered
    wall: float = 0.0  # time.time() then (to compare with an HTTP-date)


# An anti-bot gateway page that parsers.junk's markers do not know: a script shell, no text.
UNKNOWN_WAF_PAGE = (b'<!DOCTYPE html><html><head><meta charset="utf-8"><title></title>'
                    b'<script src="/_gw/check.js?v=7"></script><script>var _g=window["\x5f\x67"]||{};'
                    b'_g.t=+new Date();setTimeout(function(){_g.run&&_g.run()},800);</script></head>'
                    b'<body><div id="gw-root"></div><noscript>JS</noscript></body></html>')


@dataclass
class Fault:
    """How a path misbehaves: `status` (that status, extra `headers`, e.g. Retry-After), `empty` (an
    empty 200), `waf` (an unknown gateway's 200 page), `loop` (302 to PATH_loop, which 302s back),
    `reset` (the connection is reset, no answer), `truncate` (the page's first half, then the
    connection closes short of its Content-Length), `charset` (the page with a Content-Type charset
    that lies), `huge` (a `size`-byte 200 streamed from one small buffer, never held in memory),
    `drip` (a 200 of min(`size`, 4096) bytes, one every `interval` s), `trap` (on a list page: the page
    plus a 下一页 link to DIR/index_trap1.html, each trap page linking the next, without end).
    `times` answers left; -1 until `FixturePortal.recover()`."""

    mode: str
    times: int = -1
    status: int = 503
    headers: dict[str, str] | None = None
    retry_after_in: float | None = None  # send Retry-After as an HTTP-date this many seconds ahead
    size: int = 200 * 1024 * 1024  # `huge`: bytes announced and streamed
    interval: float = 1.0  # `drip`: seconds between bytes


TRAP_PAGE = re.compile(r"^(.*/)index_trap(\d+)\.html$")
_CHUNK = b"<!-- " + b"x" * (1024 * 1024 - 9) + b" -->"  # 1 MiB streamed over and over by `huge`


class _Handler(BaseHTTPRequestHandler):
    server_version = "FixtureCMS/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        srv: FixtureServer = self.server.fixture  # type: ignore[attr-defined]
        path = unquote(urlsplit(self.path).path)
        self._nb_path, self._nb_method, self._nb_form = path, "GET", None
        if path in srv.search_paths and srv.search is not None:  # the search service answers GETs too
            form = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            self._nb_form = form
            self._search(srv, path, form)
            return
        self._serve(srv, path)

    def do_POST(self) -> None:  # noqa: N802
        srv: FixtureServer = self.server.fixture  # type: ignore[attr-defined]
        path = unquote(urlsplit(self.path).path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        form = dict(parse_qsl(raw, keep_blank_values=True))
        self._nb_path, self._nb_method, self._nb_form = path, "POST", form
        if path not in srv.search_paths or srv.search is None:
            self._send(405, {"Content-Type": "text/html", "Allow": "GET"}, b"<html><body>405</body></html>")
            return
        self._search(srv, path, form)

    def _search(self, srv: FixtureServer, path: str, form: dict[str, str]) -> int:
        with srv.lock:
            failing = srv.failures.get(path)
            if failing and failing[0] > 0:
                srv.failures[path] = (failing[0] - 1, failing[1])
        if failing and failing[0] > 0:
            return self._send(failing[1], {"Content-Type": "text/html"},
                              b"<html><body><h1>500 Internal Server Error</h1></body></html>")
        status, body = srv.search(form)
        return self._send(status, {"Content-Type": "application/json;charset=UTF-8"}, body)

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> int:
        # Log before answering, so a client that has its answer always finds it in the log.
        srv: FixtureServer = self.server.fixture  # type: ignore[attr-defined]
        conditional = bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))
        with srv.lock:
            srv.log.append(LoggedRequest(getattr(self, "_nb_method", "GET"), self._nb_path, status, conditional,
                                         self.headers.get("User-Agent", ""), getattr(self, "_nb_form", None),
                                         time.monotonic(), time.time()))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        return status

    def _log(self, status: int) -> None:
        srv: FixtureServer = self.server.fixture  # type: ignore[attr-defined]
        conditional = bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))
        with srv.lock:
            srv.log.append(LoggedRequest(getattr(self, "_nb_method", "GET"), self._nb_path, status, conditional,
                                         self.headers.get("User-Agent", ""), getattr(self, "_nb_form", None),
                                         time.monotonic(), time.time()))

    def _abort(self, reset: bool) -> None:
        """Drop the connection: a TCP reset (SO_LINGER 0) or a plain close."""
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        self.connection.close()

    def _stream(self, fault: Fault) -> int:
        """`huge` and `drip`: a 200 whose body is written bit by bit until done or the client leaves."""
        self._log(200)
        size = fault.size if fault.mode == "huge" else min(fault.size, 4096)
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf" if fault.mode == "huge" else "text/html; charset=utf-8")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        try:
            while sent < size:
                if fault.mode == "huge":
                    chunk = memoryview(_CHUNK)[: min(len(_CHUNK), size - sent)]
                else:
                    time.sleep(fault.interval)
                    chunk = memoryview(b" ")
                self.wfile.write(chunk)
                self.wfile.flush()
                sent += len(chunk)
        except OSError:  # the crawler gave up (maxsize, timeout): what the fault is for
            self.close_connection = True
        return 200

    def _fault(self, srv: FixtureServer, path: str) -> int | None:
        trap = TRAP_PAGE.match(path)
        if trap:
            with srv.lock:
                armed = any(f.mode == "trap" and f.times != 0 and p.startswith(trap.group(1))
                            for p, f in srv.faults.items())
            if armed:
                n = int(trap.group(2))
                return self._send(200, {"Content-Type": "text/html; charset=utf-8"},
                                  f'<html><body><ul></ul><a href="./index_trap{n + 1}.html">下一页</a></body></html>'
                                  .encode())
        with srv.lock:
            looped = path.endswith("_loop") and path[:-5] in srv.faults and srv.faults[path[:-5]].mode == "loop"
            fault = srv.faults.get(path[:-5] if looped else path)
            if fault is None or fault.times == 0:
                return None
            if fault.times > 0 and not looped:
                fault.times -= 1
        if fault.mode == "empty":
            return self._send(200, {"Content-Type": "text/html; charset=utf-8"}, b"")
        if fault.mode == "waf":
            return self._send(200, {"Content-Type": "text/html; charset=utf-8"}, UNKNOWN_WAF_PAGE)
        if fault.mode == "loop":
            return self._send(302, {"Location": path[:-5] if looped else path + "_loop", "Content-Type": "text/html"})
        if fault.mode == "reset":
            self._log(0)
            self._abort(reset=True)
            return 0
        if fault.mode in ("huge", "drip"):
            return self._stream(fault)
        if fault.mode in ("truncate", "charset", "trap"):
            self._nb_mode = fault.mode  # the page itself, spoilt by _serve
            return None
        headers = {"Content-Type": "text/html", **(fault.headers or {})}
        if fault.retry_after_in is not None:
            headers["Retry-After"] = formatdate(time.time() + fault.retry_after_in, usegmt=True)
        return self._send(fault.status, headers,
                          f"<html><body><h1>{fault.status}</h1></body></html>".encode())

    def _serve(self, srv: FixtureServer, path: str) -> int:
        self._nb_mode = None
        answered = self._fault(srv, path)
        if answered is not None:
            return answered
        redirects, files = srv.routes()
        with srv.lock:
            failing = srv.failures.get(path)
            if failing and failing[0] > 0:
                srv.failures[path] = (failing[0] - 1, failing[1])
        if failing and failing[0] > 0:
            return self._send(failing[1], {"Content-Type": "text/html", "Retry-After": "1"},
                              b"<html><body><h1>Service Unavailable</h1></body></html>")
        if path in redirects:
            return self._send(301, {"Location": redirects[path], "Content-Type": "text/html"})
        if path.endswith("/"):
            path += "index.html"
        meta = files.get(path)
        file = srv.root / path.lstrip("/")
        if meta is None or not file.is_file():
            body = b"<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>"
            return self._send(404, {"Content-Type": "text/html"}, body)
        data = file.read_bytes()
        headers = {"Content-Type": meta.content_type}
        if meta.validators:
            etag = '"' + hashlib.md5(data).hexdigest()[:16] + '"'
            mtime = file.stat().st_mtime
            headers["ETag"] = etag
            headers["Last-Modified"] = formatdate(mtime, usegmt=True)
            inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            fresh = False
            if inm is not None:
                fresh = etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
            elif ims:
                try:
                    fresh = int(mtime) <= parsedate_to_datetime(ims).timestamp()
                except (TypeError, ValueError):
                    fresh = False
            if fresh:
                return self._send(304, {k: v for k, v in headers.items() if k != "Content-Type"})
        if meta.gzip and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            data = gzip.compress(data, mtime=0)
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
        if self._nb_mode == "charset":
            ctype = headers["Content-Type"].split(";")[0]
            headers["Content-Type"] = f"{ctype}; charset={'utf-8' if 'gb' in meta.content_type.lower() else 'gbk'}"
        elif self._nb_mode == "trap" and "Content-Encoding" not in headers:
            # 下一页 as character references: right whatever the page's charset
            data = data.replace(b"</body>", b'<a href="./index_trap1.html">&#19979;&#19968;&#39029;</a></body>')
        elif self._nb_mode == "truncate":
            self._log(200)
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self._abort(reset=False)
            return 200
        return self._send(200, headers, data)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A crawler killed mid-request resets its connections: expected, not worth a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class FixtureServer:
    """A threaded HTTP server over `root`; `routes()` gives (redirects, file metadata) per request."""

    def __init__(self, root: Path, routes: Callable[[], tuple[dict[str, str], dict[str, Any]]],
                 search: Callable[[dict[str, str]], tuple[int, bytes]] | None = None,
                 search_paths: tuple[str, ...] = ("/fjdzapp/search",)):
        self.root = Path(root)
        self.routes = routes
        self.search = search  # the TRS search service: form fields -> (status, JSON body)
        self.search_paths = search_paths
        self.log: list[LoggedRequest] = []
        self.failures: dict[str, tuple[int, int]] = {}  # path -> (times left, status)
        self.faults: dict[str, Fault] = {}  # path -> how it misbehaves (FixturePortal.fault)
        self.lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.fixture = self  # type: ignore[attr-defined]
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> FixtureServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fixture-portal", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
