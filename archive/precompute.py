"""Whole-archive findings derived once per build into small tables (called from archive/totals.py).

Why: on 100,000 reports the coverage view (agency x year over every version), the edited reports
(the first and latest version of each edited document compared cell by cell) and the lawsuits per
agency (every table 4 cell of every latest version) and the findings' facets (a JSON field of each
failure) took 0.3-1.8 s on each request (bench/serve.py,
issue 14 point 7: p95 <= 300 ms for every page). Nothing they read changes after a build, so the build
derives them here once and the pages read the tables:

- `agency_year_coverage`: the rows of schema.COVERAGE_SQL; the `coverage` view reads this table.
- `report_edits`: one row per document whose table 3 numbers differ between its first and its latest
  version (EDITS_SQL); the canned query edited_reports pages through it.
- `agency_lawsuits`: table 4's lawsuits per agency and year, and over all years (AGENCY_LAWSUITS_SQL);
  the canned query most_lawsuits reads one year's (or the all-years) rows in rank order.
- `rule_failure_rows`: the rows of schema.RULE_FAILURES_SQL (kind from a JSON note, the report's
  columns); the `rule_failures` view reads this table.

Each is the live SQL's result, in its order: tests/publish/test_precompute.py compares every table
with the SQL it replaced on a built archive.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from nianbao.archive.schema import COVERAGE_SQL, RULE_FAILURES_SQL


def scoped(sql: str, anchor: str, replacement: str) -> str:
    """`sql` with `anchor` (found exactly once) replaced: how an incremental build's refresh narrows the
    full build's SQL to the agencies it changed. A changed statement whose anchor is gone fails here
    instead of silently refilling the whole archive over the rows it kept."""
    if sql.count(anchor) != 1:
        raise RuntimeError(f"the SQL to scope no longer holds {anchor!r} once: update its refresh")
    return sql.replace(anchor, replacement)


# Documents with more than one version whose table 3 cells differ between the first and the latest
# version (the page and its attachment holding one report are one version: not an edit).
def edits_sql(scope: str = "") -> str:
    """EDITS_SQL; `scope`: an SQL condition on `d.agency` (an incremental build's refresh)."""
    return scoped(EDITS_SQL, "where d.n_versions > 1", f"where d.n_versions > 1 and {scope}") if scope else EDITS_SQL


EDITS_SQL = """
select e.* from (
  select d.agency, d.year, d.n_versions,
    v1.first_seen as first_version_seen, vn.first_seen as latest_version_seen,
    v1.capture_id as first_capture_id, vn.capture_id as latest_capture_id,
    (v1.url = vn.url) as same_url, v1.url as first_url, vn.url as latest_url,
    d.id as document_id, v1.id as first_version_id, vn.id as latest_version_id,
    (select count(*) from requests a
       left join requests b on b.version_id = vn.id and b.row_key = a.row_key and b.column_key = a.column_key
     where a.version_id = v1.id and a.value is not b.value) as changed_cells
  from documents d
  join document_versions v1 on v1.document_id = d.id and v1.version = 1
  join document_versions vn on vn.id = d.latest_version_id
  where d.n_versions > 1
) e
where e.changed_cells > 0
order by e.latest_version_seen desc, e.agency
"""

# Table 4's lawsuits (direct, after review, their sum; corrected by the court) of each latest version
# with any positive one, summed per agency and year, and per agency over all years (year null): the
# rows most_lawsuits lists (its live form grouped every table 4 cell of the archive on each request).
AGENCY_LAWSUITS_SQL = """
with l as (
  select v.id, v.agency, v.year,
    sum(case when ap.procedure = 'litigation_direct' and ap.outcome = 'total' then ap.value end) as direct,
    sum(case when ap.procedure = 'litigation_after_review' and ap.outcome = 'total' then ap.value end)
      as after_review,
    sum(case when ap.outcome = 'total' then ap.value end) as lawsuits,
    sum(case when ap.outcome = 'corrected' then ap.value end) as corrected
  from appeals ap
  cross join document_versions v on v.id = ap.version_id
  where ap.outcome in ('total', 'corrected') and ap.procedure in ('litigation_direct', 'litigation_after_review')
    and ap.value > 0 and v.is_latest = 1
  group by v.id
), per_year as (
  select agency, year, sum(direct) as direct, sum(after_review) as after_review, sum(lawsuits) as lawsuits,
    sum(corrected) as corrected, count(*) as reports, min(year) as from_year, max(year) as to_year
  from l group by agency, year
  union all
  select agency, null, sum(direct), sum(after_review), sum(lawsuits), sum(corrected), count(*), min(year), max(year)
  from l group by agency
)
select p.agency, p.year, a.province, a.city, a.level, p.direct, p.after_review, p.lawsuits, p.corrected,
  p.reports, p.from_year, p.to_year
from per_year p
left join agencies a on a.name = p.agency
order by p.year, p.lawsuits desc, p.agency
"""


def lawsuits_sql(scope: str = "") -> str:
    """AGENCY_LAWSUITS_SQL; `scope`: an SQL condition on `v.agency` (an incremental build's refresh)."""
    if not scope:
        return AGENCY_LAWSUITS_SQL
    # the scope's versions first (agency index), then their cells by primary key; the whole-archive
    # form reads the cells first (the outcome index) and looks each version up
    sql = scoped(AGENCY_LAWSUITS_SQL, "from appeals ap\n  cross join document_versions v on v.id = ap.version_id",
                 "from document_versions v\n  cross join appeals ap on ap.version_id = v.id")
    return scoped(sql, "and v.is_latest = 1\n", f"and v.is_latest = 1 and {scope}\n")


# (table, the SQL whose rows it holds)
PRECOMPUTED: list[tuple[str, str]] = [
    ("agency_year_coverage", COVERAGE_SQL),
    ("report_edits", EDITS_SQL),
    ("agency_lawsuits", AGENCY_LAWSUITS_SQL),
    ("rule_failure_rows", RULE_FAILURES_SQL),
]


def fill_precomputed(db: sqlite_utils.Database) -> dict[str, int]:
    """(Re)fill every precomputed table from the loaded archive; returns rows per table. Call once the
    versions, cells, agencies and crawl summaries are written (the build: after its totals)."""
    counts = {}
    for table, sql in PRECOMPUTED:
        columns = ", ".join(f"[{c}]" for c in db[table].columns_dict)  # by name: the SQL's order may differ
        db.conn.execute(f"delete from [{table}]")
        db.conn.execute(f"insert into [{table}] ({columns}) select {columns} from ({sql})")
        db.conn.execute(f"analyze [{table}]")
        counts[table] = db.conn.execute(f"select count(*) from [{table}]").fetchone()[0]
    return counts


def refresh_precomputed(db: sqlite_utils.Database, in_scope: Callable[[str], str],
                        all_coverage: bool = False) -> dict[str, int]:
    """An incremental build's refresh: each table's rows of the agencies in scope (`in_scope(column)`,
    an SQL condition on an agency column: archive/refresh.py) deleted and derived again with the same
    SQL restricted to them; `all_coverage`: the coverage rows all again (the archive's year range
    changed, so every covered body has a row more or less). Returns rows written per table.

    Every table here is keyed by agency: a body's coverage, edits, lawsuits and findings read only
    its own versions, cells and rules (and the agencies row), so the other bodies' rows stay."""
    scoped = {
        "agency_year_coverage": None if all_coverage else f"select * from ({COVERAGE_SQL}) where {in_scope('agency')}",
        "report_edits": edits_sql(in_scope("d.agency")),
        "agency_lawsuits": lawsuits_sql(in_scope("v.agency")),
        "rule_failure_rows": f"select * from ({RULE_FAILURES_SQL}) where {in_scope('agency')}",
    }
    counts = {}
    for table, sql in PRECOMPUTED:
        columns = ", ".join(f"[{c}]" for c in db[table].columns_dict)
        if scoped[table] is None:
            db.conn.execute(f"delete from [{table}]")
        else:
            db.conn.execute(f"delete from [{table}] where {in_scope('agency')}")
            sql = scoped[table]
        counts[table] = db.conn.execute(f"insert into [{table}] ({columns}) select {columns} from ({sql})").rowcount
    return counts
