"""Explicit numbers read by hand from the real pages, independent of the golden files."""

from __future__ import annotations

from functools import cache

import pytest

from nianbao.parsers import check_carry_chain, parse_report
from tests.conftest import SHARED


@cache
def report(name: str) -> dict:
    return parse_report((SHARED / "real" / name).read_bytes(), source=name)


def req(r: dict, row: str, column: str):
    return next(c for c in r["requests"] if c["row"] == row and c["column"] == column)


def act(r: dict, row: str, measure: str):
    return next(c for c in r["active"] if c["row"] == row and c["measure"] == measure)


def app(r: dict, procedure: str, outcome: str):
    return next(c for c in r["appeals"] if c["procedure"] == procedure and c["outcome"] == outcome)


def failed(r: dict, rule: str) -> dict[str, tuple]:
    return {c["scope"]: (c["expected"], c["actual"]) for c in r["checks"] if c["rule"] == rule and not c["ok"]}


def test_shanghai_2019_blank_cells_money_and_edition(shared_dir):
    r = report("shanghai_shifuban_2019.html")
    assert (r["status"], r["edition"], r["year"]) == ("parsed", "2019", 2019)
    assert r["agency"] == "上海市人民政府办公厅"
    assert r["published"] == "2020-01-31"
    assert req(r, "new_received", "natural_person")["value"] == 821
    assert req(r, "new_received", "commercial_enterprise")["value"] == 35
    assert req(r, "new_received", "total")["value"] == 859
    blank = req(r, "new_received", "research_institution")
    assert blank["value"] is None and blank["raw"] == "" and blank["position"] is not None
    assert req(r, "granted", "total")["value"] is None  # 总计 of detail rows left blank
    assert req(r, "unavailable_not_held", "natural_person")["value"] == 252
    assert req(r, "total", "total")["value"] == 805
    assert req(r, "carried_forward", "natural_person")["value"] == 72
    # header/data colspan mismatch in table 2: 本年新公开数量 (colspan 2) still lands right
    assert act(r, "rules", "published")["value"] == 13
    assert act(r, "rules", "published_total")["value"] == 524
    assert act(r, "normative_documents", "published_total")["value"] == 368
    money = act(r, "procurement", "amount_yuan")
    assert (money["value"], money["raw"]) == (251000.0, "251000元") and "元" in money["reading"]
    assert act(r, "procurement", "projects")["value"] == 6
    assert app(r, "review", "upheld")["value"] == 5 and app(r, "review", "total")["value"] == 7
    assert app(r, "litigation_direct", "total")["value"] == 9
    assert app(r, "litigation_after_review", "total")["value"] is None
    # blank 总计 read as 0 → the row totals fail, and the check says which cells were blank
    granted = next(c for c in r["checks"] if c["rule"] == "row_total" and c["scope"] == "granted")
    assert (granted["ok"], granted["expected"], granted["actual"]) == (False, 272, 0)
    assert "granted/total" in granted["blank_as_zero"]
    assert failed(r, "balance") == {}


def test_pingtan_2019_word_export_and_repeated_block_label(shared_dir):
    r = report("pingtan_2019.html")
    assert (r["status"], r["edition"]) == ("parsed", "2019")
    assert act(r, "penalties", "items_prev_year")["value"] == 2648
    assert act(r, "licensing", "decisions")["value"] == 181
    money = act(r, "procurement", "amount_yuan")
    assert money["value"] == pytest.approx(75394432.52) and money["raw"] == "75394432.52元"
    assert req(r, "unavailable_not_held", "natural_person")["value"] == 7  # row after the repeated block label
    assert req(r, "unavailable_unclear_after_correction", "total")["value"] == 5
    assert req(r, "total", "total")["value"] == 23
    assert all(c["ok"] for c in r["checks"])


def test_pingtan_2020_negative_changes_and_outcomes_finding(shared_dir):
    r = report("pingtan_2020.html")
    assert (r["status"], r["edition"], r["year"]) == ("parsed", "2019", 2020)
    assert act(r, "penalties", "items_change")["value"] == -18
    assert act(r, "fees", "items_change")["value"] == -15
    assert act(r, "licensing", "items_change")["value"] == 442
    assert req(r, "other", "natural_person")["value"] == 4
    assert req(r, "total", "natural_person")["value"] == 20
    # the published result rows add up to 26 (27 overall) against a printed 总计 of 20 (21)
    assert failed(r, "outcomes_sum") == {"natural_person": (26, 20), "total": (27, 21)}
    assert failed(r, "balance") == {}
    assert app(r, "review", "total")["value"] == 0  # the empty extra row after the data is ignored


def test_pingtan_2021_colspan_trap(shared_dir):
    r = report("pingtan_2021.html")
    assert (r["status"], r["edition"]) == ("parsed", "2021")
    row = {c["column"]: c["value"] for c in r["requests"] if c["row"] == "new_received"}
    assert row == {"natural_person": 64, "commercial_enterprise": 0, "research_institution": 0,
                   "social_welfare_org": 2, "legal_service_org": 0, "other_org": 4, "total": 70}
    assert req(r, "unavailable_not_held", "other_org")["value"] == 3
    assert req(r, "carried_forward", "natural_person")["value"] == 1
    assert act(r, "fees", "amount_10k_yuan")["value"] == pytest.approx(24252.311082)
    assert app(r, "litigation_direct", "upheld")["value"] == 12
    assert all(c["ok"] for c in r["checks"])


def test_pingtan_2022_typo_heading_and_carry_over(shared_dir):
    r = report("pingtan_2022.html")
    assert [s["number"] for s in r["sections"]] == [1, 2, 3, 4, 5, 6]
    assert "行政法复议" in r["sections"][3]["heading"]
    assert req(r, "carried_over", "natural_person")["value"] == 1
    assert act(r, "licensing", "decisions")["value"] == 10690
    chain = check_carry_chain(report("pingtan_2021.html"), r)
    assert len(chain) == 7 and all(c["ok"] for c in chain)
    assert next(c for c in chain if c["scope"] == "natural_person")["expected"] == 1


def test_pingtan_2023_litigation_in_all_three_procedures(shared_dir):
    r = report("pingtan_2023.html")
    procedures = ("review", "litigation_direct", "litigation_after_review")
    assert [app(r, p, "total")["value"] for p in procedures] == [2, 5, 2]
    assert app(r, "litigation_direct", "pending")["value"] == 1
    assert act(r, "normative_documents", "repealed")["value"] == 132


def test_pingtan_2024_split_labels_and_after_review(shared_dir):
    r = report("pingtan_2024.html")
    assert r["published"] == "2025-03-10"
    assert req(r, "new_received", "total")["value"] == 218
    assert req(r, "other_other", "commercial_enterprise")["value"] == 1
    assert act(r, "licensing", "decisions")["value"] == 4529
    assert act(r, "fees", "amount_10k_yuan")["value"] == pytest.approx(18651.06)
    outcomes = ("upheld", "corrected", "other", "pending", "total")
    assert [app(r, "litigation_after_review", o)["value"] for o in outcomes] == [13, 2, 4, 0, 19]


def test_pingtan_2025_carry_chain_and_date_not_from_url(shared_dir):
    r = report("pingtan_2025.html")
    assert r["published"] == "2026-03-10"  # the URL says t20260313
    assert req(r, "carried_forward", "natural_person")["value"] == 4
    assert req(r, "carried_forward", "commercial_enterprise")["value"] == 2
    assert req(r, "carried_forward", "total")["value"] == 6
    assert act(r, "fees", "amount_10k_yuan")["raw"] == "4166.241619"
    chain = check_carry_chain(report("pingtan_2024.html"), r)
    assert [c["ok"] for c in chain] == [True] * 7
    assert {c["previous_year"] for c in chain} == {2024}


def test_pingtan_2018_is_pre2019(shared_dir):
    r = report("pingtan_2018.html")
    assert (r["status"], r["edition"], r["year"]) == ("pre2019", "pre2019", 2018)
    assert r["active"] == r["requests"] == r["appeals"] == [] and r["checks"] == []


def test_shuyang_metadata_table_blank_legal_person_and_old_label(shared_dir):
    r = report("shuyang_fgj_2023.html")
    assert (r["status"], r["edition"], r["year"]) == ("parsed", "2021", 2023)
    assert r["title"] == "沭阳县发展和改革局2023年政府信息公开年度报告"
    assert r["agency"] == "沭阳县发展和改革局"
    assert r["published"] == "2024-01-17"
    assert act(r, "normative_documents", "issued")["value"] == 8  # printed label 规范性文件
    assert act(r, "normative_documents", "in_force")["value"] == 18
    assert act(r, "normative_documents", "issued")["position"]["table"] == 1  # after the metadata table
    legal = [c for c in r["requests"] if c["column"] not in ("natural_person", "total")]
    assert legal and all(c["value"] is None and c["position"] for c in legal)
    assert req(r, "granted", "natural_person")["value"] == 26
    assert app(r, "review", "pending")["value"] == 1
    assert all(c["ok"] for c in r["checks"])


def test_list_page_is_not_a_report(shared_dir):
    assert report("pingtan_list_index.html")["status"] == "not_a_report"


REAL_REPORTS = ["pingtan_2019.html", "pingtan_2020.html", "pingtan_2021.html", "pingtan_2022.html",
                "pingtan_2023.html", "pingtan_2024.html", "pingtan_2025.html", "shanghai_shifuban_2019.html",
                "shuyang_fgj_2023.html", "pingtan_2018.html"]


@pytest.mark.parametrize("name", REAL_REPORTS)
def test_real_page_reencoded_as_gbk_parses_the_same(shared_dir, name):
    """Every real page re-encoded as GB18030, declared gbk where it declared utf-8, undeclared
    where it declared nothing (shanghai), gives the same report."""
    text = (SHARED / "real" / name).read_text(encoding="utf-8")
    gbk = text.replace('charset="utf-8"', 'charset="gbk"').encode("gb18030")
    assert gbk != text.encode("utf-8")
    again = parse_report(gbk, source=name)
    for key in ("title", "agency", "year", "edition", "status", "published", "active", "requests", "appeals",
                "sections", "checks"):
        assert again[key] == report(name)[key], key
