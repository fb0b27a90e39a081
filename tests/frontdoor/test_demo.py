"""`nianbao demo --no-serve` from an empty data directory: the archive equals the demo's content.

Expectations come from the demo's declarative content (nianbao/demo/content.yaml → the canonical
reports it renders) and an independent statement of the four in-report rules plus carry_chain
written here, never from the archive.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nianbao.demo.content import APPLICANT_COLUMNS, reports

REPO = Path(__file__).resolve().parents[2]
COLUMNS = APPLICANT_COLUMNS + ("total",)


def _v(x):
    return x or 0


def expected_rules() -> dict[tuple[str, int, str, str], bool]:
    """(agency, year, rule, scope) -> ok, for the latest version of every demo report."""
    from nianbao.parsers.keys import result_rows

    out: dict[tuple[str, int, str, str], bool] = {}
    by_key = {(r.agency, r.year): r for r in reports()}
    for r in reports():
        grid = {(c["row"], c["column"]): c["value"] for c in r.canonical["requests"]}
        rows = list(dict.fromkeys(c["row"] for c in r.canonical["requests"]))
        key = (r.agency, r.year)
        for col in COLUMNS:
            g = lambda row, grid=grid, col=col: _v(grid[(row, col)])  # noqa: E731
            out[key + ("balance", col)] = g("new_received") + g("carried_over") == g("total") + g("carried_forward")
            out[key + ("outcomes_sum", col)] = sum(g(x) for x in result_rows(r.edition)) == g("total")
        for row in rows:
            out[key + ("row_total", row)] = (sum(_v(grid[(row, c)]) for c in APPLICANT_COLUMNS)
                                             == _v(grid[(row, "total")]))
        appeals = {(c["procedure"], c["outcome"]): c["value"] for c in r.canonical["appeals"]}
        for proc in ("review", "litigation_direct", "litigation_after_review"):
            parts = sum(_v(appeals[(proc, o)]) for o in ("upheld", "corrected", "other", "pending"))
            out[key + ("appeals_total", proc)] = parts == _v(appeals[(proc, "total")])
        prev = by_key.get((r.agency, r.year - 1))
        if prev:
            before = {(c["row"], c["column"]): c["value"] for c in prev.canonical["requests"]}
            for col in COLUMNS:
                out[key + ("carry_chain", col)] = (_v(before[("carried_forward", col)])
                                                   == _v(grid[("carried_over", col)]))
    return out


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo") / "data"
    proc = subprocess.run([sys.executable, "-m", "nianbao.cli", "demo", "--no-serve", "--data-dir", str(data),
                           "--today", "2026-06-01"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    conn = sqlite3.connect(data / "nianbao.db")
    conn.row_factory = sqlite3.Row
    yield data, proc.stdout, conn
    conn.close()


def test_content_is_what_the_demo_promises():
    rs = reports()
    assert len(rs) == 25
    assert {r.portal for r in rs} == {"demo-jiaqu", "demo-yishi", "demo-bingxian"}
    assert {r.edition for r in rs} == {"2019", "2021"}
    assert min(r.year for r in rs) == 2019 and max(r.year for r in rs) == 2025
    assert [r.key for r in rs if r.kind == "docx"] == ["demo-yishi-乙市生态环境局-2024"]
    rules = expected_rules()
    failing = sorted(k for k, ok in rules.items() if not ok)
    # Exactly one report doesn't add up: 予以公开 (natural persons) printed 2 too high.
    assert failing == [("甲区教育局", 2023, "outcomes_sum", "natural_person"),
                       ("甲区教育局", 2023, "row_total", "granted")]
    nonzero = [c for r in rs for c in r.canonical["requests"] if c["value"]]
    assert len(nonzero) > 300


def test_reports_and_cells_equal_the_demo_content(demo_run):
    _, _, conn = demo_run
    latest = {(r["agency"], r["year"]): r for r in conn.execute(
        "select * from document_versions where is_latest = 1 and year is not null and agency is not null")}
    expected = {(r.agency, r.year): r for r in reports()}
    assert set(latest) == set(expected)
    assert conn.execute("select count(*) from documents where year is not null").fetchone()[0] == 25
    for key, rep in expected.items():
        v = latest[key]
        assert (v["status"], v["edition"], v["published"]) == ("parsed", rep.edition, rep.published), key
        got = {(c["row_key"], c["column_key"]): (c["value"], c["raw"])
               for c in conn.execute("select * from requests where version_id = ?", (v["id"],))}
        want = {(c["row"], c["column"]): c["value"] for c in rep.canonical["requests"]}
        assert {k: g[0] for k, g in got.items()} == want, key
        for (row, col), value in want.items():  # numbers keep the text they were printed as
            if value is not None:
                assert got[(row, col)][1] == str(value), (key, row, col)
        got_active = {(c["row_key"], c["measure"]): c["value"]
                      for c in conn.execute("select * from active_disclosure where version_id = ?", (v["id"],))}
        want_active = {(c["row"], c["measure"]): c["value"] for c in rep.canonical["active"]}
        assert set(got_active) == set(want_active), key
        for k, value in want_active.items():
            assert math.isclose(got_active[k], value, rel_tol=1e-9, abs_tol=1e-9), (key, k)
        got_appeals = {(c["procedure"], c["outcome"]): c["value"]
                       for c in conn.execute("select * from appeals where version_id = ?", (v["id"],))}
        assert got_appeals == {(c["procedure"], c["outcome"]): c["value"] for c in rep.canonical["appeals"]}, key


def test_rule_results_equal_the_expected_rules(demo_run):
    _, _, conn = demo_run
    got = {(r["agency"], r["year"], r["rule"], r["scope"]): bool(r["ok"]) for r in conn.execute(
        """select v.agency, v.year, r.rule, r.scope, r.ok from rule_results r
           join document_versions v on v.id = r.version_id where v.is_latest = 1""")}
    want = expected_rules()
    assert got == want
    assert sum(1 for k in want if k[2] == "carry_chain") == 18 * 7
    failures = conn.execute("select agency, year, rule, scope, expected, printed from rule_failures").fetchall()
    assert sorted(tuple(f) for f in failures) == [("甲区教育局", 2023, "outcomes_sum", "natural_person", 97, 95),
                                                  ("甲区教育局", 2023, "row_total", "granted", 2, 0)]


def test_the_demo_prints_what_it_found(demo_run):
    data, out, conn = demo_run
    assert "reports found: 25" in out
    assert "rule failures: 2" in out
    assert "overdue: 甲区教育局 has no 2025 report (deadline 2026-01-31)" in out
    assert "nianbao serve --data-dir" in out
    assert (data / ".nianbao-demo").is_file()
    # Three sources, each crawled completely once, in three CMS styles.
    rows = conn.execute("select source, complete, n_report_urls from crawl_summaries order by source").fetchall()
    assert [tuple(r) for r in rows] == [("demo-bingxian", 1, 7), ("demo-jiaqu", 1, 10), ("demo-yishi", 1, 8)]
    # The DOCX report: its page (names the report, tables only in the attachment: no_tables) and the
    # attachment holding the tables are ONE version (issue 11, point 5: one report, one version); the
    # numbers come from the attachment, both documents are kept and linked. (Until then they were two
    # versions, and edited_reports listed the report as "edited after publication" with 0 changed cells.)
    docx = conn.execute("""select v.id, v.status, c.role, c.content_type from document_versions v
                           join captures c on c.id = v.capture_id
                           where v.agency = '乙市生态环境局' and v.year = 2024 order by v.version""").fetchall()
    assert [tuple(r)[1:] for r in docx] == [
        ("parsed", "attachment", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]
    documents = conn.execute("""select d.role, d.status, d.numbers, d.identity, c.version_id = d.version_id
                                from version_documents d join captures c on c.id = d.capture_id
                                where d.version_id = ? order by d.role desc""", (docx[0]["id"],)).fetchall()
    assert [tuple(r) for r in documents] == [("report", "no_tables", 0, 1, 1), ("attachment", "parsed", 1, 0, 1)]
    # So the demo has no report edited after publication (it publishes every report once).
    meta = json.loads((REPO / "datasette-metadata.json").read_text(encoding="utf-8"))
    sql = meta["databases"]["nianbao"]["queries"]["edited_reports"]["sql"]
    # Datasette gives every named parameter the request leaves out (:year, :page) the empty string
    edited = conn.execute(sql, {name: "" for name in re.findall(r"(?<!:):(\w+)", sql)}).fetchall()
    assert edited == []


def test_no_archived_agency_is_navigation_text(demo_run):
    from tests.archive.helpers import navigation_agencies

    _, _, conn = demo_run
    assert navigation_agencies(conn) == []
    assert conn.execute("select count(*) from agencies").fetchone()[0] >= 6


def test_demo_refuses_a_data_dir_it_did_not_make(tmp_path):
    (tmp_path / "nianbao.db").write_bytes(b"a real archive")
    proc = subprocess.run([sys.executable, "-m", "nianbao.cli", "demo", "--no-serve", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2
    assert "not made by `nianbao demo`" in proc.stderr
    assert (tmp_path / "nianbao.db").read_bytes() == b"a real archive"
