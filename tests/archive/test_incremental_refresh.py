"""An incremental build refreshes the derived tables (report_totals, outcome_totals, coverage, edits,
lawsuits, findings, section_search) only for the agencies the night changed (archive/refresh.py),
and they still equal a full build's.

Each night is built incrementally and in full and every table compared (test_incremental's
assert_same_tables); the refresh's own figures (runs.stats.refreshed) and the rowids of the rows it
left alone show it did not rewrite the rest."""

from __future__ import annotations

import sqlite3

import pytest

from nianbao.archive.precompute import edits_sql, lawsuits_sql, scoped
from tests.archive.helpers import body, canonical
from tests.archive.test_incremental_pairing import night, summary

BASE = "http://x.gov.cn/nb/"


def report(agency: str | None, year: int, **kw) -> dict:
    """canonical() with table 4's lawsuits and a failed rule, so every derived table gets rows."""
    r = canonical(agency, year, **kw)
    if agency is None:
        r["title"] = f"{year}年政府信息公开工作年度报告"
    r["appeals"] = r["appeals"] + [
        {"procedure": "litigation_direct", "outcome": "total", "value": 3, "raw": "3",
         "position": {"table": 2, "row": 2, "col": 10}},
        {"procedure": "litigation_direct", "outcome": "corrected", "value": 1, "raw": "1",
         "position": {"table": 2, "row": 2, "col": 7}}]
    r["checks"] = r["checks"] + [{"rule": "table3_sum", "scope": "total", "ok": False, "expected": 7, "actual": 6}]
    return r


def rowids(path, table: str, key: str) -> dict:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute(f"select {key}, rowid from [{table}]").fetchall())
    finally:
        conn.close()


def agency_rowids(path) -> dict:
    """rowid of each table's rows by 'agency|year' (a deleted and re-inserted row gets a new rowid)."""
    return {table: rowids(path, table, "coalesce(agency, '') || '|' || coalesce(year, '')")
            for table in ("report_totals", "agency_year_coverage", "agency_lawsuits", "rule_failure_rows")}


def test_a_night_refreshes_only_the_agencies_it_changed(tmp_path):
    agencies = ["甲区财政局", "乙区财政局", "丙区财政局", "丁区财政局"]
    first = [(a, y, f"{BASE}{i}-{y}.html") for i, a in enumerate(agencies) for y in (2021, 2022)]

    def one(w):
        for agency, year, url in first:
            w.response(url, body(report(agency, year)), date="2026-01-01T00:00:00Z")
        w.summary(summary([u for *_, u in first], "2026-01-01T00:10:00Z", "r1"), date="2026-01-01T00:10:00Z")

    def two(w):
        # 甲: its 2022 report edited (a second version, other numbers); 乙: a report for 2023, a year new
        # to the archive (so every coverage row comes again); a report naming no agency (URL-keyed);
        # 丁's 2021 report withdrawn (no new record of 丁)
        w.response(first[1][2], body(report("甲区财政局", 2022, received=9)), date="2026-01-02T00:00:00Z")
        w.response(f"{BASE}1-2023.html", body(report("乙区财政局", 2023, carried_over=2)), date="2026-01-02T00:00:01Z")
        w.response(f"{BASE}nobody.html", body(report(None, 2022)), date="2026-01-02T00:00:02Z")
        listed = [u for *_, u in first if u != first[6][2]] + [f"{BASE}1-2023.html", f"{BASE}nobody.html"]
        w.summary({**summary(listed, "2026-01-02T00:10:00Z", "r2"), "withdrawn": [first[6][2]]},
                  date="2026-01-02T00:10:00Z")

    def three(w):
        # 丙 only: its 2023 report; the year range stays, so coverage is refreshed for 丙 alone
        w.response(f"{BASE}2-2023.html", body(report("丙区财政局", 2023)), date="2026-01-03T00:00:00Z")
        w.summary(summary([f"{BASE}2-2023.html"], "2026-01-03T00:10:00Z", "r3"), date="2026-01-03T00:10:00Z")

    night(tmp_path, "2026-01-01", one)
    before = agency_rowids(tmp_path / "inc.db")
    stats, full = night(tmp_path, "2026-01-02", two)  # night() compares every table with the full build
    assert stats["incremental"] is True
    done = stats["refreshed"]
    # 甲 (edited), 乙 (new report; carry chain re-checked), 丁 (withdrawn), null (the URL-keyed report)
    assert done["dirty_agencies"] == 4 and done["all_coverage"] is True
    assert done["outcome_years"] == [2022, 2023]  # 甲's 2022 version replaced, 乙's 2023 and nobody's 2022 added
    after = agency_rowids(tmp_path / "inc.db")
    kept = {k: v for k, v in before["report_totals"].items() if k.startswith("丙")}
    assert kept and all(after["report_totals"][k] == v for k, v in kept.items())  # 丙's rows not rewritten
    conn = sqlite3.connect(full)
    try:
        assert conn.execute("select count(*) from report_edits").fetchone()[0] == 1
        assert conn.execute("select count(*) from agency_lawsuits").fetchone()[0] > 0
        assert conn.execute("select count(*) from rule_failure_rows where agency is null").fetchone()[0] == 1
        assert conn.execute("select max(year) from agency_year_coverage").fetchone()[0] == 2023
    finally:
        conn.close()

    before = agency_rowids(tmp_path / "inc.db")
    stats, _full = night(tmp_path, "2026-01-03", three)
    done = stats["refreshed"]
    assert stats["incremental"] is True
    assert done["dirty_agencies"] == 1 and done["all_coverage"] is False and done["outcome_years"] == [2023]
    after = agency_rowids(tmp_path / "inc.db")
    for table, rows in before.items():
        others = {k: v for k, v in rows.items() if not k.startswith("丙")}
        assert others and all(after[table][k] == v for k, v in others.items()), table
    assert done["section_search_rows"] == 3  # 丙's three sections (2021, 2022, 2023), the others left alone


def test_a_refresh_never_runs_unscoped_sql():
    """The refresh narrows the full build's SQL by replacing an anchor in it: an anchor gone (the SQL
    changed) fails the build instead of refilling every agency's rows over the ones it kept."""
    assert "and a_scope" in edits_sql("a_scope") and "and a_scope" in lawsuits_sql("a_scope")
    assert scoped("select 1 where x", "where x", "where x and y") == "select 1 where x and y"
    for sql in ("select 1", "where x where x"):
        with pytest.raises(RuntimeError, match="no longer holds 'where x' once"):
            scoped(sql, "where x", "where x and y")
