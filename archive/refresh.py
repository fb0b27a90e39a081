"""An incremental build's derived tables, refreshed only for the agencies it changed (issue 16 point 3).

A full build derives report_totals, outcome_totals, the precomputed findings (archive/precompute.py)
and section_search from the whole archive (~37 s at 100,000 reports). After an incremental build
adds a night, only the rows of some agencies can differ: every one of those tables is keyed by
agency (outcome_totals by year), and a body's rows read only its own versions, cells, rules and
agencies row. So the refresh compares the metadata tables the build rewrote with the database it
started from (attached read-only: the previous `nianbao.db`, still in place until the rename) and
takes as *dirty* every agency

- of a version, document or agencies row added, removed or changed (new versions, latest flags,
  withdrawals, last_seen, rule failure counts, a page and attachment joined…), old and new value;
- whose carry chains were checked again (`IncrementalBuilder.touched`);
- that came into or went out of coverage (a crawl summary naming its source for the first time).

Null is an agency here too (URL-keyed documents). Each table's rows of the dirty agencies are
deleted and derived again by the full build's SQL restricted to them; outcome_totals only for the
years whose set of reports changed; the coverage rows all again when the archive's year range
changed. tests/archive/test_incremental*.py compare every table with a full build's.

Statistics (ANALYZE) are left as the last full build computed them: a night changes ~1 % of rows.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from nianbao.archive import precompute, search, totals
from nianbao.archive.pairing import REPORTISH

DIRTY = "temp.dirty_agency"

# The metadata tables whose rows the derived tables read: (table, key, agency column).
COMPARED = (("document_versions", "id", "agency"), ("documents", "id", "agency"), ("agencies", "name", "name"))

_COVERED = """select name from {s}.agencies where source in (select source from {s}.crawl_summaries)
  or name in (select agency from {s}.document_versions where is_latest = 1 and status in {reportish})"""
_YEAR_RANGE = "select max(2019, min(year)), max(year) from {s}.documents where year >= 2019"


def in_scope(column: str) -> str:
    """An SQL condition: `column` (an agency name) is one of the dirty agencies (null included)."""
    return (f"({column} in (select agency from {DIRTY}) "
            f"or ({column} is null and exists (select 1 from {DIRTY} where agency is null)))")


def refresh_derived(db: sqlite_utils.Database, previous: Path, touched: set[str]) -> dict:
    """Refresh the derived tables of `db` (an incremental build, metadata tables written) against
    `previous`, the database the build copied. Returns what it did (for the run's stats)."""
    db.conn.commit()  # ATTACH cannot run inside a transaction
    db.conn.execute("attach database ? as prev", [str(previous)])
    try:
        n_dirty, all_coverage = _dirty_agencies(db, touched)
        n_sections = _refresh_section_search(db)
    finally:
        db.conn.commit()
        db.conn.execute("detach database prev")
    years = totals.refresh_report_totals(db, in_scope)
    counts = precompute.refresh_precomputed(db, in_scope, all_coverage=all_coverage)
    db.conn.execute(f"drop table if exists {DIRTY}")
    return {"dirty_agencies": n_dirty, "outcome_years": years, "all_coverage": all_coverage,
            "section_search_rows": n_sections, "precomputed_rows": counts}


def _dirty_agencies(db: sqlite_utils.Database, touched: set[str]) -> tuple[int, bool]:
    """Fill temp.dirty_agency; (its number of rows, whether the archive's year range changed)."""
    conn = db.conn
    conn.execute(f"drop table if exists {DIRTY}")
    conn.execute(f"create temp table {DIRTY.split('.')[1]} (agency text)")
    for table, key, agency in COMPARED:
        cols = [c for c in db[table].columns_dict]
        differs = " or ".join(f"n.[{c}] is not o.[{c}]" for c in cols)
        conn.execute(f"insert into {DIRTY} select n.[{agency}] from main.[{table}] n "
                     f"left join prev.[{table}] o on o.[{key}] = n.[{key}] where o.[{key}] is null or {differs}")
        conn.execute(f"insert into {DIRTY} select o.[{agency}] from prev.[{table}] o "
                     f"left join main.[{table}] n on n.[{key}] = o.[{key}] where n.[{key}] is null or {differs}")
    conn.executemany(f"insert into {DIRTY} values (?)", [(a,) for a in sorted(touched)])
    covered = {s: _COVERED.format(s=s, reportish=REPORTISH) for s in ("main", "prev")}
    conn.execute(f"insert into {DIRTY} select * from ({covered['main']} except {covered['prev']}) "
                 f"union select * from ({covered['prev']} except {covered['main']})")
    conn.execute(f"create temp table dirty_unique as select distinct agency from {DIRTY}")
    conn.execute(f"delete from {DIRTY}")
    conn.execute(f"insert into {DIRTY} select agency from temp.dirty_unique order by agency")
    conn.execute("drop table temp.dirty_unique")
    conn.execute(f"create index {DIRTY}_name on {DIRTY.split('.')[1]} (agency)")
    n = conn.execute(f"select count(*) from {DIRTY}").fetchone()[0]
    ranges = {s: conn.execute(_YEAR_RANGE.format(s=s)).fetchone() for s in ("main", "prev")}
    return n, tuple(ranges["main"]) != tuple(ranges["prev"])


def _refresh_section_search(db: sqlite_utils.Database) -> int:
    """section_search's rows (one per section) of the dirty agencies' versions, old and new: the old
    ones found by their sections' id ranges (the previous build_parts), the new ones by version."""
    conn = db.conn
    conn.execute("drop table if exists temp.scope_all_versions")
    conn.execute("create temp table scope_all_versions (id text primary key)")
    for s in ("prev", "main"):
        conn.execute(f"insert or ignore into temp.scope_all_versions select id from {s}.document_versions "
                     f"where {in_scope('agency')}")
    ranges = conn.execute("select sections_lo, sections_hi from prev.build_parts where version_id in "
                          "(select id from temp.scope_all_versions) and sections_hi >= sections_lo").fetchall()
    conn.executemany(f"delete from [{search.SEARCH_TABLE}] where id between ? and ?", ranges)
    fill = search._FILL_SECTION_SEARCH  # the full build's INSERT (one source of its columns)
    fill = precompute.scoped(fill, "\norder by s.id",
                             "\nwhere s.version_id in (select id from temp.scope_all_versions)\norder by s.id")
    n = conn.execute(precompute.scoped(fill, "insert into", "insert or replace into")).rowcount
    conn.execute("drop table temp.scope_all_versions")
    return n
