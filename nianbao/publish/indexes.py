"""Indexes the published pages and canned queries need on a large archive (measured with
bench/serve.py on 100,000 reports). They belong in archive/schema.py eventually; until they move
there, `nianbao serve` adds them (idempotently) before the database is opened read-only.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# (index name, table, columns): names prefixed so they are easy to find and move.
PUBLISH_INDEXES: list[tuple[str, str, tuple[str, ...]]] = [
    # Default sort (year desc) of the table pages with facets: no full sort of the table.
    ("idx_publish_versions_year", "document_versions", ("year",)),
    ("idx_publish_versions_latest_year", "document_versions", ("is_latest", "year", "agency")),
    ("idx_publish_sections_year", "sections", ("year",)),
    # Facets of the table pages read a covering index instead of the rows.
    ("idx_publish_sections_number", "sections", ("number",)),
    ("idx_publish_versions_edition", "document_versions", ("edition",)),
    # A year (and edition) filtered page of document_versions: count and facets index-only.
    ("idx_publish_versions_year_facets", "document_versions", ("year", "edition", "status", "is_latest")),
    # other_documents: the latest versions whose status is not a report's, found in the index (a
    # 100,000-report archive with no other document read every latest version's row: 0.5 s).
    ("idx_publish_versions_latest_status", "document_versions", ("is_latest", "status")),
    ("idx_publish_captures_role", "captures", ("role",)),
    ("idx_publish_captures_record_type", "captures", ("record_type",)),
    ("idx_publish_captures_junk", "captures", ("junk",)),
    # Findings: `where ok = 0` over millions of rule results.
    ("idx_publish_rule_results_failed", "rule_results", ("ok", "rule", "version_id")),
    # The failures alone (partial, PARTIAL below): ~18,000 of 4.8 million results at 100,000 reports. Its
    # statistics tell the planner how few they are, so inconsistent_reports starts from them instead of
    # from every latest version (1.8 s -> 0.06 s).
    ("idx_publish_rule_results_failures", "rule_results", ("version_id", "rule")),
    # report_totals/reports pages: the rows' order (year desc) and every facet's counts (year, edition,
    # status, province, level), filtered or not, read from one covering index led by each facet column
    # (the build makes them too, archive/schema.py; here for archives built before).
    ("idx_publish_totals_year_facets", "report_totals", ("year", "edition", "status", "province", "level")),
    ("idx_publish_totals_edition_facets", "report_totals", ("edition", "year", "status", "province", "level")),
    ("idx_publish_totals_status_facets", "report_totals", ("status", "year", "edition", "province", "level")),
    ("idx_publish_totals_province_facets", "report_totals", ("province", "year", "edition", "status", "level")),
    ("idx_publish_totals_level_facets", "report_totals", ("level", "year", "edition", "status", "province")),
    # Table 4's totals per version (the report_totals fill) read only the total outcome: covering.
    ("idx_publish_appeals_outcome", "appeals", ("outcome", "procedure", "version_id", "value")),
    ("idx_publish_documents_versions", "documents", ("n_versions",)),
    ("idx_publish_captures_fetched", "captures", ("fetched",)),
    # Revisits name the record they repeat by WARC-Record-ID (/-/original/<revisit>).
    ("idx_publish_captures_record_id", "captures", ("record_id",)),
]

# Partial indexes: index name -> its WHERE clause.
PARTIAL: dict[str, str] = {"idx_publish_rule_results_failures": "ok = 0"}


def ensure_publish_indexes(db_path: Path) -> list[str]:
    """Create any missing publishing index (and ANALYZE when one was added); return names created."""
    conn = sqlite3.connect(str(db_path))
    try:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
        existing = {r[0] for r in conn.execute("select name from sqlite_master where type = 'index'")}
        created = []
        for name, table, columns in PUBLISH_INDEXES:
            if table not in tables or name in existing:
                continue
            cols = ", ".join(f"[{c}]" for c in columns)
            where = f" where {PARTIAL[name]}" if name in PARTIAL else ""
            conn.execute(f"create index [{name}] on [{table}] ({cols}){where}")
            created.append(name)
        for name in created:  # statistics for the new indexes only: ANALYZE of all would read every page
            conn.execute(f"analyze [{name}]")
        conn.commit()
        return created
    finally:
        conn.close()
