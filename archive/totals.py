"""The per-report headline numbers, materialised once per build into `report_totals`.

The wide `reports` view used to re-sum the 总计 column of table 3 (about 22 cells per report, 2.2
million at 100,000 reports) on every request, so whole-archive pages and charts took seconds
(bench/serve.py). The cells never change after a build, so the build sums them here once, with one
INSERT … SELECT, and the view, the charts and the canned queries read the 100,000-row table.
Values are the cells as published: a blank total cell stays null (blank is not zero).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from nianbao.archive.pairing import REPORTISH  # only reports: junk, not_a_report, unreadable… are other_documents

TABLE = "report_totals"

# Headline numbers: (column, SQL aggregate over the 总计-column cells `r` of one version).
HEADLINE: list[tuple[str, str]] = [
    ("received", "max(case when r.row_key = 'new_received' then r.value end)"),
    ("carried_over", "max(case when r.row_key = 'carried_over' then r.value end)"),
    ("granted", "max(case when r.row_key = 'granted' then r.value end)"),
    ("partially_granted", "max(case when r.row_key = 'partially_granted' then r.value end)"),
    ("denied", "sum(case when r.row_key like 'denied\\_%' escape '\\' then r.value end)"),
    ("unavailable", "sum(case when r.row_key like 'unavailable\\_%' escape '\\' then r.value end)"),
    ("not_processed", "sum(case when r.row_key like 'not\\_processed\\_%' escape '\\' then r.value end)"),
    ("other_handling",
     "sum(case when r.row_key = 'other' or r.row_key like 'other\\_%' escape '\\' then r.value end)"),
    ("total", "max(case when r.row_key = 'total' then r.value end)"),
    ("carried_forward", "max(case when r.row_key = 'carried_forward' then r.value end)"),
]

# The `reports` view's columns, in its order: what a reader compares first (agency, year, level,
# status, the headline numbers, failures), then the rest of table 3's 总计 column, then the title,
# dates and ids (a 1280 px screen shows the first ten without scrolling; ids and URLs last).
REPORT_COLUMNS: list[str] = [
    "agency", "year", "level", "status", "received", "granted", "denied", "review_total", "litigation_total",
    "n_rule_failures", "partially_granted", "unavailable", "not_processed", "other_handling", "total",
    "carried_over", "carried_forward", "edition", "published", "title", "version", "n_versions",
    "first_seen", "last_seen", "withdrawn_at", "parser_version", "url", "version_id", "document_id", "capture_id",
]

# Besides the view's columns, for facets and dashboard filters without a join to agencies.
AGENCY_COLUMNS: list[str] = ["province", "city"]
TABLE_COLUMNS: list[str] = REPORT_COLUMNS + AGENCY_COLUMNS

# Where each column of report_totals comes from in FILL_SQL.
_SOURCE: dict[str, str] = {
    **{name: f"v.{name}" for name in ("agency", "year", "status", "edition", "published", "title", "version",
                                      "first_seen", "last_seen", "withdrawn_at", "parser_version", "url",
                                      "document_id", "capture_id", "n_rule_failures")},
    "version_id": "v.id", "n_versions": "d.n_versions", "level": "a.level", "province": "a.province",
    "city": "a.city", "review_total": "ap.review_total", "litigation_total": "ap.litigation_total",
    **{name: f"t.{name}" for name, _ in HEADLINE},
}


def fill_sql(versions: str | None = None) -> str:
    """The INSERT of report_totals' rows; `versions`: only those whose id is in that table (an
    incremental build's refresh, archive/refresh.py)."""
    only = f" and version_id in (select id from {versions})" if versions else ""
    return f"""
insert into [{TABLE}] ({", ".join(TABLE_COLUMNS)})
select
  {", ".join(_SOURCE[c] for c in TABLE_COLUMNS)}
from document_versions v
join documents d on d.id = v.document_id
left join agencies a on a.name = v.agency
left join (
  select r.version_id, {", ".join(f"{sql} as {name}" for name, sql in HEADLINE)}
  from temp.total_cells r
  group by r.version_id
) t on t.version_id = v.id
left join (
  select version_id,
    max(case when procedure = 'review' then value end) as review_total,
    sum(case when procedure like 'litigation%' then value end) as litigation_total
  from appeals where outcome = 'total'{only}
  group by version_id
) ap on ap.version_id = v.id
where v.is_latest = 1 and v.status in {REPORTISH!r}{only.replace("version_id", "v.id")}
order by v.id
"""


FILL_SQL = fill_sql()


# Every row of table 3's 总计 column summed per year over the latest versions: the whole-archive
# outcome shares (by legal reason) without reading 2.2 million cells per request.
OUTCOME_TABLE = "outcome_totals"


def outcome_fill_sql(years: str | None = None) -> str:
    """The INSERT of outcome_totals' rows; `years`: only the years in that table."""
    only = f" and t.year in (select year from {years})" if years else ""
    return f"""
insert into [{OUTCOME_TABLE}] (year, row_key, requests, reports)
select t.year, r.row_key, sum(r.value), count(r.value)
from [{TABLE}] t
join temp.total_cells r on r.version_id = t.version_id
where t.year is not null{only}
group by t.year, r.row_key
order by t.year, r.row_key
"""


OUTCOME_FILL_SQL = outcome_fill_sql()


def fill_report_totals(db: sqlite_utils.Database) -> int:
    """(Re)fill `report_totals` and `outcome_totals` from the loaded cells, then the other
    precomputed tables (archive/precompute.py); call once the build has written every version and
    cell (and `is_latest`). Returns the number of reports. Statistics for their indexes are
    refreshed so the planner uses them for facets."""
    from nianbao.archive.precompute import fill_precomputed  # here: precompute imports schema, which imports us

    # Table 3's 总计 column read from the 2 million cells (at 100k reports) once, for both fills.
    _total_cells(db, "select version_id, row_key, value from requests where column_key = 'total'")
    for table, sql in ((TABLE, FILL_SQL), (OUTCOME_TABLE, OUTCOME_FILL_SQL)):
        db.conn.execute(f"delete from [{table}]")
        db.conn.execute(sql)
        db.conn.execute(f"analyze [{table}]")
    db.conn.execute("drop table temp.total_cells")
    fill_precomputed(db)  # the other whole-archive tables (coverage, edits, lawsuits), from the same build
    return db.conn.execute(f"select count(*) from [{TABLE}]").fetchone()[0]


def _total_cells(db: sqlite_utils.Database, select: str, by_key: bool = False) -> None:
    """temp.total_cells: (version_id, row_key, value) of table 3's 总计 column, from `select`.
    `by_key`: a few versions' cells, read by primary key: no automatic index (the planner would
    rather build one over the whole requests table for them, 10x slower at 10k reports)."""
    db.conn.execute("drop table if exists temp.total_cells")
    if by_key:
        db.conn.execute("pragma automatic_index = off")
    try:
        db.conn.execute(f"create temp table total_cells as select * from ({select}) order by version_id, row_key")
    finally:
        if by_key:
            db.conn.execute("pragma automatic_index = on")
    db.conn.execute("create index temp.total_cells_version on total_cells (version_id)")


def refresh_report_totals(db: sqlite_utils.Database, in_scope: Callable[[str], str]) -> list[int]:
    """An incremental build's refresh: the rows of `report_totals` whose agency is in scope
    (`in_scope(column)`: an SQL condition on an agency column, archive/refresh.py) deleted and
    summed again, then `outcome_totals` for the years whose set of reports changed (a year's sums
    read only which versions it holds and their cells, which never change under a version id).
    Returns those years."""
    db.conn.execute("drop table if exists temp.scope_versions")
    db.conn.execute("create temp table scope_versions (id text primary key)")
    db.conn.execute(f"insert into temp.scope_versions select id from document_versions where is_latest = 1 "
                    f"and status in {REPORTISH!r} and {in_scope('agency')}")
    db.conn.execute("drop table if exists temp.old_report_years")
    db.conn.execute(f"create temp table old_report_years as select version_id, year from [{TABLE}] "
                    f"where {in_scope('agency')}")
    db.conn.execute(f"delete from [{TABLE}] where {in_scope('agency')}")
    # CROSS JOIN: the few versions first, their cells by primary key (not every cell in key order)
    _total_cells(db, "select r.version_id, r.row_key, r.value from temp.scope_versions s "
                     "cross join requests r on r.version_id = s.id where r.column_key = 'total'", by_key=True)
    db.conn.execute(fill_sql("temp.scope_versions"))
    db.conn.execute("drop table if exists temp.changed_years")
    db.conn.execute(f"""create temp table changed_years as select distinct year from (
      select * from (select version_id, year from temp.old_report_years
                     except select version_id, year from [{TABLE}] where {in_scope('agency')})
      union all
      select * from (select version_id, year from [{TABLE}] where {in_scope('agency')}
                     except select version_id, year from temp.old_report_years)
    ) where year is not null""")
    years = [y for (y,) in db.conn.execute("select year from temp.changed_years order by year")]
    if years:
        db.conn.execute(f"delete from [{OUTCOME_TABLE}] where year in (select year from temp.changed_years)")
        _total_cells(db, f"select r.version_id, r.row_key, r.value from [{TABLE}] t "
                         f"cross join requests r on r.version_id = t.version_id "
                         f"where r.column_key = 'total' and t.year in (select year from temp.changed_years)",
                     by_key=True)
        db.conn.execute(outcome_fill_sql("temp.changed_years"))
    for name in ("total_cells", "scope_versions", "old_report_years", "changed_years"):
        db.conn.execute(f"drop table if exists temp.[{name}]")
    return years
