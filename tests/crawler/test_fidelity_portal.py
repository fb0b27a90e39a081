"""The issue-11 acceptance portal is what it claims to be (no crawl): breadcrumbs on every page, titles
only where planted, attachments holding the same report, a consistent truth with exactly one planted
carry-chain break. The end-to-end test (tests/test_fidelity_crawl.py) relies on all of this."""

from __future__ import annotations

import io
import re
import urllib.request

import pytest

from nianbao.parsers.keys import result_rows
from tests.crawler.fidelity_portal import COLUMNS, CRUMBS, FidelityPortal, load

APPLICANTS = ("natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
              "legal_service_org", "other_org")


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    with FidelityPortal(tmp_path_factory.mktemp("fid") / "site") as p:
        yield p


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def test_truth_is_consistent_with_one_planted_break():
    data = load()
    reports = data["reports"]
    assert len(reports) == 13 and len({r["key"] for r in reports}) == 13
    assert {r["kind"] for r in reports} == {"html", "html+pdf", "stub+pdf", "docx"}
    assert {r["title_in"] for r in reports} == {"h1", "h2", "title"}
    assert {r["printed"] for r in reports if r["body"] == "白沙区教育局"} == {
        "白沙区教育局", "临江市白沙区教育局", "白沙区\u3000教育局"}
    for r in reports:  # every in-report rule holds on the truth
        g = {(c["row"], c["column"]): c["value"] or 0 for c in r["canonical"]["requests"]}
        for col in (*APPLICANTS, "total"):
            assert (g[("new_received", col)] + g[("carried_over", col)]
                    == g[("total", col)] + g[("carried_forward", col)])
            assert sum(g[(row, col)] for row in result_rows(r["edition"])) == g[("total", col)]
        for row in {k[0] for k in g}:
            assert sum(g[(row, c)] for c in APPLICANTS) == g[(row, "total")]
    by = {(r["body"], r["year"]): r for r in reports}
    broken = []
    for (body, year), r in by.items():
        prev = by.get((body, year - 1))
        if prev:
            p = {(c["row"], c["column"]): c["value"] or 0 for c in prev["canonical"]["requests"]}
            n = {(c["row"], c["column"]): c["value"] or 0 for c in r["canonical"]["requests"]}
            broken += [(body, year, col) for col in (*APPLICANTS, "total")
                       if p[("carried_forward", col)] != n[("carried_over", col)]]
    assert broken == [("白沙区人民政府", 2023, "natural_person"), ("白沙区人民政府", 2023, "total")]


def test_pages_carry_navigation_and_titles_only_where_planted(portal):
    for r in portal.reports:
        url = portal.base_url + COLUMNS[r["column"]]["column"] + r["slug"]
        body = get(url)
        if r["kind"] == "docx":
            assert body[:4] == b"PK\x03\x04"
            continue
        page = body.decode("utf-8")
        assert CRUMBS[r["crumb"] % 4] in page and '<div class="lanmu">政府信息公开年报</div>' in page
        title = re.escape(r["title"])
        assert re.search(rf"<title>{title}_", page)
        in_body = page.split("</head>", 1)[1]
        headings = re.findall(rf"<(h1|h2)>{title}</\1>", in_body)
        assert headings == ([] if r["title_in"] == "title" else [r["title_in"]]), r["key"]
        if r["kind"] == "stub+pdf":
            assert "详见附件" in page and "<table" not in page
        if r["kind"] in ("html", "html+pdf"):
            assert page.count("<table") == 3  # tables 2, 3 and 4


def test_list_pages_have_breadcrumbs_and_link_the_docx_and_jiedu(portal):
    bsq = get(portal.base_url + COLUMNS["bsq"]["column"]).decode() + \
        get(portal.base_url + COLUMNS["bsq"]["column"] + "index_1.html").decode()
    assert bsq.count("首页</a> &gt;") + bsq.count("当前位置") + bsq.count(" » ") + bsq.count(" › ") >= 2
    assert './202501/P020250122_722318.docx">白沙区\u3000教育局2024年度政府信息公开工作年度报告' in bsq
    assert "解…</a>" in bsq and get(portal.jiedu_url()).decode().count("年度政府信息公开工作年度报告") >= 2
    api = get(portal.base_url + COLUMNS["api"]["column"]).decode()
    assert 'require(["list2.trsapi"' in api and api.count("<dl>") == 3 and "recordCount: '7'" in api


def test_attachments_hold_the_report(portal):
    import pdfplumber

    for key in ("gov2024", "edu2023"):
        r = next(x for x in portal.reports if x["key"] == key)
        with pdfplumber.open(io.BytesIO(get(portal.attachment_url(key)))) as pdf:
            first = pdf.pages[0].extract_text()
            assert len(pdf.pages) >= 2  # table 3 runs over a page break
        assert r["title"] in first.splitlines()[:3] and f"发布日期：{r['published']}" in first
