"""Serve the new archive after `nianbao build` / `nightly` replaces nianbao.db (os.replace).

Why this is needed: Datasette opens one read connection per SQL thread, lazily, keyed by database
name in a thread-local, and keeps it for the life of the process. After a rebuild renames a new file
over nianbao.db, those connections still read the old, deleted file (the site goes stale, new tables
404, and the old file's disk space is never freed).

How: a watcher thread stats the served path every `reload_check_seconds` (2 s). When the file
changes (device, inode, size or mtime), it first writes the new file's inspect data (the counts
immutable serving relies on, nianbao.publish.inspect; views that take too long are left to
Datasette) and then switches: the inspect data and the Database's cached hash/size/counts are
replaced and a generation number goes up. The Database's `execute_fn` is wrapped so every SQL
thread compares its connection's generation with the current one before each query and opens a
fresh connection (through Datasette's own connect + prepare_connection) when it is behind. A query
running on an old connection finishes on the old file; the next one runs on the new file, so no
request fails during the swap. Old connections are closed by their own thread on its next query,
or by the watcher at once when idle (each connection has a lock held while a query runs), so the
deleted file is released.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

DEFAULT_CHECK_SECONDS = 2.0
INSPECT_VIEW_BUDGET_SECONDS = 30.0  # views counted for at most this long in all; the rest Datasette counts


def signature(path: str | os.PathLike) -> tuple[int, int, int, int] | None:
    """What identifies one file at one path: device, inode, size, mtime (None when absent)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class _Conn:
    conn: Any
    generation: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False


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
        self._inspect = inspect
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._local = threading.local()
        self._conns: list[_Conn] = []
        self._conns_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- connections ---------------------------------------------------------------------------

    def install(self) -> None:
        """Wrap the Database's execute_fn (threaded mode only: without an executor Datasette keeps
        one connection on the Database object, which `swap` resets)."""
        original = self.db.execute_fn
        fresh = self

        async def execute_fn(fn):
            ds = fresh.datasette_ref()
            if ds is None or ds.executor is None:
                return await original(fn)
            return await asyncio.get_event_loop().run_in_executor(ds.executor, lambda: fresh.run(fn))

        self.db.execute_fn = execute_fn

    def _connection(self) -> _Conn:
        mine: _Conn | None = getattr(self._local, "conn", None)
        if mine is not None and mine.generation == self.generation and not mine.closed:
            return mine
        if mine is not None:
            self._close(mine, wait=True)
        ds = self.datasette_ref()
        generation = self.generation
        conn = self.db.connect()
        ds._prepare_connection(conn, self.db.name)
        mine = _Conn(conn, generation)
        self._local.conn = mine
        with self._conns_lock:
            self._conns.append(mine)
        return mine

    def run(self, fn):
        """Run `fn(conn)` in this SQL thread on a connection to the file now at the path."""
        while True:
            mine = self._connection()
            with mine.lock:
                if mine.closed:  # the watcher closed it between the check and the lock: open anew
                    continue
                return fn(mine.conn)

    def _close(self, c: _Conn, wait: bool) -> bool:
        if not c.lock.acquire(blocking=wait):
            return False
        try:
            if not c.closed:
                c.closed = True
                try:
                    c.conn.close()
                except Exception:  # noqa: BLE001 - closing a connection never fails a request
                    pass
                try:
                    self.db._all_file_connections.remove(c.conn)
                except (AttributeError, ValueError):
                    pass
        finally:
            c.lock.release()
        with self._conns_lock:
            if c in self._conns:
                self._conns.remove(c)
        return True

    def close_stale(self) -> int:
        """Close connections of older generations that are idle now; returns how many are left."""
        with self._conns_lock:
            stale = [c for c in self._conns if c.generation != self.generation]
        left = 0
        for c in stale:
            if not self._close(c, wait=False):
                left += 1
        return left

    # -- watching ------------------------------------------------------------------------------

    def check(self) -> bool:
        """Swap when the file at the path changed since it was last served; True when swapped."""
        now = signature(self.path)
        if now is None or now == self.signature:
            self.close_stale()
            return False
        started = time.monotonic()
        inspect = None
        if self._inspect is not None:
            try:
                inspect = self._inspect(self.path)
            except Exception as exc:  # noqa: BLE001 - serve the new file without precomputed counts
                self._log(f"nianbao: inspect of the new {self.path.name} failed ({exc}); serving it without")
        if signature(self.path) != now:  # replaced again meanwhile: next round
            return False
        self.swap(now, inspect)
        self._log(f"nianbao: serving the new {self.path.name} (inode {now[1]}, {now[2]:,} bytes), "
                  f"inspected in {time.monotonic() - started:.1f} s")
        return True

    def swap(self, new_signature, inspect: dict | None) -> None:
        ds = self.datasette_ref()
        if ds is not None and inspect is not None and ds.inspect_data is not None:
            ds.inspect_data[self.db.name] = inspect
        self.db.cached_hash = None
        self.db.cached_size = None
        self.db._cached_table_counts = None
        self.db._read_connection = None  # non-threaded mode
        self.signature = new_signature
        self.generation += 1
        self.swaps += 1
        self.last_swap = {"at": time.time(), "inode": new_signature[1], "size": new_signature[2]}
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
                "last_swap": self.last_swap, "check_seconds": self.check_seconds,
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
