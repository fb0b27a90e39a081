"""Findings that say what they are: rule_failures' `kind` (arithmetic, blank_as_zero,
possible_ocr_error, page_attachment_mismatch) and `cells` (each cell's key and printed text)."""

from __future__ import annotations

import json

import sqlite_utils

from nianbao.archive.build import build_archive
from nianbao.archive.findings import describe, describe_chain
from tests.archive.helpers import FAKE_VERSION, canonical, json_parser


def _grid(report: dict) -> dict:
    g = {(c["row"], c["column"]): c for c in report["requests"]}
    g.update({(c["procedure"], c["outcome"]): c for c in report["appeals"]})
    return g


def _cell(row, col, value, raw=None, **extra):
    return {"row": row, "column": col, "value": value, "raw": str(value) if raw is None else raw,
            "position": {"table": 1, "row": 0, "col": 0}, **extra}


def test_row_total_names_its_cells_with_their_printed_text():
    report = canonical("甲区教育局", 2023)
    report["requests"] += [_cell("granted", "commercial_enterprise", 3)]
    check = {"rule": "row_total", "scope": "granted", "ok": False, "expected": 7, "actual": 4, "blank_as_zero": []}
    got = describe(check, _grid(report), "2021", threshold=0.8)
    assert got["kind"] == "arithmetic"
    assert got["cells"] == [{"cell": "granted/natural_person", "side": "computed", "printed": "4"},
                            {"cell": "granted/commercial_enterprise", "side": "computed", "printed": "3"},
                            {"cell": "granted/total", "side": "printed", "printed": "4"}]


def test_a_blank_read_as_zero_is_its_own_kind_and_shows_blank():
    report = canonical("甲区教育局", 2023)
    report["requests"] = [c for c in report["requests"] if (c["row"], c["column"]) != ("total", "total")]
    report["requests"].append(_cell("total", "total", None, raw=""))
    check = {"rule": "balance", "scope": "total", "ok": False, "expected": 5, "actual": 1,
             "blank_as_zero": ["total/total"]}
    got = describe(check, _grid(report), "2021", threshold=0.8)
    assert got["kind"] == "blank_as_zero"
    assert {c["cell"]: c["printed"] for c in got["cells"]} == {
        "new_received/total": "5", "carried_over/total": "0", "total/total": "", "carried_forward/total": "1"}


def test_a_low_confidence_cell_makes_a_possible_ocr_error_and_absent_confidence_never_does():
    report = canonical("甲区教育局", 2023)
    report["appeals"][0].update(confidence=0.41, method="ocr")
    check = {"rule": "appeals_total", "scope": "review", "ok": False, "expected": 2, "actual": 3, "blank_as_zero": []}
    got = describe(check, _grid(report), "2021", threshold=0.8)
    assert got["kind"] == "possible_ocr_error"
    assert got["cells"][0] == {"cell": "review/upheld", "side": "computed", "printed": "2",
                               "confidence": 0.41, "method": "ocr"}
    report["appeals"][0]["confidence"] = 0.93
    assert describe(check, _grid(report), "2021", threshold=0.8)["kind"] == "arithmetic"
    report["appeals"][0]["low_confidence"] = True  # the parser's own flag wins
    assert describe(check, _grid(report), "2021", threshold=0.8)["kind"] == "possible_ocr_error"


def test_carry_chain_names_last_years_and_this_years_cell():
    prev, cur = canonical("甲区教育局", 2022, carried_forward=1), canonical("甲区教育局", 2023, carried_over=3)
    got = describe_chain({"rule": "carry_chain", "scope": "total", "ok": False, "blank_as_zero": []}, prev, cur, 0.8)
    assert got == {"kind": "arithmetic", "cells": [
        {"cell": "2022/carried_forward/total", "side": "computed", "printed": "1"},
        {"cell": "2023/carried_over/total", "side": "printed", "printed": "3"}]}


def test_rule_failures_view_has_kind_cells_expected_and_printed(tmp_path):
    files = tmp_path / "in"
    files.mkdir()
    a = canonical("甲区教育局", 2023)
    a["requests"] = [c for c in a["requests"] if (c["row"], c["column"]) != ("total", "total")]
    a["requests"].append(_cell("total", "total", None, raw=""))
    a["checks"] = [{"rule": "balance", "scope": "total", "ok": False, "expected": 5, "actual": 1,
                    "blank_as_zero": ["total/total"]},
                   {"rule": "row_total", "scope": "granted", "ok": False, "expected": 4, "actual": 9,
                    "blank_as_zero": []},
                   {"rule": "balance", "scope": "natural_person", "ok": True, "expected": 5, "actual": 5,
                    "blank_as_zero": []}]
    b = canonical("乙区民政局", 2023)
    b["appeals"][0].update(confidence=0.3, method="ocr", value=7, raw="7")
    b["checks"] = [{"rule": "appeals_total", "scope": "review", "ok": False, "expected": 7, "actual": 2,
                    "blank_as_zero": []}]
    for name, r in (("a.txt", a), ("b.txt", b)):
        (files / name).write_text(json.dumps(r, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "n.db"
    build_archive(out, files=[files], parse=json_parser, parser_version=FAKE_VERSION,
                  registry_path=tmp_path / "none.yaml")
    db = sqlite_utils.Database(out)
    rows = {(r["agency"], r["rule"], r["scope"]): r for r in db.query("select * from rule_failures")}
    assert {k: r["kind"] for k, r in rows.items()} == {
        ("甲区教育局", "balance", "total"): "blank_as_zero",
        ("甲区教育局", "row_total", "granted"): "arithmetic",
        ("乙区民政局", "appeals_total", "review"): "possible_ocr_error"}
    blank = rows[("甲区教育局", "balance", "total")]
    assert (blank["expected"], blank["printed"], blank["difference"]) == (5, 1, -4)
    assert [(c["cell"], c["printed"]) for c in json.loads(blank["cells"])] == [
        ("new_received/total", "5"), ("carried_over/total", "0"), ("total/total", ""), ("carried_forward/total", "1")]
    assert list(db.query("select kind, count(*) n from rule_failures group by kind order by kind")) == [
        {"kind": "arithmetic", "n": 1}, {"kind": "blank_as_zero", "n": 1}, {"kind": "possible_ocr_error", "n": 1}]
    # a passing rule carries no note (kept cheap)
    assert db.execute("select note from rule_results where ok = 1").fetchall() == [(None,)]


def test_kind_without_a_stored_one_falls_back_in_sql(tmp_path):
    """An archive written without the build's notes (the synthetic one) still gets a kind."""
    from nianbao.archive.precompute import fill_precomputed
    from nianbao.archive.schema import create_tables
    db = sqlite_utils.Database(tmp_path / "s.db")
    create_tables(db)
    db["document_versions"].insert({"id": "v1", "agency": "甲", "year": 2023, "is_latest": 1})
    for rule, scope, blank in (("balance", "total", 1), ("row_total", "granted", 0),
                               ("page_attachment_mismatch", "http://x/a.pdf", None)):
        db["rule_results"].insert({"version_id": "v1", "rule": rule, "scope": scope, "ok": 0, "expected": 1,
                                   "actual": 2, "blank_as_zero": blank})
    fill_precomputed(db)  # as the build (and the synthetic archive) does last: the view reads the rows
    assert {r["rule"]: r["kind"] for r in db.query("select rule, kind from rule_failures")} == {
        "balance": "blank_as_zero", "row_total": "arithmetic", "page_attachment_mismatch": "page_attachment_mismatch"}


def test_inconsistent_reports_is_filtered_by_kind_and_paged(tmp_path):
    from nianbao.archive.columns import METADATA
    test_rule_failures_view_has_kind_cells_expected_and_printed(tmp_path)
    db = sqlite_utils.Database(tmp_path / "n.db")
    sql = json.loads(METADATA.read_text(encoding="utf-8"))["databases"]["nianbao"]["queries"][
        "inconsistent_reports"]["sql"]
    run = lambda **p: list(db.query(sql, {"kind": "", "rule": "", "year": "", "page": "", **p}))  # noqa: E731
    assert [(r["agency"], r["kind"], r["expected"], r["printed"]) for r in run()] == [
        ("乙区民政局", "possible_ocr_error", 7, 2), ("甲区教育局", "blank_as_zero", 5, 1),
        ("甲区教育局", "arithmetic", 4, 9)]
    assert [r["rule"] for r in run(kind="blank_as_zero")] == ["balance"]
    assert run(page="2") == [] and len(run(page="1")) == 3
