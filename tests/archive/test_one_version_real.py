"""One report, one version with the real parser: an HTML report page (breadcrumb and all, as the demo
portal serves it) and the same report attached as a DOCX, written into a WARC as the crawler does.
Both parse; agreeing, they are one version whose comparison passes; a DOCX printing one number
differently is a `page_attachment_mismatch` finding naming that cell, still one version."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
import sqlite_utils

from nianbao.archive.build import build_archive
from tests.archive.helpers import Warc, navigation_agencies

pytest.importorskip("docx")

PAGE = "https://demo.example.gov.cn/zwgk/zfxxgknb/202403/t20240315_3101.html"
ATT = "https://demo.example.gov.cn/zwgk/zfxxgknb/202403/P020240315_3101.docx"


def demo_report():
    from nianbao.demo.content import reports

    return next(r for r in reports() if r.kind == "html" and r.edition == "2021" and not r.tamper)


def build(tmp: Path, page_report, docx_report) -> sqlite_utils.Database:
    from nianbao.demo.portal import DOCX_TYPE, _article, _page, make_report_docx

    (tmp / "warcs").mkdir(parents=True)
    w = Warc(tmp / "warcs" / "20260110-run1.warc.gz")
    page = _page("演示区人民政府门户网站", page_report.title, _article(page_report), "utf-8").encode("utf-8")
    w.response(PAGE, page, date="2026-01-10T01:00:01Z")
    w.response(ATT, make_report_docx(docx_report), role="attachment", parent=PAGE, content_type=DOCX_TYPE,
               date="2026-01-10T01:00:02Z")
    w.close()
    build_archive(tmp / "nianbao.db", warcs=[tmp / "warcs" / "20260110-run1.warc.gz"],
                  registry_path=tmp / "none.yaml")
    return sqlite_utils.Database(tmp / "nianbao.db")


def test_html_page_and_its_docx_are_one_version(tmp_path):
    rep = demo_report()
    db = build(tmp_path, rep, rep)
    docs = list(db.query("select * from version_documents order by role desc"))
    assert [(d["role"], d["status"]) for d in docs] == [("report", "parsed"), ("attachment", "parsed")]
    (v,) = db.query("select * from document_versions")
    assert (v["agency"], v["year"], v["status"], v["n_rule_failures"]) == (rep.agency, rep.year, "parsed", 0)
    assert v["url"] == PAGE  # both read every cell: the page's (tie goes to the page)
    got = {(c["row_key"], c["column_key"]): c["value"] for c in db.query("select * from requests")}
    assert got == {(c["row"], c["column"]): c["value"] for c in rep.canonical["requests"]}
    (check,) = db.query("select * from rule_results where rule = 'page_attachment_mismatch'")
    assert check["ok"] == 1 and json.loads(check["note"])["compared"] == v["n_cells"] == 200
    assert [d["n_cells"] for d in docs] == [200, 200]
    assert navigation_agencies(db) == []


def test_a_docx_printing_another_number_is_a_mismatch(tmp_path):
    rep = demo_report()
    changed = copy.deepcopy(rep.canonical)
    cell = next(c for c in changed["requests"] if c["row"] == "new_received" and c["column"] == "total")
    before = cell["value"]
    cell["value"], cell["raw"] = before + 10, str(before + 10)
    db = build(tmp_path, rep, dataclasses.replace(rep, canonical=changed))
    (v,) = db.query("select * from document_versions")
    assert db["documents"].count == 1 and v["url"] == PAGE
    (f,) = db.query("select * from rule_failures")
    assert (f["rule"], f["scope"]) == ("page_attachment_mismatch", ATT)
    assert f["expected"] == f"requests:new_received/total={before}"
    assert f["printed"] == f"requests:new_received/total={before + 10}"
