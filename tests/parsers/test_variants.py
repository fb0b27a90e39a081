"""One small fixture per variant real reports show: each built from a known random report (so
every number is known) and mutated the way real portals print tables, or a small handwritten page."""

from __future__ import annotations

import copy
import random
import re

import pytest
from lxml import etree
from lxml import html as lxml_html

from nianbao.parsers import parse_report
from nianbao.parsers.render import random_report, render_report
from tests.conftest import REPO

VARIANTS = REPO / "tests" / "fixtures" / "parsers" / "variants"


def known(edition: str = "2021", seed: int = 11, blank_rate: float = 0.0) -> dict:
    return random_report(random.Random(seed), year=2022, agency="测试市交通运输局", edition=edition,
                         blank_rate=blank_rate)


def values(report: dict, key: str) -> dict:
    a, b = {"active": ("row", "measure"), "requests": ("row", "column"), "appeals": ("procedure", "outcome")}[key]
    return {(c[a], c[b]): c["value"] for c in report[key]}


def assert_same_numbers(parsed: dict, original: dict) -> None:
    assert parsed["status"] == "parsed", parsed["warnings"]
    for key in ("active", "requests", "appeals"):
        assert values(parsed, key) == values(original, key), key


def mutate(page: str, change) -> str:
    root = lxml_html.document_fromstring(page)
    change(root.findall(".//table"))
    return lxml_html.tostring(root, encoding="unicode")


def td(text: str = "", **attrs: str):
    cell = lxml_html.Element("td", {k: v for k, v in attrs.items()})
    cell.text = text
    return cell


# ---------------------------------------------------------------- merged cells and shifted columns


def test_merged_cells_rowspan_22_block_and_two_level_headers():
    original = known("2021")
    page = render_report(original, style="plain")
    assert 'rowspan="22"' in page and 'colspan="5"' in page
    assert_same_numbers(parse_report(page), original)


def test_colspan_trap_natural_person_header_spans_two_columns():
    """pingtan_2021: 自然人 spans two grid columns, the 商业企业 value cell has colspan=2."""
    original = known("2021", seed=3)

    def trap(tables):
        rows = tables[1].findall(".//tr")
        rows[0][1].set("colspan", "8")
        natural = rows[1][0]
        natural.attrib.pop("rowspan")
        natural.set("colspan", "2")
        rows[2].insert(0, td())
        rows[2][1].set("colspan", "2")
        for tr in rows[3:]:
            tr[len(tr) - 6].set("colspan", "2")

    parsed = parse_report(mutate(render_report(original), trap))
    assert_same_numbers(parsed, original)
    commercial = next(c for c in parsed["requests"] if c["row"] == "granted" and c["column"] == "commercial_enterprise")
    natural = next(c for c in parsed["requests"] if c["row"] == "granted" and c["column"] == "natural_person")
    assert commercial["position"]["col"] == natural["position"]["col"] + 1


def test_header_and_data_colspans_disagree_in_table_2():
    """shanghai 2019: header 本年增/减 has colspan=2 but the data row's first value does."""
    original = known("2019", seed=5)

    def shift(tables):
        header = None
        for tr in tables[0].findall(".//tr"):
            cells = list(tr)
            if len(cells) == 1:
                cells[0].set("colspan", "5")
                header = None
            elif cells[0].text_content() == "信息内容":
                header = len(cells)
                if header == 4:
                    cells[2].set("colspan", "2")
            elif header == 4:
                cells[1].set("colspan", "2")

    page = mutate(render_report(original), shift)
    parsed = parse_report(page)
    assert_same_numbers(parsed, original)
    change = next(c for c in parsed["active"] if c["row"] == "licensing" and c["measure"] == "items_change")
    assert change["position"]["col"] == 3  # after the colspan=2 first value


def test_extra_empty_column_between_labels_and_values():
    original = known("2021", seed=8)

    def widen(tables):
        rows = tables[1].findall(".//tr")
        rows[0].insert(1, td(rowspan="3"))
        for tr in rows[3:]:
            tr.insert(len(tr) - 7, td())

    assert_same_numbers(parse_report(mutate(render_report(original), widen)), original)


def test_tables_split_into_several_tables_and_wrapped_in_a_layout_table():
    original = known("2019", seed=9)

    def split(tables):
        for table, cut in ((tables[1], 5), (tables[0], 8), (tables[2], 3)):
            rows = table.findall(".//tr")
            second = lxml_html.Element("table")
            body = etree.SubElement(second, "tbody")
            for tr in rows[cut:]:
                body.append(tr)
            gap = lxml_html.Element("p")
            gap.text = "\u00a0"
            table.addnext(gap)
            gap.addnext(second)

    page = mutate(render_report(original), split)
    page = (page.replace("<body>", "<body><table class='layout'><tr><td>", 1)
            .replace("</body>", "</td></tr></table></body>", 1))
    parsed = parse_report(page)
    assert_same_numbers(parsed, original)
    assert {c["position"]["table"] for c in parsed["requests"]} == {3, 4}  # 0 is the layout table, 1-2 table 2
    # text inside the layout table
    assert [s["text"] for s in parsed["sections"]] == [s["text"] for s in original["sections"]]


def test_metadata_table_before_the_report_tables():
    original = known("2021", seed=12)
    meta = ("<table><tr><td>名称</td><td colspan='3'>测试市交通运输局2022年政府信息公开工作年度报告</td></tr>"
            "<tr><td>发布机构</td><td>测试市交通运输局</td><td>公开日期</td><td>2023-01-09</td></tr></table>")
    page = render_report({**original, "published": None}).replace('<div class="article">',
                                                                  '<div class="article">' + meta)
    parsed = parse_report(page)
    assert_same_numbers(parsed, original)
    assert parsed["published"] == "2023-01-09"
    assert parsed["requests"][0]["position"]["table"] == 2


# ---------------------------------------------------------------- markup, blanks, edition


def test_word_export_markup():
    original = known("2021", seed=21, blank_rate=0.3)
    page = render_report(original, style="word")
    assert "MsoNormalTable" in page and "<o:p>" in page and "<font" in page
    assert_same_numbers(parse_report(page), original)


def test_labels_split_across_paragraphs_and_nbsp_padding():
    original = known("2019", seed=22)
    page = render_report(original, style="ueditor")
    assert "&nbsp;&nbsp;" in page and "</p><p" in page
    assert_same_numbers(parse_report(page), original)


def test_blank_cells_are_null_not_zero_and_rules_say_so():
    original = known("2021", seed=4, blank_rate=0.9)
    parsed = parse_report(render_report(original))
    assert_same_numbers(parsed, original)
    blanks = [c for c in parsed["requests"] if c["value"] is None]
    assert blanks and all(c["raw"] == "" and c["position"] for c in blanks)
    assert any(c["blank_as_zero"] for c in parsed["checks"]) and all(c["ok"] for c in parsed["checks"])


def test_2019_edition_detected_from_the_tables_not_the_year():
    original = {**known("2019", seed=2), "year": 2021, "title": "测试市交通运输局2021年政府信息公开工作年度报告"}
    parsed = parse_report(render_report(original))
    assert (parsed["edition"], parsed["year"]) == ("2019", 2021)
    assert {c["row"] for c in parsed["requests"]} >= {"other"}
    assert "other_other" not in {c["row"] for c in parsed["requests"]}


def test_zero_marks_full_width_digits_separators_and_units():
    original = known("2021", seed=30)
    marked = copy.deepcopy(original)
    prints = {("rules", "issued"): ("—", 0), ("rules", "repealed"): ("/", 0), ("rules", "in_force"): ("无", 0),
              ("normative_documents", "issued"): ("１２", 12), ("normative_documents", "in_force"): ("1,234", 1234),
              ("licensing", "decisions"): (" 7件 ", 7), ("fees", "amount_10k_yuan"): ("12.5万元", 12.5)}
    for cell in marked["active"]:
        if (cell["row"], cell["measure"]) in prints:
            cell["raw"], cell["value"] = prints[(cell["row"], cell["measure"])]
    parsed = parse_report(render_report(marked))
    got = {(c["row"], c["measure"]): c for c in parsed["active"]}
    for key, (raw, value) in prints.items():
        assert got[key]["value"] == value and got[key]["raw"] == raw.strip(), key
        assert got[key].get("reading"), key
    assert "zero mark" in got[("rules", "issued")]["reading"]


def test_procurement_amount_in_10k_yuan_is_converted_and_raw_kept():
    original = known("2019", seed=31)
    for cell in original["active"]:
        if cell["measure"] == "amount_yuan":
            cell["raw"], cell["value"] = "7539.44万元", 75394400.0
    parsed = parse_report(render_report(original))
    cell = next(c for c in parsed["active"] if c["measure"] == "amount_yuan")
    assert (cell["value"], cell["raw"]) == (75394400.0, "7539.44万元")
    assert "万元" in cell["reading"]


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize("declared", ["gbk", "gb2312", None])
def test_gbk_bytes_with_and_without_meta_charset(declared):
    original = known("2021", seed=40)
    page = render_report(original)
    if declared:
        page = page.replace('<meta charset="utf-8">',
                            f'<meta http-equiv="Content-Type" content="text/html; charset={declared}">')
    else:
        page = page.replace('<meta charset="utf-8">', "")
    parsed = parse_report(page.encode("gbk"))
    assert_same_numbers(parsed, original)
    assert parsed["title"] == original["title"]


def test_gb18030_fragment_without_any_declaration():
    original = known("2019", seed=41)
    page = render_report(original, style="fragment")
    assert "<html" not in page
    assert_same_numbers(parse_report(page.encode("gb18030")), original)


def test_utf8_bom_and_lying_declaration():
    original = known("2021", seed=42)
    page = render_report(original).replace('<meta charset="utf-8">', '<meta charset="gbk">')
    parsed = parse_report(b"\xef\xbb\xbf" + page.encode("utf-8"))
    assert_same_numbers(parsed, original)
    lying = parse_report(page.encode("utf-8"))  # says gbk, is utf-8: decoding gbk fails, utf-8 wins
    assert_same_numbers(lying, original)


# ---------------------------------------------------------------- rule violations


def _bump(report: dict, key: str, a: str, b: str, delta: int = 1) -> dict:
    report = copy.deepcopy(report)
    for cell in report[key]:
        names = {"requests": ("row", "column"), "appeals": ("procedure", "outcome")}[key]
        if tuple(cell[k] for k in names) == (a, b):
            cell["value"] += delta
            cell["raw"] = str(cell["value"])
    return report


def failures(report: dict) -> dict:
    return {(c["rule"], c["scope"]): (c["expected"], c["actual"]) for c in report["checks"] if not c["ok"]}


def test_each_rule_reports_expected_and_actual_without_fixing_numbers():
    base = known("2021", seed=50)
    cells = values(base, "requests")
    broken = _bump(_bump(base, "requests", "new_received", "natural_person"), "requests", "new_received", "total")
    parsed = parse_report(render_report(broken))

    def balance(col):  # (expected, printed) of the bumped balance rule
        return (cells[("new_received", col)] + 1 + cells[("carried_over", col)],
                cells[("total", col)] + cells[("carried_forward", col)])

    assert failures(parsed) == {("balance", "natural_person"): balance("natural_person"),
                                ("balance", "total"): balance("total")}
    bumped = values(parsed, "requests")[("new_received", "natural_person")]
    assert bumped == cells[("new_received", "natural_person")] + 1

    broken = _bump(_bump(base, "requests", "granted", "natural_person"), "requests", "granted", "total")
    assert set(failures(parse_report(render_report(broken)))) == {("outcomes_sum", "natural_person"),
                                                                  ("outcomes_sum", "total")}

    broken = _bump(base, "requests", "carried_forward", "total")
    assert set(failures(parse_report(render_report(broken)))) == {("row_total", "carried_forward"),
                                                                  ("balance", "total")}

    appeals = values(base, "appeals")
    broken = _bump(base, "appeals", "review", "upheld", 2)
    assert failures(parse_report(render_report(broken))) == {
        ("appeals_total", "review"): (sum(appeals[("review", o)] for o in ("upheld", "corrected", "other", "pending"))
                                      + 2, appeals[("review", "total")])}


# ---------------------------------------------------------------- pages that are not (full) reports


def test_page_without_tables_is_no_tables():
    parsed = parse_report((VARIANTS / "image_only_2022.html").read_bytes())
    assert (parsed["status"], parsed["year"], parsed["published"]) == ("no_tables", 2022, "2023-01-18")
    assert parsed["agency"] == "某某镇人民政府"
    assert [s["number"] for s in parsed["sections"]] == [1, 2, 3, 4, 5, 6]
    assert parsed["active"] == [] and parsed["checks"] == []


def test_pre2019_report_is_recorded_not_forced_into_tables():
    parsed = parse_report((VARIANTS / "pre2019_2017.html").read_bytes())
    assert (parsed["status"], parsed["edition"], parsed["year"]) == ("pre2019", "pre2019", 2017)
    assert parsed["requests"] == []


def test_interpretation_page_is_not_a_report():
    parsed = parse_report((VARIANTS / "interpretation_2023.html").read_bytes())
    assert parsed["status"] == "not_a_report"
    assert parsed["year"] == 2023


@pytest.mark.parametrize("data", [b"", b"   ", b"\x00\xff\xfe\x00garbage\x80\x81", bytes(range(256)) * 40,
                                  "<html><body><p>页面不存在</p></body></html>", "<table><tr><td>", "随便一段文字",
                                  b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", 12345, None])
def test_garbage_gives_a_status_never_an_exception(data):
    parsed = parse_report(data)
    assert parsed["status"] == "not_a_report"
    assert parsed["parser_version"]
    assert not any(w.startswith("parser error") for w in parsed["warnings"])


def test_text_table_with_block_label_on_its_own_line_and_shifted_rows():
    """The seeds' text rendering: '3. 其他' at column 0, rows shifted by lost rowspans."""
    original = known("2021", seed=60, blank_rate=0.2)
    text = render_report(original, style="text")
    text = re.sub(r"^\t\t3\.其他", "3.其他\t", text, flags=re.M)
    assert "\n3.其他\t" in text
    assert_same_numbers(parse_report(text), original)


def test_all_three_tables_in_one_table_and_a_label_before_table_4_values():
    original = known("2019", seed=70)

    def merge(tables):
        first = tables[0]
        body = first.find("tbody") if first.find("tbody") is not None else first
        for other in tables[1:]:
            for tr in other.findall(".//tr"):
                body.append(tr)
            other.getparent().remove(other)
        rows = body.findall("tr")
        header, data = rows[-4], rows[-1]
        header.insert(0, td("类别", rowspan="3"))
        data.insert(0, td("数量"))

    parsed = parse_report(mutate(render_report(original), merge))
    assert_same_numbers(parsed, original)
    assert {c["position"]["table"] for key in ("active", "requests", "appeals") for c in parsed[key]} == {0}


def test_only_table_4_found_is_partial_with_its_cells():
    original = known("2021", seed=80)
    page = render_report(original)
    start = page.index("<table")
    end = page.index("</table>", page.index("</table>") + 1) + len("</table>")
    parsed = parse_report(page[:start] + page[end:])  # tables 2 and 3 gone
    assert (parsed["status"], parsed["edition"]) == ("partial", None)
    assert values(parsed, "appeals") == values(original, "appeals")
    assert {c["rule"] for c in parsed["checks"]} == {"appeals_total"} and parsed["active"] == parsed["requests"] == []


def _flatten_spans(tables):
    """What pdfplumber-made HTML looks like: every grid position its own cell, merged ones empty."""
    for table in tables:
        rows = table.findall(".//tr")
        covered: set[tuple[int, int]] = set()
        for r, tr in enumerate(rows):
            cells, c, out = list(tr), 0, []
            for cell in cells:
                while (r, c) in covered:
                    out.append(td())
                    c += 1
                rowspan, colspan = int(cell.attrib.pop("rowspan", 1)), int(cell.attrib.pop("colspan", 1))
                for dr in range(rowspan):
                    for dc in range(colspan):
                        if dr or dc:
                            covered.add((r + dr, c + dc))
                out.append(cell)
                out.extend(td() for _ in range(colspan - 1))
                c += colspan
            while (r, c) in covered:
                out.append(td())
                c += 1
            for cell in cells:
                tr.remove(cell)
            tr.extend(out)


@pytest.mark.parametrize("edition", ["2019", "2021"])
def test_spans_flattened_into_empty_cells_like_pdf_tables(edition):
    original = known(edition, seed=90, blank_rate=0.3)
    page = mutate(render_report(original), _flatten_spans)
    assert "rowspan" not in page and "colspan" not in page
    parsed = parse_report(page)
    assert_same_numbers(parsed, original)
    assert parsed["warnings"] == []


def test_markdown_pipe_tables():
    original = known("2021", seed=95, blank_rate=0.2)
    lines = ["| " + " | ".join(line.split("\t")) + " |" if "\t" in line else line
             for line in render_report(original, style="text").split("\n")]
    assert_same_numbers(parse_report("\n".join(lines)), original)


def test_collapsed_applicant_header_maps_only_named_columns():
    """A table 3 printing 自然人 | 法人或其他组织 | 总计 only: the legal-person total has no template
    column, so it is not forced into 商业企业; the named columns still map."""
    rows = ["<tr><td colspan='3'>（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）</td>"
            "<td>自然人</td><td>法人或其他组织</td><td>总计</td></tr>",
            "<tr><td colspan='3'>一、本年新收政府信息公开申请数量</td><td>5</td><td>2</td><td>7</td></tr>",
            "<tr><td colspan='3'>二、上年结转政府信息公开申请数量</td><td>1</td><td>0</td><td>1</td></tr>"]
    table2 = ("<table><tr><td>信息内容</td><td>本年制发件数</td><td>本年废止件数</td><td>现行有效件数</td></tr>"
              "<tr><td>规章</td><td>0</td><td>0</td><td>0</td></tr></table>")  # edition 2021
    page = ("<html><body><p>测试县2023年政府信息公开工作年度报告</p>" + table2 + "<table>" + "".join(rows)
            + "</table></body></html>")
    parsed = parse_report(page)
    assert parsed["status"] == "partial"
    assert parsed["edition"] == "2021" and any("lacks columns" in w for w in parsed["warnings"])
    assert any("'2'" in w and "no header column" in w for w in parsed["warnings"])  # 法人或其他组织 value
    got = {(c["row"], c["column"]): c["value"] for c in parsed["requests"] if c["position"]}
    assert got == {("new_received", "natural_person"): 5, ("new_received", "total"): 7,
                   ("carried_over", "natural_person"): 1, ("carried_over", "total"): 1}


@pytest.mark.parametrize("title,status", [
    ("关于报送2017年政府信息公开工作年度报告的通知", "not_a_report"),
    ("关于做好2023年政府信息公开工作年度报告编制和发布工作的通知", "not_a_report"),
    ("某某县2016年政府信息公开工作年度报告", "pre2019"),
    ("某某县2023年政府信息公开工作年度报告（全文）", "no_tables"),
])
def test_notices_about_reports_are_not_reports(title, status):
    page = (f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>发布日期：2024-01-05</p>"
            "<p>各单位：请按要求报送。</p><table><tr><td>联系人</td><td>电话</td></tr></table></body></html>")
    assert parse_report(page.encode("utf-8"))["status"] == status
