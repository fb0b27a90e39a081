"""The crawl summaries a build read, on disk: withdrawals are worked out a source at a time.

Each night's summary of a source lists every report URL its column showed, so the summaries grow with
nights × listed URLs, not with reports (at 700k listed URLs, ~60 MB of URLs a night). The build used
to keep every summary it read until `finish()`; now each goes to `temp.summary_log` as it is read (only
what archive/withdrawals.py reads of it: `listing`), and `fill_withdrawals` runs withdrawals' two steps
over one source's summaries at a time — in the order the sources first appeared, as `withdrawals()`
does — with the URL states in `temp.withdrawn_urls`. Memory: one source's summaries and URLs.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import sqlite_utils

from nianbao.archive.withdrawals import apply_listings, follow_moves, listing, source_key

LOG = "temp.summary_log"
STATES = "temp.withdrawn_urls"


def create(db: sqlite_utils.Database) -> None:
    db.conn.execute(f"drop table if exists {LOG}")
    db.conn.execute(f"create table {LOG} (seq integer primary key, source text, data text)")


def log(db: sqlite_utils.Database, seq: int, s: dict) -> None:
    """A summary as read ({"summary": payload, "source": header, …}), `seq` its place in record order."""
    db.conn.execute(f"insert into {LOG} (seq, source, data) values (?, ?, ?)",
                    [seq, source_key(s), json.dumps(listing(s), ensure_ascii=False)])


def by_source(db: sqlite_utils.Database) -> Iterator[list[dict]]:
    """Each source's summary payloads in record order, the sources in the order they first appeared."""
    cur = db.conn.execute(
        f"select l.source, l.data from {LOG} l join (select source, min(seq) as first from {LOG} group by source) f "
        "on f.source = l.source order by f.first, l.seq")
    for _source, rows in itertools.groupby(cur, key=lambda r: r[0]):
        yield [json.loads(data)["summary"] for _, data in rows]


class UrlStates:
    """URL -> withdrawn time (None while listed), in `temp.withdrawn_urls`; what a source changes is held
    until `flush()`."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.changed: dict[str, str | None] = {}

    def get(self, url: str) -> str | None:
        if url in self.changed:
            return self.changed[url]
        row = self.db.execute(f"select at from {STATES} where url = ?", [url]).fetchone()
        return row[0] if row else None

    def __setitem__(self, url: str, when: str | None) -> None:
        self.changed[url] = when

    def flush(self) -> None:
        self.db.conn.executemany(f"insert or replace into {STATES} (url, at) values (?, ?)", self.changed.items())
        self.changed.clear()


def fill_withdrawals(db: sqlite_utils.Database) -> bool:
    """`temp.withdrawn_urls` as `withdrawals()` of every logged summary; False when no URL was listed."""
    db.conn.execute(f"drop table if exists {STATES}")
    db.conn.execute(f"create table {STATES} (url text primary key, at text)")
    states, moved_to = UrlStates(db), {}
    for summaries in by_source(db):
        apply_listings(summaries, states, moved_to)
        states.flush()
    follow_moves(states, moved_to)
    states.flush()
    return db.execute(f"select exists (select 1 from {STATES})").fetchone()[0] == 1
