"""Property tests: random input never crashes the parser; generated reports round-trip exactly."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nianbao.parsers import parse_report
from nianbao.parsers.render import STYLES, random_report, render_report

STATUSES = {"parsed", "partial", "no_tables", "pre2019", "not_a_report"}
TEMPLATE_WORDS = ["规章", "行政规范性文件", "信息内容", "本年制发件数", "本年新制作数量", "自然人", "商业企业",
                  "法人或其他组织", "总计", "（七）总计", "一、本年新收政府信息公开申请数量", "3.其他",
                  "（六）其他处理", "行政复议", "行政诉讼", "结果维持", "复议后起诉", "未经复议直接起诉",
                  "申请人情况", "一、总体情况", "六、其他需要报告的事项", "2023年政府信息公开工作年度报告",
                  "—", "/", "无", "１２", "-3", "251000元", "7.5万元", "&nbsp;", "", "0", "12"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_well_formed(report: dict) -> None:
    assert report["status"] in STATUSES
    assert not any(w.startswith("parser error") for w in report["warnings"]), report["warnings"]
    for key in ("active", "requests", "appeals", "sections", "checks", "warnings"):
        assert isinstance(report[key], list)


@SETTINGS
@given(st.binary(max_size=3000))
def test_random_bytes_never_crash(data):
    assert_well_formed(parse_report(data))


@SETTINGS
@given(st.text(max_size=3000))
def test_random_text_never_crashes(text):
    assert_well_formed(parse_report(text))


_attrs = st.fixed_dictionaries({}, optional={
    "rowspan": st.sampled_from(["0", "1", "2", "3", "22", "-1", "abc", "99999", ""]),
    "colspan": st.sampled_from(["0", "1", "2", "5", "8", "-4", "x", "100000", ""]),
})


def _cell(attrs: dict, text: str) -> str:
    rendered = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f"<td{rendered}>{text}</td>"


_cells = st.lists(st.builds(_cell, _attrs, st.sampled_from(TEMPLATE_WORDS)), max_size=9)
_rows = st.lists(_cells.map(lambda cells: "<tr>" + "".join(cells) + "</tr>"), max_size=30)
_tables = _rows.map(lambda rows: "<table>" + "".join(rows) + "</table>")
_blocks = st.one_of(
    _tables,
    st.sampled_from(TEMPLATE_WORDS).map(lambda w: f"<p>{w}</p>"),
    st.just("<div><table><tr><td><table><tr><td>规章</td><td>1</td></tr></table></td></tr></table></div>"),
    st.text(max_size=40),
)


@SETTINGS
@given(st.lists(_blocks, max_size=8),
       st.sampled_from(["", "<html><head><meta charset='gbk'></head><body>", "<?xml version='1.0' encoding='utf-8'?>"]))
def test_random_template_like_html_never_crashes(blocks, prefix):
    page = prefix + "".join(blocks)
    assert_well_formed(parse_report(page))
    assert_well_formed(parse_report(page.encode("utf-8")))


@SETTINGS
@given(st.integers(0, 2**32), st.integers(0, 5), st.data())
def test_mangled_rendered_pages_never_crash(seed, cuts, data):
    rng = random.Random(seed)
    page = render_report(random_report(rng, edition=rng.choice(["2019", "2021"])), style=rng.choice(STYLES))
    for _ in range(cuts):
        start = data.draw(st.integers(0, len(page)))
        end = data.draw(st.integers(start, min(len(page), start + 400)))
        if data.draw(st.booleans()):
            page = page[:start] + page[end:]
        else:
            page = page[:start] + page[start:end] * 2 + page[end:]
    assert_well_formed(parse_report(page))


def _values(cells: list[dict], a: str, b: str) -> dict:
    return {(c[a], c[b]): (c["value"], c["raw"]) for c in cells}


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(["2019", "2021"]), st.sampled_from(STYLES),
       st.sampled_from([0.0, 0.4]), st.integers(2019, 2030), st.booleans())
def test_generated_report_round_trips(seed, edition, style, blank_rate, year, as_bytes):
    original = random_report(random.Random(seed), year=year, agency="测试县人民政府办公室",
                             edition=edition, blank_rate=blank_rate)
    page = render_report(original, style=style)
    parsed = parse_report(page.encode("utf-8") if as_bytes else page)
    assert parsed["status"] == "parsed", parsed["warnings"]
    assert parsed["edition"] == edition
    assert (parsed["title"], parsed["agency"], parsed["year"]) == (original["title"], original["agency"], year)
    assert parsed["published"] == original["published"]
    assert _values(parsed["active"], "row", "measure") == _values(original["active"], "row", "measure")
    assert _values(parsed["requests"], "row", "column") == _values(original["requests"], "row", "column")
    assert _values(parsed["appeals"], "procedure", "outcome") == _values(original["appeals"], "procedure", "outcome")
    assert [(s["number"], s["heading"], s["text"]) for s in parsed["sections"]] == [
        (s["number"], s["heading"], s["text"]) for s in original["sections"]]
    assert parsed["checks"] and all(c["ok"] for c in parsed["checks"])
    assert parsed["warnings"] == []


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(["2019", "2021"]), st.sampled_from(["plain", "word", "ueditor"]),
       st.sampled_from(["colspan_trap", "flatten", "extra_column", "gbk"]))
def test_generated_report_round_trips_through_real_world_traps(seed, edition, style, trap):
    from tests.parsers import test_variants as V

    original = random_report(random.Random(seed), year=2024, agency="测试区财政局", edition=edition, blank_rate=0.2)
    page = render_report(original, style=style)
    if trap == "colspan_trap":
        def change(tables):
            rows = tables[1].findall(".//tr")
            rows[0][1].set("colspan", "8")
            rows[1][0].attrib.pop("rowspan")
            rows[1][0].set("colspan", "2")
            rows[2].insert(0, V.td())
            rows[2][1].set("colspan", "2")
            for tr in rows[3:]:
                tr[len(tr) - 6].set("colspan", "2")
        data = V.mutate(page, change)
    elif trap == "flatten":
        data = V.mutate(page, V._flatten_spans)
    elif trap == "extra_column":
        def change(tables):
            rows = tables[1].findall(".//tr")
            rows[0].insert(1, V.td(rowspan="3"))
            for tr in rows[3:]:
                tr.insert(len(tr) - 7, V.td())
        data = V.mutate(page, change)
    else:
        data = page.replace('<meta charset="utf-8">', "").encode("gbk")
    parsed = parse_report(data)
    V.assert_same_numbers(parsed, original)
    assert all(c["ok"] for c in parsed["checks"])
