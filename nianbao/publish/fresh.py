"""Serve the new archive after `nianbao build` / `nightly` replaces nianbao.db (os.replace).

Why this is needed: Datasette opens one read connection per SQL thread, lazily, keyed by database
name in a thread-local, and keeps it for the life of the process. After a rebuild renames a new file
over nianbao.db, those connections still read the old, deleted file (the site goes stale, new tables
404, and the old file's disk space is never freed).

How (Datasette's own objects, no restart): the served path is stat'ed at most every
`CHECK_EVERY_REQUEST_SECONDS` by requests and every `reload_check_seconds` (2 s) by a watcher thread.
When the file changed (device, inode, size or mtime) a generation number goes up, the Database's
cached hash/size/counts are reset and its stale inspect entry is dropped (Datasette then counts
live), and the watcher writes the new file's inspect data (nianbao.publish.inspect, views within a
time budget) and installs it when done.

Connections: the Database's `execute_fn` is wrapped so each SQL thread keeps one connection per
generation, opened through Datasette's own `connect` + `prepare_connection` hooks. A request is
pinned to the generation current when it started (ASGI wrapper + a context variable), so all the
queries of one page read one file: a page that began on the old file finishes on it, the next one
reads the new file, and no request fails or mixes the two during the swap. Every generation is
bound to its file, not to the path: when a generation begins (startup, or a swap) one connection to
it is opened at once and checked to have opened the file whose signature the generation carries (the
path stat'ed unchanged before and after the open), and every later connection of that generation is
checked the same way. A query whose thread has no connection of its request's generation, and cannot
open one because the path already holds a newer file, borrows that generation's first connection
(Datasette opens them with check_same_thread=False; each connection's lock serialises use). That
connection stays open while any request pinned to its generation runs (pinning and closing take one
lock), so a page never reads a table from one file and its columns from another (the 400 "syntax
error" once in ~20 swaps under load before).
Connections of an old generation are closed once no request pinned to it is running and they are
idle (each connection's lock is held while a query runs), by the watcher or by their thread, so the
deleted file is let go within seconds.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CHECK_SECONDS = 2.0
CHECK_EVERY_REQUEST_SECONDS = 0.5
INSPECT_VIEW_BUDGET_SECONDS = 30.0  # views counted for at most this long in all; the rest Datasette counts

_PINNED: contextvars.ContextVar[int | None] = contextvars.ContextVar("nianbao_generation", default=None)


def signature(path: str | os.PathLike) -> tuple[int, int, int, int] | None:
    """What identifies one file at one path: device, inode, size, mtime (None when absent)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(eq=False)
class _Conn:
    conn: Any
    generation: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False
    anchor: bool = False  # the generation's first connection, which requests of any thread may borrow


class Freshness:
    """Follows one immutable Database's file across replacements."""

    def __init__(self, datasette, db, check_seconds: float = DEFAULT_CHECK_SECONDS,
                 inspect: Callable[[Path], dict | None] | None = None, log=None):
        self.datasette_ref = weakref.ref(datasette)
        self.db = db
        self.path = Path(db.path)
        self.check_seconds = check_seconds
        self.generation = 0
        self.signature = signature(self.path)
        self.swaps = 0
        self.last_swap: dict | None = None
        self.inspected_generation = 0
        self._inspect = inspect
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._local = threading.local()
        self._conns: list[_Conn] = []
        self._conns_lock = threading.Lock()
        self._swap_lock = threading.Lock()
        self._pin_lock = threading.Lock()  # pinning a request and closing a generation exclude each other
        self._inflight: dict[int, int] = {}
        self._last_check = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- requests ------------------------------------------------------------------------------

    async def serve(self, app, scope, receive, send):
        """ASGI: check the file (throttled) and pin the request to the generation current now."""
        if scope.get("type") != "http":
            return await app(scope, receive, send)
        now = time.monotonic()
        if now - self._last_check >= CHECK_EVERY_REQUEST_SECONDS:
            self._last_check = now
            self.maybe_swap()
        with self._pin_lock:
            generation = self.generation
            self._inflight[generation] = self._inflight.get(generation, 0) + 1
        token = _PINNED.set(generation)
        try:
            return await app(scope, receive, send)
        finally:
            with self._pin_lock:
                self._inflight[generation] -= 1
                if not self._inflight[generation]:
                    del self._inflight[generation]
            _PINNED.reset(token)

    # -- connections ---------------------------------------------------------------------------

    def install(self) -> None:
        """Wrap the Database's execute_fn (threaded mode only: without an executor Datasette keeps
        one connection on the Database object, which a swap resets)."""
        original = self.db.execute_fn
        fresh = self

        async def execute_fn(fn):
            ds = fresh.datasette_ref()
            if ds is None or ds.executor is None:
                return await original(fn)
            pinned = _PINNED.get()
            return await asyncio.get_event_loop().run_in_executor(ds.executor, lambda: fresh.run(fn, pinned))

        self.db.execute_fn = execute_fn
        with self._swap_lock:
            opened = self._open_verified()
            if opened is not None:
                self._add_anchor(*opened)

    def _open_verified(self) -> tuple[Any, tuple[int, int, int, int]] | None:
        """A prepared connection and the signature of the file it opened: the path stat'ed the same
        before and after the open (SQLite opens the file in connect), so it is that file; None when the
        path keeps changing or is gone."""
        ds = self.datasette_ref()
        for _ in range(20):
            before = signature(self.path)
            if before is None or ds is None:
                return None
            conn = self.db.connect()
            if signature(self.path) == before:
                ds._prepare_connection(conn, self.db.name)
                return conn, before
            self._discard(conn)
        return None

    def _discard(self, conn: Any) -> None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing a connection never fails a request
            pass
        try:
            self.db._all_file_connections.remove(conn)
        except (AttributeError, ValueError):
            pass

    def _add_anchor(self, conn: Any, sig: tuple[int, int, int, int]) -> None:
        """Start a generation's life with its first connection (call with the swap lock held)."""
        if sig != self.signature:
            self._begin_generation(sig)
        c = _Conn(conn, self.generation, anchor=True)
        with self._conns_lock:
            self._conns.append(c)

    def _connection(self, pinned: int | None) -> _Conn:
        mine: dict[int, _Conn] = self._local.__dict__.setdefault("conns", {})
        for generation in [g for g, c in mine.items() if c.closed]:
            del mine[generation]
        want = self.generation if pinned is None else pinned
        if want in mine:
            return mine[want]
        if want == self.generation:
            self.maybe_swap()  # the path changed unnoticed? then `want` is no longer the file there
        if want == self.generation:
            opened = self._open_verified()
            if opened is not None:
                conn, sig = opened
                if sig == self.signature and want == self.generation:
                    c = _Conn(conn, want)
                    mine[want] = c
                    with self._conns_lock:
                        self._conns.append(c)
                    for generation in [g for g in mine if g != want]:
                        self._close_if_unused(mine[generation], wait=True)
                    return c
                self._discard(conn)  # the path holds a newer file already: not this request's
        # the request's file is no longer at the path: its generation's connections are still open
        # (a pinned request keeps them), share one
        borrowed = self._open_connection_of(want)
        if borrowed is not None:
            return borrowed
        # not reached while a request is pinned to `want`; a query outside a request reads the newest
        self.maybe_swap()
        with self._conns_lock:
            newest = [c for c in self._conns if c.generation == self.generation and not c.closed]
        if newest:
            return newest[0]
        raise RuntimeError(f"nianbao: no connection to {self.path} (file replaced while opening)")

    def _open_connection_of(self, generation: int) -> _Conn | None:
        with self._conns_lock:
            of = [c for c in self._conns if c.generation == generation and not c.closed]
        return next((c for c in of if c.anchor), of[0] if of else None)

    def run(self, fn, pinned: int | None = None):
        """Run `fn(conn)` in this SQL thread on a connection of the request's generation."""
        while True:
            c = self._connection(pinned)
            with c.lock:
                if c.closed:  # closed by the watcher between the lookup and the lock: open anew
                    continue
                return fn(c.conn)

    def _close_if_unused(self, c: _Conn, wait: bool) -> bool:
        if c.generation == self.generation or self._inflight.get(c.generation):
            return False
        if not c.lock.acquire(blocking=wait):
            return False
        try:
            with self._pin_lock:  # no request can pin this generation meanwhile (it is not current)
                if c.generation == self.generation or self._inflight.get(c.generation):
                    return False
                closing = not c.closed
                c.closed = True
            if closing:
                self._discard(c.conn)
        finally:
            c.lock.release()
        with self._conns_lock:
            if c in self._conns:
                self._conns.remove(c)
        return True

    def close_stale(self) -> int:
        """Close idle connections of older generations no running request needs; returns how many stay."""
        with self._conns_lock:
            stale = [c for c in self._conns if c.generation != self.generation]
        return sum(1 for c in stale if not self._close_if_unused(c, wait=False))

    # -- swapping ------------------------------------------------------------------------------

    def maybe_swap(self) -> bool:
        """Move to a new generation when the file at the path changed; True when it did. The new
        generation starts with a connection opened to its file (which requests may borrow)."""
        now = signature(self.path)
        if now is None or now == self.signature:
            return False
        with self._swap_lock:
            if signature(self.path) == self.signature:
                return False
            opened = self._open_verified()
            if opened is None:
                return False  # the path is changing right now: the next check will see where it settled
            conn, now = opened
            if now == self.signature:
                self._discard(conn)
                return False
            self._add_anchor(conn, now)
        self._log(f"nianbao: serving the new {self.path.name} (inode {now[1]}, {now[2]:,} bytes)")
        return True

    def _begin_generation(self, now: tuple[int, int, int, int]) -> None:
        """Counts, hash and inspect data of the old file dropped; the generation number goes up."""
        ds = self.datasette_ref()
        if ds is not None and ds.inspect_data:
            ds.inspect_data.pop(self.db.name, None)  # the old counts are wrong now: Datasette counts
        self.db.cached_hash = f"pending-{now[1]}-{now[3]}"  # never hash 5 GB on the event loop
        self.db.cached_size = now[2]
        self.db._cached_table_counts = None
        self.db._read_connection = None  # non-threaded mode
        with self._pin_lock:
            self.signature = now
            self.generation += 1
        self.swaps += 1
        self.last_swap = {"at": time.time(), "inode": now[1], "size": now[2], "inspected": False}

    def install_inspect(self, generation: int, data: dict) -> bool:
        """The new file's inspect data, if it is still the file served."""
        ds = self.datasette_ref()
        if ds is None or generation != self.generation:
            return False
        if ds.inspect_data is None:
            ds.inspect_data = {}
        ds.inspect_data[self.db.name] = data
        self.db.cached_hash = None
        self.db.cached_size = None
        self.db._cached_table_counts = None
        self.inspected_generation = generation
        if self.last_swap is not None:
            self.last_swap["inspected"] = True
        return True

    def check(self) -> None:
        """One round of the watcher: swap if needed, inspect the new file, let old files go."""
        self.maybe_swap()
        generation = self.generation
        if self._inspect is not None and generation != self.inspected_generation:
            started = time.monotonic()
            try:
                data = self._inspect(self.path)
            except Exception as exc:  # noqa: BLE001 - Datasette counts live meanwhile
                self._log(f"nianbao: inspect of the new {self.path.name} failed: {exc}")
                self.inspected_generation = generation
            else:
                if self.install_inspect(generation, data):
                    self._log(f"nianbao: counts of the new {self.path.name} ready in "
                              f"{time.monotonic() - started:.1f} s")
        self.close_stale()

    def start(self) -> None:
        if self._thread is not None or self.check_seconds <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="nianbao-fresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.check_seconds):
            if self.datasette_ref() is None:
                return
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - the watcher never dies
                self._log(f"nianbao: checking {self.path} failed: {exc}")

    def status(self) -> dict:
        with self._conns_lock:
            by_generation: dict[int, int] = {}
            for c in self._conns:
                by_generation[c.generation] = by_generation.get(c.generation, 0) + 1
        return {"path": str(self.path), "generation": self.generation, "swaps": self.swaps,
                "inspected_generation": self.inspected_generation, "last_swap": self.last_swap,
                "check_seconds": self.check_seconds,
                "connections": {str(k): v for k, v in sorted(by_generation.items())}}


def inspect_for(db_name: str, view_budget_seconds: float = INSPECT_VIEW_BUDGET_SECONDS) -> Callable[[Path], dict]:
    """The inspect entry for the served database, written beside it too (so the next
    `nianbao serve` start finds it fresh)."""
    import json

    from nianbao.publish.inspect import write_inspect_file

    def run(path: Path) -> dict:
        out = write_inspect_file(path, view_budget_seconds=view_budget_seconds)
        data = json.loads(out.read_text(encoding="utf-8"))
        if db_name in data:
            return data[db_name]
        return next(iter(data.values()))

    return run
