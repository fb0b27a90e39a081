"""PDF and DOCX tables as printed (tests/fixtures/layout, made by make_fixtures.py from canonical
reports): every cell of every fixture equals the report it was rendered from, value and raw.

Classes: table 3 continued over a page break with and without a repeated header, a row cut by the
break (also on four real pages of ../shared/real printed to PDF, checked against their golden files), a row cut by the
break, labels wrapped in a narrow column, running heads and page numbers between table parts, the
title only on page 1 (as <h1>), chromium's own print header/footer right above (below) a table
part opening a page (its own margins), a 2021 report printing （六）其他处理 as one row (hybrid), landscape,
a Word document printed by LibreOffice, DOCX with merged group labels, vMerge/gridSpan and a layout
table wrapping the report tables.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nianbao.parsers import parse_report
from nianbao.parsers.attachments import attachment_to_html

LAYOUT = Path(__file__).resolve().parents[1] / "fixtures" / "layout"
FIXTURES = sorted(p for p in LAYOUT.iterdir() if p.suffix in (".pdf", ".docx"))
KEYS = {"active": ("row", "measure"), "requests": ("row", "column"), "appeals": ("procedure", "outcome")}


def _parse(path: Path) -> tuple[str, dict]:
    page = attachment_to_html(path.read_bytes(), None)
    assert page is not None, f"{path.name}: not read"
    return page, parse_report(page.encode("utf-8"), source=path.name)


def test_fixtures_are_there():
    assert len([p for p in FIXTURES if p.suffix == ".pdf"]) >= 7
    assert len([p for p in FIXTURES if p.suffix == ".docx"]) >= 3


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_cell_as_printed(path: Path):
    truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    page, report = _parse(path)
    assert report["status"] == truth["status"], report["warnings"]
    assert report["edition"] == truth["edition"]
    wrong = []
    for table, (a, b) in KEYS.items():
        got = {(c[a], c[b]): c for c in report[table]}
        assert set(got) == {(c[a], c[b]) for c in truth[table]}, f"{table}: other cells than printed"
        for cell in truth[table]:
            mine = got[(cell[a], cell[b])]
            if (mine["value"], mine["raw"]) != (cell["value"], cell["raw"]):
                wrong.append(f"{table} {cell[a]}/{cell[b]}: expected {cell['raw']!r}, got {mine['raw']!r}")
            elif cell["raw"] is not None:
                assert mine["position"] is not None
    assert not wrong, f"{len(wrong)} cells differ: {wrong[:10]}"
    # the title block of page 1 (PDF) or the document's leading largest-font paragraph (DOCX)
    h1 = truth.get("h1", truth["title"])
    assert re.findall(r"<h1>(.*?)</h1>", page) == ([h1] if h1 else [])
    assert report["title"] == truth["title"]
    # generated reports are consistent; a real page fails the rules its golden file fails, no others
    failed = sorted([c["rule"], c["scope"]] for c in report["checks"] if not c["ok"])
    assert failed == truth.get("failed_rules", [])


@pytest.mark.parametrize("path", FIXTURES + sorted(LAYOUT.glob("*.doc")), ids=lambda p: p.name)
def test_identity_from_the_document_itself(path: Path):
    """Through the one door: agency and year from page 1's title block (PDF) or the leading title
    paragraph (DOCX), the same cells as above."""
    from nianbao.parsers.document import parse_document

    truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    report = parse_document(path.read_bytes(), filename=path.name)
    assert (report["status"], report["title"], report["agency"], report["year"]) == (
        "parsed", truth["title"], truth["agency"], truth["year"])
    for table, (a, b) in KEYS.items():
        assert {(c[a], c[b]): c["raw"] for c in report[table]} == {(c[a], c[b]): c["raw"] for c in truth[table]}


def test_title_below_a_red_letter_header():
    page, report = _parse(LAYOUT / "pdf_red_header.pdf")
    assert page.index("<p>某某市某某区人民政府办公室文件</p>") < page.index("<h1>")
    assert report["agency"] == "某某市某某区人民政府办公室"


def test_hybrid_edition_keeps_the_single_other_row():
    _, report = _parse(LAYOUT / "pdf_hybrid_other.pdf")
    rows = [c["row"] for c in report["requests"]]
    assert "other" in rows and rows.index("other") < rows.index("total")
    assert all(c["position"] is None for c in report["requests"] if c["row"].startswith("other_"))
    assert any("of the other edition: kept as printed" in w for w in report["warnings"])
    # the rules over the unprinted sub-rows are skipped, never false failures
    assert all(c["ok"] for c in report["checks"])
    assert not [c for c in report["checks"] if c["rule"] == "outcomes_sum"]


def test_page_furniture_is_dropped():
    for name in ("pdf_a4_continued", "pdf_a4_thead_repeat", "pdf_landscape", "lo_docx_break", "pdf_browser_furniture",
                 "pdf_furniture_break", "pdf_furniture_next_row"):
        page, _ = _parse(LAYOUT / f"{name}.pdf")
        assert not re.search(r"<p>\s*(- \d+ -|第 \d+ 页 共 \d+ 页|\d+ ?/ ?\d+)\s*</p>", page), name
        assert "file://" not in page and not re.search(r"<p>\d{1,4}/\d{1,2}/\d{1,4}", page), name  # browser's own
        assert page.count("<table>") == 3, f"{name}: table parts not stitched into three tables"
        assert "信息公开</p>" not in page.replace("<p>二、主动公开政府信息情况</p>", "")


@pytest.mark.parametrize("name, row", [("pdf_furniture_break", "（七）总计"),
                                       ("pdf_furniture_next_row", "4.保护第三方合法权益")])
def test_print_header_over_a_table_part_stays_out_of_its_cells(name: str, row: str):
    """Chromium's own margins: its print header (date, title) sits a few points above a table part that
    opens a page (with a row cut by the break, or the next row, unruled at its head), its footer
    (address, x/y) right below a part ending a page. Neither is an open cell's text run on past its
    rulings: no cell holds any of it, and the row under the header keeps its label and columns."""
    from nianbao.parsers.pdf_layout import read_pdf

    layout = read_pdf((LAYOUT / f"{name}.pdf").read_bytes())
    texts = [c.text for kind, t in layout.blocks if kind == "table" for c in t.cells]
    assert len([kind for kind, _ in layout.blocks if kind == "table"]) == 3
    furniture = re.compile(r"\d{1,2}/\d{1,2}/\d{2}|PM|AM|file:|page\.html|政府信息公开工作年度报告")
    assert not [t for t in texts if furniture.search(t)]
    assert row in texts


# ---------------------------------------------------------------- continuations in any format

def _report(seed: int, edition: str = "2021") -> dict:
    import random

    from nianbao.parsers.render import random_report

    return random_report(random.Random(seed), year=2023, agency="某某区人民政府", edition=edition, blank_rate=0.2)


def _split_table3(page: str, at: int, repeat_header: bool, between: str) -> str:
    """Table 3 printed as two <table>s, cut before its data row `at` (a page break in a Word export)."""
    starts = [m.start() for m in re.finditer(r"<table\b", page)]
    start, end = starts[1], page.index("</table>", starts[1]) + len("</table>")
    table = page[start:end]
    open_tag = table[: table.index(">") + 1]
    rows = re.findall(r"<tr>.*?</tr>\n?", table, flags=re.S)
    head, body = rows[:3], rows[3:]
    first = open_tag + "".join(head + body[:at]) + "</table>"
    second = open_tag + "".join((head if repeat_header else []) + body[at:]) + "</table>"
    return page[:start] + first + between + second + page[end:]


def _assert_cells(report: dict, truth: dict) -> None:
    for table, (a, b) in KEYS.items():
        got = {(c[a], c[b]): (c["value"], c["raw"]) for c in report[table]}
        want = {(c[a], c[b]): (c["value"], c["raw"]) for c in truth[table]}
        assert got == want, table


@pytest.mark.parametrize("repeat_header", [False, True])
@pytest.mark.parametrize("at", [1, 9, 20])
def test_table3_continued_in_a_second_html_table(repeat_header, at):
    from nianbao.parsers.render import render_report

    truth = _report(at)
    page = _split_table3(render_report(truth, style="plain"), at, repeat_header,
                         "<p>- 3 -</p><p>某某区人民政府办公室</p>")
    report = parse_report(page.encode("utf-8"))
    assert report["status"] == "parsed", report["warnings"]
    _assert_cells(report, truth)
    assert not any("ignored" in w for w in report["warnings"]), report["warnings"]


def test_a_quoted_copy_of_a_table_never_overwrites_what_was_read():
    from nianbao.parsers.render import _Style, _table3, render_report

    truth = _report(5)
    last_year = _report(6)
    page = render_report(truth, style="plain").replace(
        "</div>\n</body>",
        "<p>附：上年度申请情况</p>" + _table3(last_year, "2021", _Style("plain")) + "</div>\n</body>")
    report = parse_report(page.encode("utf-8"))
    _assert_cells(report, truth)
    assert any("printed twice; kept the first" in w for w in report["warnings"])


def test_group_label_in_the_first_row_label_cell():
    from nianbao.parsers.labels import request_row_key

    assert request_row_key("三、本年度办理结果（一）予以公开") == "granted"
    assert request_row_key("三、本年度办理结果\n（二）部分公开（区分处理的，只计这一情形，不计其他情形）") == (
        "partially_granted")
    assert request_row_key("（三）不予公开 1.属于国家秘密") == "denied_state_secret"
    assert request_row_key("（六）其他处理 3.其他") == "other_other"
    assert request_row_key("（六）其他处理") == "other"
    assert request_row_key("三、本年度办理结果") is None and request_row_key("（四）无法提供") is None


def test_a_2019_report_printing_the_three_2021_other_rows_keeps_them():
    from nianbao.parsers.render import _Style, _table3, render_report

    truth = _report(7, edition="2019")
    page = render_report(truth, style="plain")
    sub = dict(truth, requests=[dict(c, row=r) for c in truth["requests"] if c["row"] == "other"
                                for r in ("other_no_correction",)]
               + [dict(c, row=r, value=0, raw="0") for c in truth["requests"] if c["row"] == "other"
                  for r in ("other_fee_unpaid", "other_other")]
               + [c for c in truth["requests"] if c["row"] != "other"])
    starts = [m.start() for m in re.finditer(r"<table\b", page)]
    end = page.index("</table>", starts[1]) + len("</table>")
    page = page[:starts[1]] + _table3(sub, "2021", _Style("plain")) + page[end:]
    report = parse_report(page.encode("utf-8"))
    assert report["edition"] == "2019"
    cells = {(c["row"], c["column"]): c for c in report["requests"]}
    assert all(cells[("other", col)]["position"] is None for col in ("natural_person", "total"))
    for c in truth["requests"]:
        if c["row"] == "other":
            assert cells[("other_no_correction", c["column"])]["raw"] == c["raw"]
            assert cells[("other_other", c["column"])]["raw"] == "0"
        else:
            assert cells[(c["row"], c["column"])]["raw"] == c["raw"]
    assert any("of the other edition: kept as printed" in w for w in report["warnings"])
    assert all(c["ok"] for c in report["checks"])


def test_docx_title_block_below_a_red_letter_header_with_the_body_on_its_own_line():
    import io

    import docx
    from docx.shared import Pt

    from nianbao.parsers.attachments import docx_to_html

    document = docx.Document()
    lines = (("某某市某某区人民政府办公室文件", 28), ("某府办〔2024〕1号", 12), ("某某区住房和城乡建设局", 18),
             ("2024年政府信息公开工作年度报告", 22), ("一、总体情况", 12)) + (("正文。", 12),) * 6
    for text, size in lines:
        document.add_paragraph().add_run(text).font.size = Pt(size)
    buffer = io.BytesIO()
    document.save(buffer)
    page = docx_to_html(buffer.getvalue())
    assert re.findall(r"<(?:h1|p)>[^<]*</(?:h1|p)>", page)[:4] == [
        "<p>某某市某某区人民政府办公室文件</p>", "<p>某府办〔2024〕1号</p>",
        "<h1>某某区住房和城乡建设局2024年政府信息公开工作年度报告</h1>", "<p>一、总体情况</p>"]
