"""Every column described once (archive/columns.py) and the same everywhere: the site's metadata,
docs/schema.md's column reference and the export's datapackage.json; the reports view's order."""

from __future__ import annotations

import json

from nianbao.archive.columns import METADATA, SCHEMA_DOC, descriptions, doc_block, schema_columns
from nianbao.archive.totals import REPORT_COLUMNS


def test_every_column_of_every_table_and_view_is_described():
    described = descriptions()  # raises KeyError naming an undescribed column
    assert set(described) == set(schema_columns())
    assert all(text.strip() for cols in described.values() for text in cols.values())
    assert described["rule_failures"]["expected"].startswith("应为 expected: the value the rule computes")
    assert "printed: the value the report prints" in described["rule_failures"]["printed"]


def test_the_metadata_says_what_archive_columns_says():
    tables = json.loads(METADATA.read_text(encoding="utf-8"))["databases"]["nianbao"]["tables"]
    for table, columns in descriptions().items():
        assert tables[table]["columns"] == columns, f"{table}: run `python -m nianbao.archive.columns`"


def test_the_builds_bookkeeping_tables_are_hidden_on_the_site():
    from nianbao.archive.build_state import STATE_TABLES

    tables = json.loads(METADATA.read_text(encoding="utf-8"))["databases"]["nianbao"]["tables"]
    assert set(STATE_TABLES) == {"build_inputs", "build_state", "build_parts", "build_summaries"}
    assert all(tables[t]["hidden"] is True and "archive/build_state.py" in tables[t]["description"]
               for t in STATE_TABLES)


def test_docs_schema_carries_the_same_column_reference():
    assert doc_block() in SCHEMA_DOC.read_text(encoding="utf-8"), "run `python -m nianbao.archive.columns`"


def test_data_and_code_licences_are_distinct_and_an_about_link_exists():
    meta = json.loads(METADATA.read_text(encoding="utf-8"))
    assert meta["license_url"] == "https://creativecommons.org/licenses/by/4.0/"
    assert "CC BY 4.0" in meta["license"] and "Apache-2.0" in meta["license"]
    assert meta["about"] and meta["about_url"]


def test_the_findings_facet_on_kind_and_the_list_is_paged():
    db = json.loads(METADATA.read_text(encoding="utf-8"))["databases"]["nianbao"]
    assert db["tables"]["rule_failures"]["facets"] == ["kind", "rule", "year"]
    sql = db["queries"]["inconsistent_reports"]["sql"]
    assert "limit 100 offset 100 *" in sql and ":page" in sql and ":kind" in sql


def test_reports_reads_headline_first_and_ids_last():
    assert REPORT_COLUMNS[:10] == ["agency", "year", "level", "status", "received", "granted", "denied",
                                   "review_total", "litigation_total", "n_rule_failures"]
    assert REPORT_COLUMNS[-4:] == ["url", "version_id", "document_id", "capture_id"]
    assert schema_columns()["reports"] == REPORT_COLUMNS
    assert schema_columns()["report_totals"][:len(REPORT_COLUMNS)] == REPORT_COLUMNS
