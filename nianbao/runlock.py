"""Lock files so runs that must not overlap never do: two nightly runs (a slow one and the next cron
tick), and a crawl (writing WARCs) and a build (reading them): both take the data lock
(`DataDir.lock`, `<data>/.crawl.lock`), so a build never reads a WARC being written."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RunLocked(RuntimeError):
    """Another run holds the lock; the message names its pid."""


def _acquire(handle, wait: float | None) -> bool:
    """flock: at once (wait None or 0), blocking (wait inf), or polling until `wait` seconds passed."""
    if wait is not None and wait == float("inf"):
        fcntl.flock(handle, fcntl.LOCK_EX)
        return True
    deadline = time.monotonic() + (wait or 0)
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


@contextmanager
def run_lock(path: Path, wait: float | None = None) -> Iterator[None]:
    """Hold an exclusive flock on `path` for the duration of the run: refused at once (RunLocked) when
    another run holds it, or after waiting up to `wait` seconds (float("inf"): as long as it takes).

    flock (not a pid file) so a crashed run never leaves a stale lock behind: the kernel drops it.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
    except OSError as exc:
        # a read-only data directory (WARCs on read-only media, the database written elsewhere):
        # an existing lock file still locks read-only; on a read-only file system without one
        # nobody can be writing there, so there is nothing to exclude
        if path.is_file():
            handle = open(path)
        elif exc.errno == errno.EROFS:
            yield
            return
        else:
            raise
    with handle:
        if not _acquire(handle, wait):
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            waited = f" after waiting {wait:g}s" if wait else ""
            raise RunLocked(f"another nianbao run holds {path} (pid {holder}){waited}")
        writable = handle.mode != "r"
        if writable:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
        try:
            yield
        finally:
            if writable:
                handle.seek(0)
                handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
