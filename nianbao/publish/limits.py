"""What one visitor may cost the public server: the numbers, and the SQLite side of enforcing them.

Datasette lets anyone run read-only SQL (`?sql=`, `?_where=`). Read-only is not harmless: before these
limits `select randomblob(1000000000)` answered 200 with 1.33 GB (7.6 GB peak RSS), and four
10-second queries held every SQL thread so a 1-row page waited 11-21 s (issue 15). The limits work in
layers, each one bounding what the next has to handle:

1. SQLite limits on every connection Datasette opens (`apply_sqlite_limits`, via `prepare_connection`,
   which Datasette calls for each lazily opened per-thread connection): no value over `value_max_bytes`
   (randomblob, zeroblob, printf, replace, group_concat all fail with "string or blob too big"), no
   result wider than `columns_max` columns, no SQL text over `sql_max_chars`. One row therefore holds at
   most columns_max x value_max_bytes.
2. A result budget per statement (`BudgetRows`, the connection's row factory): rows are counted as they
   are fetched and the statement fails once its text and blobs pass `result_max_bytes`, so 1,000 rows of
   1 MB each never reach the renderer.
3. The ASGI guard (nianbao.publish.guard): ad-hoc SQL gets a shorter time limit than canned queries and
   at most `adhoc_concurrency` SQL threads; a generated response over `response_max_mb` is refused,
   a streamed one (CSV `_stream=on`) is cut at Datasette's `max_csv_mb`.

Every number can be overridden under `plugins.nianbao.limits` in datasette-metadata.json.
"""

from __future__ import annotations

import sqlite3
import weakref
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Defaults sized for the archive: its largest stored value is a section's text (a whole report
    page is under 400 KB), its widest table or canned query has 32 columns, its longest canned SQL
    is under 3,000 characters."""

    value_max_bytes: int = 1_000_000        # SQLITE_LIMIT_LENGTH: any string, blob or sorter row
    columns_max: int = 64                    # SQLITE_LIMIT_COLUMN: result, table, index, GROUP BY width
    sql_max_chars: int = 100_000             # SQLITE_LIMIT_SQL_LENGTH
    result_max_bytes: int = 16_000_000       # text characters + blob bytes fetched by one statement
    response_max_mb: int = 32                # a generated (not streamed) response body
    adhoc_time_limit_ms: int = 3_000         # ?sql= and ?_where= (canned queries: sql_time_limit_ms)
    adhoc_concurrency: int = 2               # ad-hoc requests running at once (of num_sql_threads)
    adhoc_queue: int = 8                     # ad-hoc requests waiting for a slot; more get 503
    adhoc_wait_s: float = 10.0               # how long one may wait for a slot before a 503
    stream_concurrency: int = 2              # CSV streams (_stream=on) at once
    stream_queue: int = 4
    stream_wait_s: float = 10.0

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> Limits:
        """Defaults overridden by `plugins.nianbao.limits` (unknown keys are an error, not ignored)."""
        overrides = dict(config or {})
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(f"plugins.nianbao.limits: unknown setting(s) {', '.join(unknown)}")
        base = cls()
        typed = {k: type(getattr(base, k))(v) for k, v in overrides.items()}
        return replace(base, **typed)


class ResultTooLarge(sqlite3.DataError):
    """A statement's rows passed the result budget. A DatabaseError, so Datasette shows it as a query
    error (400, the SQL kept in the form) like any other SQLite error."""


def apply_sqlite_limits(conn: sqlite3.Connection, limits: Limits) -> None:
    """SQLite's own run-time limits (sqlite3_limit), which apply to every statement on `conn`."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.value_max_bytes)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, limits.columns_max)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, limits.sql_max_chars)


class BudgetRows:
    """A row factory that counts what each cursor has fetched and stops it past `max_bytes`.

    Text counts its characters, blobs their bytes, other values 8; the tally is per cursor (weakly
    keyed, so it goes with the cursor), and one connection is used by one thread at a time in
    Datasette, so no lock. Rows are built by `inner` (Datasette's sqlite3.Row) as before.
    """

    __slots__ = ("max_bytes", "inner", "_fetched", "__weakref__")

    def __init__(self, max_bytes: int, inner=sqlite3.Row):
        self.max_bytes = max_bytes
        self.inner = inner
        self._fetched: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __call__(self, cursor: sqlite3.Cursor, row: tuple):
        size = 0
        for value in row:
            kind = value.__class__
            size += len(value) if (kind is str or kind is bytes) else 8
        total = self._fetched.get(cursor, 0) + size
        self._fetched[cursor] = total
        if total > self.max_bytes:
            raise ResultTooLarge(
                f"result too large: this query's rows passed {self.max_bytes:,} bytes "
                "(ask for fewer rows or columns, or shorter values)")
        return self.inner(cursor, row) if self.inner is not None else row


def guard_connection(conn: sqlite3.Connection, limits: Limits) -> None:
    """Both SQLite-side layers on one connection (called from the prepare_connection hook)."""
    apply_sqlite_limits(conn, limits)
    inner = conn.row_factory if conn.row_factory is not None else None
    if not isinstance(inner, BudgetRows):
        conn.row_factory = BudgetRows(limits.result_max_bytes, inner)
