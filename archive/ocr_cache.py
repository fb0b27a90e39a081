"""The build's OCR cache: <data>/ocr_cache.db, results of parsers.ocr kept by payload digest.

Why: OCR costs seconds a page and a rebuild reads every scan again; parsers.ocr looks a scan up
by `ocr:{OCR_VERSION}:{pdf|images}:{dpi}:{sha1 of the payload}` before calling tesseract, so a
rebuild of an archive whose scans were read before makes no OCR call. The parser stays pure: the
build hands this object to parse_document as `cache=` (get/put, values JSON-able).

One SQLite file beside the archive (not inside it: the archive is rebuilt from scratch into a new
file, the cache must outlive it). Each process opens its own connection on first use (build
workers are forked: a connection must not cross a fork); WAL and a busy timeout let workers write
at once. A failing cache is a miss (parsers.ocr ignores its errors), never a failed build.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

FILE_NAME = "ocr_cache.db"


class OcrCache:
    """get(key) -> value or None; put(key, value). Keys and values as parsers.ocr makes them."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._inherited: list[sqlite3.Connection] = []  # a parent's connection, never touched in a child

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            if self._conn is not None:  # forked: closing the parent's connection here could drop its locks
                self._inherited.append(self._conn)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("pragma journal_mode = wal")
            conn.execute("create table if not exists ocr (key text primary key, value text not null)")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get(self, key: str) -> Any:
        row = self._connection().execute("select value from ocr where key = ?", [key]).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        self._connection().execute("insert or replace into ocr (key, value) values (?, ?)",
                                   [key, json.dumps(value, ensure_ascii=False)])

    def __len__(self) -> int:
        return self._connection().execute("select count(*) from ocr").fetchone()[0]

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def __getstate__(self) -> dict:  # sent to a worker: the path only, the worker opens its own
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"])
