"""Build from the shared seeds and real portal pages with the real parser; compare every stored row
with the parser's reviewed golden JSON (tests/fixtures/parsers/golden/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlite_utils

from nianbao.archive.build import build_archive

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "parsers" / "golden"


@pytest.fixture(scope="module")
def archive(shared_dir, tmp_path_factory) -> sqlite_utils.Database:
    out = tmp_path_factory.mktemp("real") / "nianbao.db"
    build_archive(out, files=[shared_dir / "seeds", shared_dir / "real"])
    return sqlite_utils.Database(out)


def goldens() -> list[Path]:
    files = sorted(GOLDEN.glob("*.json"))
    assert len(files) >= 16, "the parser's golden files are missing"
    return files


def version_for(db: sqlite_utils.Database, golden: Path) -> dict:
    rows = [r for r in db.query("select * from document_versions") if
            Path(r["url"]).stem == golden.stem]
    assert len(rows) == 1, golden.name
    return rows[0]


@pytest.mark.parametrize("golden", goldens(), ids=lambda p: p.stem)
def test_rows_match_golden(archive, golden):
    g = json.loads(golden.read_text(encoding="utf-8"))
    v = version_for(archive, golden)
    assert (v["agency"], v["year"], v["edition"], v["status"], v["title"], v["published"]) == \
        (g.get("agency"), g.get("year"), g.get("edition"), g["status"], g.get("title"), g.get("published"))
    assert v["parser_version"] == g["parser_version"]

    def cells(table: str, a: str, b: str) -> dict:
        return {(r[a], r[b]): (r["value"], r["raw"], r["reading"], r["pos_table"], r["pos_row"], r["pos_col"])
                for r in archive.query(f"select * from {table} where version_id = ?", [v["id"]])}

    def expected(cells_: list, a: str, b: str) -> dict:
        out = {}
        for c in cells_:
            p = c.get("position") or {}
            out[(c[a], c[b])] = (c.get("value"), c.get("raw"), c.get("reading"),
                                 p.get("table"), p.get("row"), p.get("col"))
        return out

    assert cells("active_disclosure", "row_key", "measure") == expected(g["active"], "row", "measure")
    assert cells("requests", "row_key", "column_key") == expected(g["requests"], "row", "column")
    assert cells("appeals", "procedure", "outcome") == expected(g["appeals"], "procedure", "outcome")
    sections = [(s["number"], s["heading"], s["text"]) for s in
                archive.query("select * from sections where version_id = ? order by seq", [v["id"]])]
    assert sections == [(s.get("number"), s.get("heading"), s.get("text")) for s in g["sections"]]
    rules = {(r["rule"], r["scope"]): (r["ok"], r["expected"], r["actual"]) for r in
             archive.query("select * from rule_results where version_id = ? and rule != 'carry_chain'", [v["id"]])}
    assert rules == {(c["rule"], c["scope"]): (int(c["ok"]), c["expected"], c["actual"]) for c in g["checks"]}


def test_pingtan_carry_chain_follows_the_years(archive):
    g = {y: json.loads((GOLDEN / f"pingtan_{y}.json").read_text(encoding="utf-8")) for y in range(2019, 2026)}
    chain = {(r["year"], r["scope"]): r for r in archive.query(
        "select v.year, r.* from rule_results r join document_versions v on v.id = r.version_id "
        "where r.rule = 'carry_chain' and v.agency = '平潭综合实验区'")}
    assert {y for y, _ in chain} == set(range(2020, 2026))
    for year in range(2020, 2026):
        before = {c["column"]: c["value"] for c in g[year - 1]["requests"] if c["row"] == "carried_forward"}
        now = {c["column"]: c["value"] for c in g[year]["requests"] if c["row"] == "carried_over"}
        r = chain[(year, "total")]
        assert (r["expected"], r["actual"]) == (before["total"] or 0, now["total"] or 0)
        assert r["ok"] == int((before["total"] or 0) == (now["total"] or 0))
    assert chain[(2025, "total")]["ok"] == 1 and chain[(2025, "total")]["other_version_id"]


def test_reports_view_and_statuses(archive):
    statuses = {Path(r["url"]).stem: r["status"] for r in archive["document_versions"].rows}
    assert statuses["pingtan_2018"] == "pre2019" and statuses["pingtan_list_index"] == "not_a_report"
    reports = {(r["agency"], r["year"]): r for r in archive["reports"].rows}
    shuyang = json.loads((GOLDEN / "shuyang_fgj_2023.json").read_text(encoding="utf-8"))
    total = {c["row"]: c["value"] for c in shuyang["requests"] if c["column"] == "total"}
    row = reports[("沭阳县发展和改革局", 2023)]
    assert (row["received"], row["total"], row["carried_forward"]) == \
        (total["new_received"], total["total"], total["carried_forward"])
    failures = {(r["agency"], r["year"], r["rule"]) for r in archive["rule_failures"].rows}
    assert ("平潭综合实验区", 2020, "outcomes_sum") in failures  # the real finding of INDEX.md
    agencies = {r["name"]: (r["level"], r["division_code"]) for r in archive["agencies"].rows}
    assert agencies["平潭综合实验区"] == ("county", "350128")
    assert agencies["西工区洛北街道办事处"][0] == "township"
    assert agencies["沭阳县发展和改革局"][0] == "department"


def test_real_build_is_deterministic(shared_dir, tmp_path):
    from tests.archive.test_build_files import dump

    inputs = [shared_dir / "seeds", shared_dir / "real"]
    build_archive(tmp_path / "a.db", files=inputs)
    build_archive(tmp_path / "b.db", files=inputs)
    a, b = dump(tmp_path / "a.db"), dump(tmp_path / "b.db")
    assert a == b
    assert len(a["document_versions"]) == 16 and len(a["requests"]) == 5 * 175 + 2 * 161 + 5 * 175 + 161 + 175


def test_parallel_parse_gives_the_same_database(shared_dir, tmp_path):
    from tests.archive.test_build_files import dump

    inputs = [shared_dir / "seeds", shared_dir / "real"]
    build_archive(tmp_path / "one.db", files=inputs)
    build_archive(tmp_path / "two.db", files=inputs, jobs=2)
    assert dump(tmp_path / "one.db") == dump(tmp_path / "two.db")


def test_check_reruns_to_the_stored_results(archive):
    from nianbao.archive.check import check_archive

    summary = check_archive(archive)
    stored = archive.execute("select count(*) from rule_results").fetchone()[0]
    assert summary["results"] == stored
    assert summary["differ_from_stored"] == 0 and summary["not_stored"] == 0
    failed = archive.execute("select count(*) from rule_results where ok = 0").fetchone()[0]
    assert sum(c.get("fail", 0) for c in summary["rules"].values()) == failed > 0


def test_no_archived_agency_is_navigation_text(archive):
    from tests.archive.helpers import navigation_agencies

    assert navigation_agencies(archive) == []
    assert archive.execute("select count(*) from agencies").fetchone()[0] >= 4
