"""The archive's tables and views, declared once with sqlite-utils.

Long-form cell tables are keyed by (version_id, canonical keys) so every number is one row with its
raw text and its position in the page; wide views for journalists are plain SQL on top.  Ids are
derived from content (see `archive.ids`) so building twice gives identical databases; only the
build's own `runs` row differs.  docs/schema.md documents every column: keep the two in step.

Why one module of ~550 lines: it holds declarations, not logic. Every table (TABLES: about 300 lines of column
types), the views over those tables and the indexes of one database are declared once, so the build,
archive/columns.py and docs/schema.md all read one schema. A view's SQL is read against the tables it selects
from, which is why both sit in this file.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import DescIndex

from nianbao.archive.findings import KIND_SQL as _KIND_SQL
from nianbao.archive.pairing import REPORTISH
from nianbao.archive.totals import HEADLINE, REPORT_COLUMNS, TABLE_COLUMNS

_INT_TOTALS = {"year", "version", "n_versions", "review_total", "litigation_total", "n_rule_failures",
               *(name for name, _ in HEADLINE)}

SCHEMA_VERSION = 1

# name -> (columns, pk, foreign keys, indexes, not-null)
TABLES: dict[str, dict] = {
    "sources": {
        "columns": {
            "name": str, "agency": str, "region": str, "division_code": str, "start_urls": str, "platform": str,
            "enabled": int, "frozen": int, "note": str,
        },
        "pk": "name",
    },
    "agencies": {
        "columns": {
            "name": str, "division_code": str, "province": str, "city": str, "county": str,
            "level": str, "level_rule": str, "source": str,
        },
        "pk": "name",
        "indexes": [["level"], ["division_code"]],
    },
    "runs": {
        "columns": {
            "id": str, "kind": str, "started": str, "finished": str, "complete": int,
            "parser_version": str, "inputs": str, "n_warc_files": int, "n_records": int,
            "n_captures": int, "n_documents": int, "n_versions": int, "n_cells": int,
            "n_rule_failures": int, "seconds": float, "reports_per_second": float, "stats": str,
        },
        "pk": "id",
    },
    "crawl_summaries": {
        "columns": {
            "id": str, "source": str, "run_id": str, "started": str, "finished": str,
            "complete": int, "n_report_urls": int, "n_fetched": int, "n_not_modified": int,
            "n_errors": int, "report_urls": str, "errors": str, "stats": str,
            "warc_file": str, "warc_offset": int, "warc_length": int, "record_id": str,
        },
        "pk": "id",
        "foreign_keys": [("run_id", "runs", "id")],
        "indexes": [["source", "finished"]],
    },
    "captures": {
        "columns": {
            "id": str, "url": str, "fetched": str, "record_type": str, "role": str, "source": str,
            "parent_url": str, "http_status": int, "content_type": str, "payload_digest": str,
            "refers_to": str, "junk": str, "warc_file": str, "warc_offset": int,
            "warc_length": int, "record_id": str, "version_id": str,
        },
        "pk": "id",
        "indexes": [["url", "fetched"], ["payload_digest"], ["version_id"], ["source"],
                    ("idx_publish_captures_fetched", ["fetched"])],
    },
    "documents": {
        "columns": {
            "id": str, "agency": str, "year": int, "key": str, "url": str,
            "first_seen": str, "last_seen": str, "withdrawn_at": str,
            "n_versions": int, "latest_version_id": str,
        },
        "pk": "id",
        "foreign_keys": [("agency", "agencies", "name")],
        "indexes": [["agency", "year"], ["year"], ("idx_publish_documents_versions", ["n_versions"])],
    },
    "document_versions": {
        "columns": {
            "id": str, "document_id": str, "version": int, "is_latest": int,
            "agency": str, "year": int, "edition": str, "status": str, "title": str,
            "published": str, "url": str, "source": str, "payload_digest": str,
            "first_seen": str, "last_seen": str, "withdrawn_at": str, "parser_version": str,
            "capture_id": str, "n_cells": int, "n_rule_failures": int, "warnings": str,
        },
        "pk": "id",
        "foreign_keys": [
            ("document_id", "documents", "id"),
            ("capture_id", "captures", "id"),
            ("agency", "agencies", "name"),
        ],
        "indexes": [["document_id", "version"], ["agency", "year"], ["status"], ["payload_digest"], ["url"],
                    ("idx_publish_versions_year", ["year"]),
                    ("idx_publish_versions_latest_year", ["is_latest", "year", "agency"]),
                    # A year (and edition) filtered page counts and facets from this index alone.
                    ("idx_publish_versions_year_facets", ["year", "edition", "status", "is_latest"])],
    },
    # Every document a version was read from: one row for a plain page, two or more when a page and
    # the attachment(s) holding its report are one version (archive/pairing.py); n_cells = cells read
    # from that document alone (only the numbers document's are stored). `numbers` marks the
    # document the version's cells came from (= document_versions.capture_id), `identity` the one
    # whose agency, year, title and date the version carries.
    "version_documents": {
        "columns": {
            "version_id": str, "capture_id": str, "url": str, "payload_digest": str, "role": str,
            "status": str, "n_cells": int, "numbers": int, "identity": int,
        },
        "pk": ("version_id", "payload_digest"),
        "foreign_keys": [("version_id", "document_versions", "id"), ("capture_id", "captures", "id")],
        "indexes": [["capture_id"]],
    },
    "active_disclosure": {
        "columns": {
            "version_id": str, "row_key": str, "measure": str, "value": "ANY", "raw": str,
            "reading": str, "pos_table": int, "pos_row": int, "pos_col": int,
            "method": str, "confidence": float, "page": int, "box": str,
        },
        "pk": ("version_id", "row_key", "measure"),
        "foreign_keys": [
            ("version_id", "document_versions", "id"),
            ("row_key", "active_rows", "key"),
            ("measure", "active_measures", "key"),
        ],
        "indexes": [["row_key", "measure"]],
    },
    "requests": {
        "columns": {
            "version_id": str, "row_key": str, "column_key": str, "value": int, "raw": str,
            "reading": str, "pos_table": int, "pos_row": int, "pos_col": int,
            "method": str, "confidence": float, "page": int, "box": str,
        },
        "pk": ("version_id", "row_key", "column_key"),
        "foreign_keys": [
            ("version_id", "document_versions", "id"),
            ("row_key", "request_rows", "key"),
            ("column_key", "request_columns", "key"),
        ],
        # No index besides the primary key: trends and outcome shares read report_totals and
        # outcome_totals, which the build sums from this table once; a covering (column_key, row_key,
        # version_id, value) index cost ~0.33 ms per report to build (a tenth of the archive's share).
    },
    "appeals": {
        "columns": {
            "version_id": str, "procedure": str, "outcome": str, "value": int, "raw": str,
            "reading": str, "pos_table": int, "pos_row": int, "pos_col": int,
            "method": str, "confidence": float, "page": int, "box": str,
        },
        "pk": ("version_id", "procedure", "outcome"),
        "foreign_keys": [
            ("version_id", "document_versions", "id"),
            ("procedure", "appeal_procedures", "key"),
            ("outcome", "appeal_outcomes", "key"),
        ],
        "indexes": [("idx_publish_appeals_outcome", ["outcome", "procedure", "version_id", "value"])],
    },
    "sections": {
        "columns": {
            "id": int, "version_id": str, "seq": int, "number": int, "heading": str, "text": str,
            "agency": str, "year": int, "title": str,
        },
        "pk": "id",
        "foreign_keys": [("version_id", "document_versions", "id"), ("number", "section_numbers", "number")],
        "indexes": [("idx_publish_sections_version", ["version_id", "seq"]), ("idx_publish_sections_year", ["year"])],
    },
    "rule_results": {
        "columns": {
            "version_id": str, "rule": str, "scope": str, "ok": int, "expected": "ANY",
            "actual": "ANY", "blank_as_zero": int, "note": str, "other_version_id": str,
        },
        "pk": ("version_id", "rule", "scope"),
        "foreign_keys": [
            ("version_id", "document_versions", "id"),
            ("rule", "rules", "rule"),
        ],
        "indexes": [("idx_publish_rule_results_failed", ["ok", "rule", "version_id"])],
    },
    # The `reports` view's rows materialised by the build (archive/totals.py), plus the agency's
    # province, city and level: facets and charts read 100,000 rows instead of 2.2 million cells.
    "report_totals": {
        # The reports view's columns in its order (archive/totals.py REPORT_COLUMNS), then province, city.
        "columns": {name: (int if name in _INT_TOTALS else str) for name in TABLE_COLUMNS},
        "pk": "version_id",
        "foreign_keys": [
            ("version_id", "document_versions", "id"),
            ("document_id", "documents", "id"),
            ("agency", "agencies", "name"),
            ("capture_id", "captures", "id"),
        ],
        # One covering index led by each facet column (year, edition, status, province, level), holding
        # all five: a filtered page's rows in its order (year desc) and every facet's counts, filtered or
        # not, read from an index. No single-column index on a facet column: the planner took one for
        # a facet's `column is not null` and read every row through it (0.2 s a facet at 100,000 reports).
        "indexes": [("idx_publish_totals_year_facets", ["year", "edition", "status", "province", "level"]),
                    ("idx_publish_totals_edition_facets", ["edition", "year", "status", "province", "level"]),
                    ("idx_publish_totals_status_facets", ["status", "year", "edition", "province", "level"]),
                    ("idx_publish_totals_province_facets", ["province", "year", "edition", "status", "level"]),
                    ("idx_publish_totals_level_facets", ["level", "year", "edition", "status", "province"]),
                    ["city"], ["agency", "year"], ["n_rule_failures"]],
    },
    # What Datasette's search box on report text lists (archive/search.py `fill_section_search`):
    # one narrow row per section, rowid = sections.id = sections_fts rowid. A common term matches
    # ~100,000 sections and the page's count and facets each look every hit up: in this ~40-byte row
    # instead of the section's text, agency and title, each pass takes half the time (bench/serve.py).
    "section_search": {
        "columns": {
            "id": int, "section": int, "version_id": str, "year": int, "number": int,
            "is_latest": int, "province": str, "level": str,
        },
        "pk": "id",
        "foreign_keys": [("section", "sections", "id"), ("version_id", "document_versions", "id"),
                         ("number", "section_numbers", "number")],
        "indexes": [("idx_publish_section_search_year", ["year"]),
                    ("idx_publish_section_search_number", ["number"])],
    },
    # Table 3's 总计 column summed per year and row over the latest versions (archive/totals.py).
    "outcome_totals": {
        "columns": {"year": int, "row_key": str, "requests": int, "reports": int},
        "pk": ("year", "row_key"),
        "foreign_keys": [("row_key", "request_rows", "key")],
    },
    # Whole-archive findings derived once per build (archive/precompute.py), so their pages read a
    # small table instead of re-deriving them from every version on each request (bench/serve.py).
    # The coverage view's rows (COVERAGE_SQL): agency x year for the bodies this archive covers.
    "agency_year_coverage": {
        "columns": {
            "agency": str, "level": str, "division_code": str, "year": int, "deadline": str, "state": str,
            "found": int, "missing": int, "published": str, "late": int, "version_ids": str, "source": str,
        },
        "pk": ("agency", "year"),
        "foreign_keys": [("agency", "agencies", "name")],
        "indexes": [["year", "agency"]],
    },
    # Reports whose numbers changed after publication: first vs latest version (edited_reports).
    "report_edits": {
        "columns": {
            "agency": str, "year": int, "n_versions": int, "first_version_seen": str, "latest_version_seen": str,
            "first_capture_id": str, "latest_capture_id": str, "same_url": int, "first_url": str,
            "latest_url": str, "document_id": str, "first_version_id": str, "latest_version_id": str,
            "changed_cells": int,
        },
        "pk": "document_id",
        "foreign_keys": [("document_id", "documents", "id")],
        "indexes": [["latest_version_seen", "agency"], ["year"]],
    },
    # Table 4's lawsuits per agency (most_lawsuits): one row per agency and year, and one per agency over
    # all years (year null), each ranked by the index the canned query reads in order.
    "agency_lawsuits": {
        "columns": {
            "agency": str, "year": int, "province": str, "city": str, "level": str, "direct": int,
            "after_review": int, "lawsuits": int, "corrected": int, "reports": int, "from_year": int,
            "to_year": int,
        },
        "pk": ("agency", "year"),  # year null: all years (SQLite keeps nulls in a rowid table's key)
        "foreign_keys": [("agency", "agencies", "name")],
        "indexes": [("idx_agency_lawsuits_rank", ["year", DescIndex("lawsuits"), "agency"])],
    },
    # The rule_failures view's rows (RULE_FAILURES_SQL): ~18,000 of 4.8 million results at 100,000
    # reports, their kind (a JSON field) and report columns read once, so the findings' facets and
    # pages count a small table.
    "rule_failure_rows": {
        "columns": {
            "version_id": str, "agency": str, "year": int, "kind": str, "rule": str, "scope": str,
            "expected": "ANY", "printed": "ANY", "difference": "ANY", "cells": str, "blank_as_zero": int,
            "edition": str, "is_latest": int, "note": str, "other_version_id": str, "url": str,
        },
        "pk": ("version_id", "rule", "scope"),
        "foreign_keys": [("version_id", "document_versions", "id"), ("rule", "rules", "rule")],
        # the findings page's order (inconsistent_reports: newest year first) read from an index
        "indexes": [["kind"], ["rule"], ["year"],
                    ("idx_rule_failure_rows_order", ["is_latest", DescIndex("year"), "agency", "rule", "scope"])],
    },
    # Lookups: every key explained in the database itself (labels from the template's data, parsers/template/).
    # The template's editions, and what differs between them as rows keyed (edition, key): a new
    # edition (parsers/template/edition_<name>.json) adds rows here, never columns.
    "editions": {
        "columns": {"edition": str, "issued_by": str, "years": str, "sort": int},
        "pk": "edition",
    },
    "active_rows": {
        "columns": {"key": str, "label": str, "sort": int},
        "pk": "key",
    },
    "edition_active_rows": {
        "columns": {"edition": str, "key": str, "label": str, "measures": str, "sort": int},
        "pk": ("edition", "key"),
        "foreign_keys": [("edition", "editions", "edition"), ("key", "active_rows", "key")],
    },
    "active_measures": {
        "columns": {"key": str, "label": str, "editions": str, "sort": int},
        "pk": "key",
    },
    "request_rows": {
        "columns": {"key": str, "label": str, "group_label": str, "editions": str, "sort": int},
        "pk": "key",
    },
    "edition_request_rows": {
        "columns": {"edition": str, "key": str, "sort": int},
        "pk": ("edition", "key"),
        "foreign_keys": [("edition", "editions", "edition"), ("key", "request_rows", "key")],
    },
    "request_columns": {
        "columns": {"key": str, "label": str, "is_applicant": int, "sort": int},
        "pk": "key",
    },
    "appeal_procedures": {
        "columns": {"key": str, "label": str, "sort": int},
        "pk": "key",
    },
    "appeal_outcomes": {
        "columns": {"key": str, "label": str, "sort": int},
        "pk": "key",
    },
    "rules": {
        "columns": {"rule": str, "scope": str, "statement": str, "source": str},
        "pk": "rule",
    },
    "section_numbers": {
        "columns": {"number": int, "label": str},
        "pk": "number",
    },
}

# Columns the build adds after a table's declared ones (`add_build_columns`), kept out of TABLES so
# a writer inserting the declared columns by position keeps working.
# captures.error: why a WARC record could not be read (damaged, truncated, digest mismatch), else null.
BUILD_COLUMNS: dict[str, dict[str, type]] = {
    "captures": {"error": str},
}

# Created in this order so foreign keys point at existing tables.
TABLE_ORDER = [
    "sources", "agencies", "runs", "crawl_summaries",
    "editions", "active_rows", "active_measures", "edition_active_rows", "request_rows", "edition_request_rows",
    "request_columns",
    "appeal_procedures", "appeal_outcomes", "rules", "section_numbers",
    "captures", "documents", "document_versions", "version_documents",
    "active_disclosure", "requests", "appeals", "sections", "rule_results", "report_totals",
    "outcome_totals", "section_search", "agency_year_coverage", "report_edits", "agency_lawsuits",
    "rule_failure_rows",
]

# Full-text search: content tables and the columns indexed (see archive/search.py, archive/README.md).
FTS: dict[str, list[str]] = {
    "document_versions": ["title", "agency"],
    "sections": ["heading", "text", "agency", "title"],
}



def deadline_sql(level: str, year: str) -> str:
    """The statutory deadline as SQL text (YYYY-MM-DD) for a level and report-year expression, derived
    from nianbao.deadlines (the one place that knows the dates; tests/archive/test_coverage.py ties them)."""
    from nianbao.deadlines import DEPARTMENT_LEVELS, deadline

    early, late = deadline(sorted(DEPARTMENT_LEVELS)[0], 2000), deadline(None, 2000)
    levels = ", ".join(f"'{x}'" for x in sorted(DEPARTMENT_LEVELS))
    return (f"case when {level} in ({levels}) then ({year} + {early.year - 2000}) || '-{early:%m-%d}' "
            f"else ({year} + {late.year - 2000}) || '-{late:%m-%d}' end")


_DEADLINE = deadline_sql("a.level", "y.year")
# Statuses of a report (its tables read, or a report without them); every other status (junk pages,
# not_a_report, unreadable, image_only, unsupported_format, build_error) is an other document.
_REPORTISH = "(" + ", ".join(f"'{s}'" for s in REPORTISH) + ")"

# agency x year over the archive's year range (2019 on), for the bodies this archive covers: a
# registry source that a crawl summary names (it was crawled), or any body with a report here. A
# registry entry never crawled is not "missing" anything. `state` words it: found, published
# late (after the statutory deadline), or not in this archive (not: "not published").
# Derived once per build into agency_year_coverage (archive/precompute.py); the coverage view reads it.
COVERAGE_SQL = f"""
with recursive bounds as (
  select max(2019, min(year)) as lo, max(year) as hi from documents where year >= 2019
), years(year) as (
  select lo from bounds where lo is not null
  union all select year + 1 from years, bounds where year < bounds.hi
), latest as (
  select agency, year, min(published) as published, count(*) as n_reports,
         group_concat(id) as version_ids
  from document_versions where is_latest = 1 and year is not null
    and status in ('parsed', 'partial', 'no_tables')
  group by agency, year
), covered as (
  select a.* from agencies a
  where a.source in (select source from crawl_summaries)
     or a.name in (select agency from document_versions where is_latest = 1 and status in {_REPORTISH})
)
select a.name as agency, a.level, a.division_code, y.year,
  {_DEADLINE} as deadline,
  case when l.agency is null then 'not in this archive 存档中没有'
    when l.published > {_DEADLINE} then 'published late 逾期发布'
    when l.published is null then 'found, date unknown 已找到（未标日期）'
    else 'found 已找到' end as state,
  case when l.agency is not null then 1 else 0 end as found,
  case when l.agency is null then 1 else 0 end as missing,
  l.published,
  case when l.published is not null and l.published > {_DEADLINE} then 1 else 0 end as late,
  l.version_ids, a.source
from covered a cross join years y
left join latest l on l.agency = a.name and l.year = y.year
"""

# Rule failures with the report they belong to: the findings list.
# The failed results first (index on ok), each looked up in its version: never a scan of all
# versions. LEFT JOIN (every result has its version) keeps that order and lets SQLite skip the
# lookup when only rule_results columns are asked for (the rule facet).
# Derived once per build into rule_failure_rows (archive/precompute.py); the rule_failures view reads it.
RULE_FAILURES_SQL = f"""
select r.version_id, v.agency, v.year, {_KIND_SQL} as kind, r.rule, r.scope,
  r.expected, r.actual as printed,
  case when typeof(r.expected) in ('integer', 'real') and typeof(r.actual) in ('integer', 'real')
    then r.actual - r.expected end as difference,
  json_extract(r.note, '$.cells') as cells,
  r.blank_as_zero, v.edition, v.is_latest, r.note, r.other_version_id, v.url
from rule_results r
left join document_versions v on v.id = r.version_id
where r.ok = 0
"""

VIEWS: dict[str, str] = {
    # One row per report (latest version) with the headline numbers (total column of table 3 and
    # table 4's totals), as the build summed them into report_totals (archive/totals.py). Only
    # reports: a page that is not one is in other_documents.
    "reports": "select " + ", ".join(REPORT_COLUMNS) + " from report_totals",
    # Every captured document that is not a report (latest version of each): junk pages (challenge,
    # not found, login wall), not_a_report, unreadable, image_only, unsupported_format, build_error.
    # `report_version_id`: the latest version of a report the same URL served at another time (a
    # not-found page on night 1, the report on night 2), so the junk is never taken for a gap.
    "other_documents": f"""
select v.id as version_id, v.document_id, v.status, v.url, v.source, v.title, v.first_seen, v.last_seen,
  v.version, v.n_cells, v.warnings, v.capture_id,
  (select d.latest_version_id from document_versions r join documents d on d.id = r.document_id
   where r.url = v.url and r.status in {_REPORTISH} order by r.last_seen desc limit 1) as report_version_id
from document_versions v
where v.is_latest = 1 and v.status not in {_REPORTISH}
""",
    # Every cell with the capture it came from: URL, time, digest, WARC file and offset. A version's
    # cells all come from one document (document_versions.capture_id; for a page merged with its
    # attachment, the one whose tables were kept: version_documents.numbers = 1).
    "cell_provenance": """
select 'active_disclosure' as table_name, c.version_id, c.row_key as row_key, c.measure as column_key,
  c.value, c.raw, c.pos_table, c.pos_row, c.pos_col,
  v.agency, v.year, v.is_latest, cap.id as capture_id, cap.url, cap.fetched, cap.payload_digest,
  cap.warc_file, cap.warc_offset, cap.warc_length, cap.record_id
from active_disclosure c join document_versions v on v.id = c.version_id
left join captures cap on cap.id = v.capture_id
union all
select 'requests', c.version_id, c.row_key, c.column_key, c.value, c.raw, c.pos_table, c.pos_row, c.pos_col,
  v.agency, v.year, v.is_latest, cap.id, cap.url, cap.fetched, cap.payload_digest,
  cap.warc_file, cap.warc_offset, cap.warc_length, cap.record_id
from requests c join document_versions v on v.id = c.version_id
left join captures cap on cap.id = v.capture_id
union all
select 'appeals', c.version_id, c.procedure, c.outcome, c.value, c.raw, c.pos_table, c.pos_row, c.pos_col,
  v.agency, v.year, v.is_latest, cap.id, cap.url, cap.fetched, cap.payload_digest,
  cap.warc_file, cap.warc_offset, cap.warc_length, cap.record_id
from appeals c join document_versions v on v.id = c.version_id
left join captures cap on cap.id = v.capture_id
""",
    # The coverage rows as the build derived them (COVERAGE_SQL, archive/precompute.py).
    "coverage": "select * from agency_year_coverage",
    # The findings list as the build derived it (RULE_FAILURES_SQL, archive/precompute.py).
    "rule_failures": "select * from rule_failure_rows",
    # Per-source health from the crawl summaries in the WARCs (latest crawl first).
    "source_health": f"""
select s.name as source, s.agency, s.enabled, s.frozen,
  (select count(*) from crawl_summaries c where c.source = s.name) as n_crawls,
  (select max(finished) from crawl_summaries c where c.source = s.name) as last_crawl,
  (select max(finished) from crawl_summaries c where c.source = s.name and c.complete = 1) as last_complete_crawl,
  (select c.n_errors from crawl_summaries c where c.source = s.name order by finished desc limit 1) as last_errors,
  (select c.n_report_urls from crawl_summaries c where c.source = s.name order by finished desc limit 1)
     as last_report_urls,
  (select count(*) from captures k where k.source = s.name and k.junk is not null) as n_junk_pages,
  (select count(*) from document_versions v where v.source = s.name and v.is_latest = 1
     and v.status in {_REPORTISH}) as n_reports,
  (select count(*) from document_versions v where v.source = s.name and v.withdrawn_at is not null) as n_withdrawn
from sources s
""",
}


def create_tables(db: sqlite_utils.Database, indexes: bool = True,
                  names: list[str] | None = None) -> None:
    """Create every table (or just `names`; sqlite-utils DDL, explicit pks and foreign keys),
    indexes and views.

    The build passes indexes=False and calls `create_indexes` after the bulk load (faster)."""
    for name in names or TABLE_ORDER:
        spec = TABLES[name]
        db[name].create(
            spec["columns"],
            pk=spec["pk"],
            foreign_keys=spec.get("foreign_keys"),
            if_not_exists=True,
        )
    if indexes:
        create_indexes(db, names)
    create_views(db)


def add_build_columns(db: sqlite_utils.Database) -> None:
    """Add BUILD_COLUMNS to tables that lack them (the build's database; a no-op when present)."""
    for table, columns in BUILD_COLUMNS.items():
        have = set(db[table].columns_dict)
        for name, kind in columns.items():
            if name not in have:
                db[table].add_column(name, kind)


# cell tables whose OCR'd rows (method 'ocr', confidence, page, box; null otherwise) get a partial index on
# confidence, for the low-confidence review (datasette-metadata.json query low_confidence_cells)
OCR_CELL_TABLES = ("active_disclosure", "requests", "appeals")


def create_indexes(db: sqlite_utils.Database, names: list[str] | None = None) -> None:
    """Indexes: plain column lists get sqlite-utils' names; (name, columns) keep the name the
    publishing side (nianbao.publish.indexes) checks for, so `nianbao serve` finds them present.
    Statistics are refreshed for the tables indexed."""
    for name in names or TABLE_ORDER:
        for spec in TABLES[name].get("indexes", []):
            if isinstance(spec, tuple):
                db[name].create_index(spec[1], index_name=spec[0], if_not_exists=True)
            else:
                db[name].create_index(spec, if_not_exists=True)
    for name in names or TABLE_ORDER:
        if name in OCR_CELL_TABLES:  # partial: only OCR'd cells are indexed, text-only archives pay nothing
            db.conn.execute(f"create index if not exists [idx_{name}_ocr_confidence] on [{name}] (confidence) "
                            "where confidence is not null")
    if names:
        for name in names:
            db.conn.execute(f"analyze [{name}]")
    else:
        db.analyze()


def create_views(db: sqlite_utils.Database) -> None:
    for name, sql in VIEWS.items():
        db.create_view(name, sql.strip(), replace=True)
