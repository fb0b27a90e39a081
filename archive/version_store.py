"""The build's versions on disk: a TEMP table, so the build's memory does not grow with the archive.

A build must remember every version until its end (version numbers, latest versions, carry chains,
withdrawals and the metadata rows are known only then). Held as Python objects that cost ~2.7 KB a
report (versions, captures, the digest index): 270 MB at 100,000 reports, 1.9 GB at 700,000. Here a
version lives in memory only while its rows are being buffered (archive/builder.py `live`); at each
flush it is written to `temp.build_versions` and `finish()` reads them back in the order each step
needs (by document, by agency and year, by output order), a chunk at a time. What can be derived from
the captures table is not kept at all: first/last seen and the URLs a version was seen at.

The TEMP table lives in SQLite's temporary file (`pragma temp_store = file`), never in the archive,
and vanishes with the connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import sqlite_utils

from nianbao.archive.version import Version

TABLE = "temp.build_versions"
TEMP_CACHE_MB = 8  # page cache of the temporary database (the default 2 MB thrashes on random updates)

# Version field -> column (the order of both); warnings and documents are JSON, chain is the packed blob.
_FIELDS = ("id", "document_id", "document_key", "agency", "year", "edition", "status", "title", "published",
           "url", "source", "digest", "first_seen", "last_seen", "parser_version", "capture_id", "order",
           "n_cells", "n_rule_failures", "warnings", "chain", "version", "is_latest", "withdrawn_at",
           "documents", "sections")
COLUMNS = tuple("ord" if f == "order" else f for f in _FIELDS if f != "sections") + ("sections_lo", "sections_hi")
SELECT = ", ".join(COLUMNS)
_SELECT_V = ", ".join(f"v.{c}" for c in COLUMNS)  # the table is `v` in the queries of `stream`
_N_SCALAR = len(_FIELDS) - 1  # every field but sections (two columns)
_WARNINGS, _DOCUMENTS = _FIELDS.index("warnings"), _FIELDS.index("documents")


def create(db: sqlite_utils.Database) -> None:
    """The empty table (ids unique; the order each reader needs is sorted by the query)."""
    db.conn.execute(f"pragma temp.cache_size = -{TEMP_CACHE_MB * 1024}")
    db.conn.execute(f"drop table if exists {TABLE}")
    db.conn.execute(f"create table {TABLE} ({', '.join(COLUMNS)}, primary key (id))")


def row(v: Version) -> tuple:
    """A version as a build_versions row."""
    return (v.id, v.document_id, v.document_key, v.agency, v.year, v.edition, v.status, v.title, v.published,
            v.url, v.source, v.digest, v.first_seen, v.last_seen, v.parser_version, v.capture_id, v.order,
            v.n_cells, v.n_rule_failures, json.dumps(v.warnings, ensure_ascii=False) if v.warnings else None,
            v.chain, v.version, v.is_latest, v.withdrawn_at,
            json.dumps(v.documents, ensure_ascii=False) if v.documents else None, v.sections[0], v.sections[1])


def version(r: tuple) -> Version:
    """A build_versions row (selected as SELECT) as a Version."""
    values = list(r[:_N_SCALAR])
    values[_WARNINGS] = json.loads(values[_WARNINGS]) if values[_WARNINGS] else []
    values[_DOCUMENTS] = [tuple(d) for d in json.loads(values[_DOCUMENTS])] if values[_DOCUMENTS] else None
    return Version(*values, sections=(r[_N_SCALAR], r[_N_SCALAR + 1]))


def put(db: sqlite_utils.Database, versions: Iterable[Version]) -> None:
    marks = ", ".join("?" for _ in COLUMNS)
    db.conn.executemany(f"insert or replace into {TABLE} ({SELECT}) values ({marks})", (row(v) for v in versions))


def get(db: sqlite_utils.Database, version_id: str) -> Version | None:
    r = db.execute(f"select {SELECT} from {TABLE} where id = ?", [version_id]).fetchone()
    return version(r) if r else None


def delete(db: sqlite_utils.Database, ids: Iterable[str]) -> None:
    db.conn.executemany(f"delete from {TABLE} where id = ?", ((i,) for i in ids))


def stream(db: sqlite_utils.Database, tail: str = "", params: Iterable[Any] = (),
           chunk: int = 2000) -> Iterator[Version]:
    """The versions `tail` (joins, WHERE, ORDER BY; the table is `v`) selects, read a chunk at a time."""
    cur = db.conn.execute(f"select {_SELECT_V} from {TABLE} v {tail}", list(params))
    while rows := cur.fetchmany(chunk):
        yield from map(version, rows)


def stream_with(db: sqlite_utils.Database, extra: str, tail: str, params: Iterable[Any] = (),
                chunk: int = 2000) -> Iterator[tuple]:
    """(version, *extra columns) for each row `tail` selects (`extra`: columns of its joins)."""
    cur = db.conn.execute(f"select {_SELECT_V}, {extra} from {TABLE} v {tail}", list(params))
    n = len(COLUMNS)
    while rows := cur.fetchmany(chunk):
        for r in rows:
            yield (version(r), *r[n:])


def roles_select(key: str, where: str, joins: str = "") -> str:
    """SELECT (key, role) over `captures c` grouped by `key` (a version's or a part's id): the WARC role
    of its document — `attachment` if any capture was one, else `report` if any was (a role-less
    capture or a file counts as a report), else the first capture's, whatever the record order."""
    role = "coalesce(nullif(c.role, ''), 'report')"
    rows = f"from captures c {joins} where {where} group by {key}"
    return (f"select f.k, case when g.a then 'attachment' when g.r then 'report' else f.role end from "
            f"(select {key} as k, {role} as role, min(c.rowid) {rows}) f join "
            f"(select {key} as k, max(c.role = 'attachment') as a, max({role} = 'report') as r {rows}) g "
            "on g.k = f.k")


def update(db: sqlite_utils.Database, assignments: str, rows: Iterable[tuple]) -> None:
    """`update build_versions set <assignments> where id = ?` for each row (its id last)."""
    db.conn.executemany(f"update {TABLE} set {assignments} where id = ?", rows)
