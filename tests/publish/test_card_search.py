"""The report card (/-/report/<version_id>) and the search page (/-/search) against the planted
archive (tests/publish/archive_fixture.py), plus their pure parts (snippets, anchors, rule cells,
blank and OCR cells on a modified copy of the archive)."""

from __future__ import annotations

import re
import shutil
import sqlite3

import lxml.html
import pytest

from nianbao.parsers.keys import result_rows
from nianbao.publish.card import load_card, rule_cells
from nianbao.publish.search import search, section_anchor
from nianbao.publish.snippet import highlight
from tests.publish.archive_fixture import AGENCIES

A, B = AGENCIES["A"], AGENCIES["B"]


def db(server) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{server.data_dir / 'nianbao.db'}?mode=ro", uri=True)


def vid(server, agency: str, year: int) -> str:
    with db(server) as conn:
        return conn.execute("select id from document_versions where agency = ? and year = ? and is_latest = 1",
                            [agency, year]).fetchone()[0]


def page(server, path: str, **params: str):
    status, _, body = server.get(path, **params)
    assert status == 200, (path, status, body[:300])
    return lxml.html.fromstring(body.decode("utf-8"))


def text(el) -> str:
    return " ".join(el.text_content().split())


# -- snippets and anchors (pure) -----------------------------------------------------------------

def test_snippet_marks_what_fts5_matches_in_the_printed_text():
    segments, n = highlight("本年度未发生政府信息公开行政复议案件，工作平稳有序。", "复议")
    assert n == 1 and [s for s, hit in segments if hit] == ["复议"]
    assert "".join(s for s, _ in segments) == "本年度未发生政府信息公开行政复议案件，工作平稳有序。"
    # punctuation and a line break between the characters do not stop a match (they are no tokens)
    segments, n = highlight("其中不予，\n公开5件", "不予公开")
    assert n == 1 and [s for s, hit in segments if hit] == ["不予， 公开"]
    # full-width Latin and digits are matched as the index folds them, marked as printed
    segments, n = highlight("ＰＤＦ文件２０２３年", "pdf 2023")
    assert n == 2 and [s for s, hit in segments if hit] == ["ＰＤＦ", "２０２３"]
    # no hit: the beginning, unmarked; a long text is cut around the hit with …
    assert highlight("无关内容", "复议") == ([("无关内容", False)], 0)
    long = "甲" * 200 + "复议" + "乙" * 200
    segments, n = highlight(long, "复议", width=20)
    assert segments[0] == ("…", False) or segments[0][0].startswith("…")
    assert segments[-1][0].endswith("…") and n == 1 and len("".join(s for s, _ in segments)) <= 44


def test_section_anchors_are_by_number_not_row_id():
    assert section_anchor(3, 7, 1) == "s3"
    assert section_anchor(3, 9, 2) == "s3-2"
    assert section_anchor(None, 4, 1) == "p4"


def test_rule_cells_follow_the_rules():
    rows = result_rows("2021")
    assert rule_cells("row_total", "granted", "2021")[-1] == ("requests", "granted", "total")
    assert len(rule_cells("row_total", "granted", "2021")) == 7
    assert rule_cells("outcomes_sum", "total", "2021") == [("requests", r, "total") for r in (*rows, "total")]
    assert rule_cells("outcomes_sum", "total", "2019")[-2] == ("requests", "other", "total")
    assert rule_cells("balance", "natural_person", "2021") == [
        ("requests", r, "natural_person") for r in ("new_received", "carried_over", "total", "carried_forward")]
    assert rule_cells("appeals_total", "review", "2021")[-1] == ("appeals", "review", "total")
    assert rule_cells("carry_chain", "natural_person", "2021") == [("requests", "carried_over", "natural_person")]
    assert rule_cells("page_attachment_mismatch", "http://x", "2021") == []


# -- the report card over HTTP -------------------------------------------------------------------

def test_card_header_links_and_tables_as_printed(server):
    v = vid(server, A, 2022)
    doc = page(server, f"/-/report/{v}")
    meta = text(doc.cssselect("ul.nb-meta")[0])
    assert A in meta and "2022" in meta and "2021" in meta and "parsed" in meta and "2023-01-20" in meta
    assert doc.cssselect("a.nb-prev")[0].get("href") == f"/-/report/{vid(server, A, 2021)}"
    assert doc.cssselect("a.nb-next")[0].get("href") == f"/-/report/{vid(server, A, 2023)}"
    with db(server) as conn:
        capture = conn.execute("select capture_id from document_versions where id = ?", [v]).fetchone()[0]
        labels = [r[0] for r in conn.execute("select r.label from request_rows r join edition_request_rows e "
                                             "on e.key = r.key and e.edition = '2021' order by e.sort")]
        columns = [r[0] for r in conn.execute("select label from request_columns order by sort")]
        cells = dict(((r, c), val) for r, c, val in conn.execute(
            "select row_key, column_key, value from requests where version_id = ?", [v]))
        totals = conn.execute("select received, granted, denied, review_total, litigation_total "
                              "from report_totals where version_id = ?", [v]).fetchone()
    assert [a.get("href") for a in doc.cssselect("a.nb-original")] == [f"/-/original/{capture}"]
    # table 3: the template's rows in order with its labels, its columns, every number as stored
    t3 = doc.cssselect("table.nb-table3")[0]
    rows = t3.cssselect("tr[data-row]")
    assert [text(r.cssselect("th.row")[-1]) for r in rows] == labels
    assert [text(th) for th in t3.cssselect("th[data-column]")] == columns
    granted = t3.cssselect('tr[data-row="granted"] td')
    assert [int(td.text_content()) for td in granted] == [
        cells[("granted", c)] for c in ("natural_person", "commercial_enterprise", "research_institution",
                                        "social_welfare_org", "legal_service_org", "other_org", "total")]
    # headline numbers = report_totals
    tiles = {t.get("data-key"): t.cssselect(".v")[0].text_content().replace(",", "")
             for t in doc.cssselect(".nb-headline .tile")}
    keys = ("received", "granted", "denied", "review_total", "litigation_total")
    assert [int(tiles[k]) for k in keys] == list(totals)
    assert tiles["n_rule_failures"] != "0"
    # table 4: one printed row of 15 numbers under 行政复议 / 行政诉讼 (two sub-headers)
    t4 = doc.cssselect("table.nb-table4")[0]
    assert len(t4.cssselect("td")) == 15 and "行政复议" in text(t4) and "复议后起诉" in text(t4)
    assert doc.cssselect("table.nb-table2")


def test_card_marks_the_cells_of_failing_rules(server):
    """A 2022's 总计 column grants 5 more than its rows: outcomes_sum (total column) and row_total
    (granted row) fail, and the granted/total cell is in both."""
    v = vid(server, A, 2022)
    doc = page(server, f"/-/report/{v}")
    failures = {(tr.get("data-rule"), tr.get("data-scope")) for tr in doc.cssselect("tr.nb-failure")}
    assert failures == {("outcomes_sum", "total"), ("row_total", "granted")}
    assert {text(td) for td in doc.cssselect("td.nb-kind")} == {"算术不符 arithmetic"}  # no blank, no OCR
    t3 = doc.cssselect("table.nb-table3")[0]
    failing = {(td.getparent().get("data-row"), i) for tr in t3.cssselect("tr[data-row]")
               for i, td in enumerate(tr.cssselect("td")) if "fail" in td.get("class")}
    result_rows = [tr.get("data-row") for tr in t3.cssselect("tr[data-row]")
                   if tr.get("data-row") not in ("new_received", "carried_over", "carried_forward")]
    assert failing == {("granted", i) for i in range(7)} | {(r, 6) for r in result_rows}
    cell = t3.cssselect('tr[data-row="granted"] td')[6]
    assert "outcomes_sum" in cell.get("title") and "row_total" in cell.get("title")
    # a clean report has no failure and no marked cell
    clean = page(server, f"/-/report/{vid(server, A, 2021)}")
    assert not clean.cssselect("tr.nb-failure") and not clean.cssselect("td.fail")


def test_card_of_an_edited_report_lists_its_versions(server):
    with db(server) as conn:
        old, new = [r[0] for r in conn.execute(
            "select id from document_versions where url = ? order by version", [server.expect.edited_url])]
    doc = page(server, f"/-/report/{old}")
    assert doc.cssselect("p.nb-banner a")[0].get("href") == f"/-/report/{new}"
    assert "1 / 2" in text(doc.cssselect("ul.nb-meta")[0])


def test_card_sections_have_stable_anchors(server):
    doc = page(server, f"/-/report/{vid(server, A, 2023)}")
    ids = [s.get("id") for s in doc.cssselect("section.nb-section")]
    assert ids == ["s1", "s2", "s3", "s4", "s5", "s6"]
    assert "行政复议案件" in text(doc.cssselect("section#s1")[0])
    assert doc.cssselect("section#s3 table.nb-table3") and doc.cssselect("section#s4 table.nb-table4")


@pytest.mark.parametrize("path,status", [("/-/report/0123456789abcdef", 404), ("/-/report/nope", 400),
                                         ("/-/search?before=x&q=a", 400)])
def test_card_and_search_errors_are_short_4xx(server, path, status):
    assert server.get(path)[0] == status


def test_blank_is_blank_and_ocr_columns_are_read_when_present(server, tmp_path):
    """On a copy of the archive: a blank cell stays blank (not 0); cells with OCR columns are marked."""
    copy = tmp_path / "nianbao.db"
    shutil.copy(server.data_dir / "nianbao.db", copy)
    v = vid(server, A, 2021)
    with sqlite3.connect(copy) as conn:
        conn.execute("update requests set value = null, raw = '' where version_id = ? and row_key = 'granted' "
                     "and column_key = 'other_org'", [v])
        card = load_card(conn, v)
        cell = next(r for r in card["table3"] if r["key"] == "granted")["cells"][5]
        assert cell.value is None and cell.present and "blank" in cell.css and not card["has_ocr"]
        have = {r[1] for r in conn.execute("pragma table_info(requests)")}
        for column, kind in (("method", "text"), ("confidence", "real")):
            if column not in have:  # builds have them since the OCR columns landed (archive/schema.py)
                conn.execute(f"alter table requests add column {column} {kind}")
        conn.execute("update requests set method = 'ocr', confidence = 0.99 where version_id = ?", [v])
        conn.execute("update requests set confidence = 0.41 where version_id = ? and row_key = 'total' "
                     "and column_key = 'total'", [v])
        card = load_card(conn, v)
    total = next(r for r in card["table3"] if r["key"] == "total")["cells"][6]
    granted = next(r for r in card["table3"] if r["key"] == "granted")["cells"][0]
    assert card["has_ocr"] and total.low_confidence and "low-confidence" in total.css and "0.41" in total.tooltip([])
    assert granted.ocr and not granted.low_confidence


# -- links to the card ---------------------------------------------------------------------------

def test_every_report_row_links_to_its_card(server):
    doc = page(server, "/nianbao/reports", _size="100")
    with db(server) as conn:
        ids = {r[0] for r in conn.execute("select version_id from reports")}
    linked = {a.get("href").rsplit("/", 1)[1] for a in doc.cssselect("td.col-agency a.nianbao-card")}
    assert linked == ids and len(ids) == 17


@pytest.mark.parametrize("path", ["/nianbao/rule_failures", "/nianbao/inconsistent_reports",
                                  "/nianbao/broken_carry_chains"])
def test_findings_link_to_cards(server, path):
    doc = page(server, path)
    with db(server) as conn:
        failing = {v for r in conn.execute("select version_id, other_version_id from rule_results where ok = 0")
                   for v in r if v}
    linked = {a.get("href").rsplit("/", 1)[1] for a in doc.cssselect("a.nianbao-card")}
    assert linked and linked <= failing


# -- search ---------------------------------------------------------------------------------------

def test_search_finds_section_text_with_highlight_and_card_anchor(server):
    doc = page(server, "/-/search", q="复议")
    with db(server) as conn:
        expected = {(r[0], r[1]) for r in conn.execute(
            "select version_id, number from sections where text like '%复议%'")}
    hits = doc.cssselect("li.nb-hit")
    assert {(a.get("href").split("/")[-1].split("#")[0], int(a.get("href").split("#s")[1]))
            for a in doc.cssselect("a.nb-card-link")} == expected and len(hits) == len(expected) == 2
    for hit in hits:
        assert [m.text_content() for m in hit.cssselect("mark")] == ["复议"]
        assert "行政复议案件" in text(hit)
    assert re.match(r"2 ", text(doc.cssselect("#count")[0]))
    # the anchor is on the card
    href = doc.cssselect("a.nb-card-link")[0].get("href")
    card = page(server, href.split("#")[0])
    assert card.cssselect(f"section#{href.split('#')[1]}")


def test_search_pages_are_short_and_complete(server):
    with db(server) as conn:
        from nianbao.archive.search import register_functions
        register_functions(conn)
        everything = {r[0] for r in conn.execute("select id from sections where text like '%公开%'")}
        seen, before, pages = [], None, 0
        while True:
            res = search(conn, "公开", before=before, page_size=5)
            assert len(res.hits) <= 5 and res.count == len(everything)
            seen += [h.section_id for h in res.hits]
            pages += 1
            if res.next_before is None:
                break
            before = res.next_before
    assert seen == sorted(everything, reverse=True) and pages == -(-len(everything) // 5)
    # over HTTP: 20 a page and a next link
    doc = page(server, "/-/search", q="公开")
    assert len(doc.cssselect("li.nb-hit")) == min(20, len(everything))
    assert bool(doc.cssselect("a.nb-next-page")) == (len(everything) > 20)


def test_search_hits_only_text_not_the_template_headings(server):
    """Every section 4 heading says 行政复议; a heading alone is no hit."""
    doc = page(server, "/-/search", q="行政诉讼")
    assert not doc.cssselect("li.nb-hit")
    assert page(server, "/-/search", q="").cssselect("input[name=q]")


def test_a_version_read_from_a_page_and_its_attachment_links_both_originals(server, tmp_path):
    """version_documents with two rows (archive/pairing.py): the card links the page and the attachment."""
    copy = tmp_path / "nianbao.db"
    shutil.copy(server.data_dir / "nianbao.db", copy)
    v = vid(server, A, 2023)
    with sqlite3.connect(copy) as conn:
        pdf = conn.execute("select id, url from captures where url = ?", [server.expect.pdf_url]).fetchone()
        conn.execute("update version_documents set numbers = 0 where version_id = ?", [v])
        conn.execute("insert into version_documents (version_id, capture_id, url, payload_digest, role, status, "
                     "n_cells, numbers, identity) values (?, ?, ?, 'sha1:X', 'attachment', 'parsed', 200, 1, 0)",
                     [v, pdf[0], pdf[1]])
        card = load_card(conn, v)
    assert [(o["role"], o["numbers"]) for o in card["originals"]] == [("attachment", 1), ("report", 0)]
    assert card["originals"][0]["capture_id"] == pdf[0]
