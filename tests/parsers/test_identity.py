"""Report identity from evidence (issue 11, points 1 and 2): title, agency, year, publication date.

The fixture pages of tests/fixtures/parsers/identity/ (one per class of page that keyed reports
wrongly on unseen portals) are checked against the random report they were rendered from, cell
by cell, and against the facts their generator states; the golden walker (test_golden.py) locks
their whole parse. Below them: the text rules, the agency spelling, and a property test that
wraps generated reports in random page chrome.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nianbao.parsers import parse_report
from nianbao.parsers.metadata import (
    agency_of,
    find_title,
    is_agency_like,
    is_news_title,
    normalize_agency,
    region_levels,
)
from nianbao.parsers.navigation import (
    ends_with_column_name,
    is_column_name,
    is_link_label_line,
    is_navigation_text,
    is_site_name,
)
from nianbao.parsers.render import HTML_STYLES, random_report, render_report
from tests.conftest import REPO

IDENTITY = REPO / "tests" / "fixtures" / "parsers" / "identity"


def _generator():
    spec = importlib.util.spec_from_file_location("make_identity", IDENTITY / "make_identity.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_identity"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


MAKE = _generator()


@pytest.mark.parametrize("case", MAKE.CASES, ids=lambda c: c.name)
def test_fixture_page_names_its_report_and_reads_every_cell(case):
    page = (IDENTITY / f"{case.name}.html").read_bytes()
    hints_file = IDENTITY / f"{case.name}.hints.json"
    hints = json.loads(hints_file.read_text(encoding="utf-8")) if hints_file.exists() else None
    assert hints == case.hints
    parsed = parse_report(page, source=f"identity/{case.name}.html", hints=hints)
    original = MAKE.truth(case.seed, case.year, case.agency, case.edition)
    assert MAKE.check(case, parsed, original) == []
    if case.cells:
        assert parsed["checks"] and all(c["ok"] for c in parsed["checks"])


def test_fixture_pages_are_what_the_generator_writes():
    """The committed pages are the generator's (a regenerated page would change the golden)."""
    for case in MAKE.CASES:
        original = MAKE.truth(case.seed, case.year, case.agency, case.edition)
        assert (IDENTITY / f"{case.name}.html").read_bytes() == case.build(original).encode(case.encoding), \
            f"{case.name}: page differs from its generator (render.py changed?): rerun make_identity.py and review"


def test_one_case_per_brief_class():
    names = {c.name for c in MAKE.CASES}
    for separator in ("gt", "double_gt", "raquo", "rsaquo", "fullwidth", "arrow"):
        assert f"crumb_{separator}" in names
    assert {"crumb_position_line", "title_only_in_breadcrumb", "title_only_in_title_tag", "title_only_in_meta",
            "h1_site_name_h2_title",
            "agency_from_contentsource", "agency_from_source_line", "year_title_vs_period",
            "year_after_publication", "year_before_2008", "interpretation_repeating_numbers",
            "news_item_linking_report", "page_only_linking_report", "report_with_related_interpretation_box",
            "gbk_breadcrumb", "agency_region_prefix_full", "agency_region_bare_district",
            "pre2019_with_breadcrumb"} <= names


def test_region_spellings_of_one_body_are_one_agency():
    agencies = set()
    for name in ("crumb_gt", "agency_region_prefix_full", "agency_region_bare_district"):
        hints = json.loads((IDENTITY / f"{name}.hints.json").read_text(encoding="utf-8"))
        agencies.add(parse_report((IDENTITY / f"{name}.html").read_bytes(), hints=hints)["agency"])
    assert agencies == {"龙岗区卫生健康局"}


# ---------------------------------------------------------------- text rules


@pytest.mark.parametrize("text", [
    "首页 > 信息公开 > 年度报告", "首页>>政务公开>>政府信息公开年报", "首页 » 信息公开 » 政府信息公开工作年度报告",
    "首页 › 年度报告", "首页＞信息公开＞年度报告", "首页 → 信息公开", "当前位置：首页 > 政务公开",
    "您现在的位置：首页", "您的位置: 信息公开 > 年度报告", "所在位置：年度报告", "首页 / 信息公开 / 年度报告",
    "首页 - 信息公开 - 年度报告", "首页 信息公开 政府信息公开工作年度报告",
    "信息公开 > 年度报告 > 某区2023年政府信息公开工作年度报告",
])
def test_breadcrumbs_are_navigation(text):
    assert is_navigation_text(text)


@pytest.mark.parametrize("text", [
    "平潭综合实验区2024年度政府信息公开工作年度报告", "发布日期：2024/01/17", "时间：2025-03-10 15:35",
    "申请人情况", "一、总体情况", "（一）主动公开方面。有序推进基层政务公开。",
])
def test_report_text_is_not_navigation(text):
    assert not is_navigation_text(text)


def test_column_site_and_link_label_names():
    for column in ("政府信息公开年报", "年度报告", "信息公开", "政务公开", "政府信息公开工作年度报告",
                   "政府信息公开年度报告", "法定主动公开内容", "信息公开年报", "政策解读"):
        assert is_column_name(column), column
    assert not is_column_name("某区2023年政府信息公开工作年度报告")
    assert ends_with_column_name("龙岗区政府信息公开年报") and not ends_with_column_name("龙岗区卫生健康局")
    for site in ("深圳市龙岗区人民政府门户网站", "沭阳县人民政府网", "广东政务服务网", "中国上海门户网站"):
        assert is_site_name(site), site
    assert not is_site_name("深圳市龙岗区人民政府")
    for line in ("相关链接：某区2023年政府信息公开工作年度报告", "上一篇：某区2022年政府信息公开工作年度报告",
                 "【附件】：某区2023年报.pdf", "下一篇: 某区2024年政府信息公开工作年度报告"):
        assert is_link_label_line(line), line
    assert not is_link_label_line("图解：某某县2023年政府信息公开工作年度报告解读")


def test_title_is_never_navigation_or_a_link_label():
    lines = [("首页 > 信息公开 > 政府信息公开工作年度报告", False), ("当前位置：政府信息公开年报", False),
             ("政府信息公开工作年度报告", False), ("相关链接：某区2022年政府信息公开工作年度报告", False),
             ("某区民政局2023年政府信息公开工作年度报告", False)]
    assert find_title(lines, None) == "某区民政局2023年政府信息公开工作年度报告"
    assert find_title(lines[:4], "某区2023年政府信息公开工作年度报告_政府信息公开年报_某区人民政府门户网站") \
        == "某区2023年政府信息公开工作年度报告"


@pytest.mark.parametrize("name", [
    "首页>", "首页»信息公开", "当前位置：首页", "政府信息公开年报", "龙岗区政府信息公开年报", "年度报告",
    "深圳市龙岗区人民政府门户网站", "沭阳县人民政府网", "http://www.shuyang.gov.cn/a.shtml", "本网", "本站原创",
    "深圳特区报", "龙岗区融媒体中心", "我局", "本机关", "根据条例，现将报告公布如下。", "2023", "", None,
])
def test_not_agencies(name):
    assert not is_agency_like(name)


@pytest.mark.parametrize("name", ["龙岗区卫生健康局", "平潭综合实验区", "上海市人民政府办公厅", "某某县水利局",
                                  "卫东区北环路街道办事处", "国家文物局", "龙岗区人民政府(区政府办公室)"])
def test_agencies(name):
    assert is_agency_like(name)


def test_region_levels():
    assert region_levels("广东省深圳市龙岗区") == (("广东省", "广东"), ("深圳市", "深圳"), ("龙岗区", "龙岗"))
    assert [full for full, _ in region_levels("新疆维吾尔自治区阿克苏地区阿克苏市")] == \
        ["新疆维吾尔自治区", "阿克苏地区", "阿克苏市"]
    assert [full for full, _ in region_levels("内蒙古自治区呼和浩特市")] == ["内蒙古自治区", "呼和浩特市"]
    assert [full for full, _ in region_levels("吉林省延边朝鲜族自治州延吉市")] == [
        "吉林省", "延边朝鲜族自治州", "延吉市"]
    assert region_levels(None) == region_levels("") == ()


@pytest.mark.parametrize("name,region,canonical", [
    ("深圳市龙岗区卫生健康局", "广东省深圳市龙岗区", "龙岗区卫生健康局"),
    ("广东省深圳市龙岗区卫生健康局", "广东省深圳市龙岗区", "龙岗区卫生健康局"),
    ("深圳龙岗区卫生健康局", "广东省深圳市龙岗区", "龙岗区卫生健康局"),
    ("龙岗区卫生健康局", "广东省深圳市龙岗区", "龙岗区卫生健康局"),
    ("区卫生健康局", "广东省深圳市龙岗区", "龙岗区卫生健康局"),
    ("深圳市龙岗区", "广东省深圳市龙岗区", "龙岗区"),
    # another level's body keeps its name: 龙岗区 does not follow 深圳市 here
    ("深圳市规划和自然资源局龙岗管理局", "广东省深圳市龙岗区", "深圳市规划和自然资源局龙岗管理局"),
    ("深圳市卫生健康委员会", "广东省深圳市龙岗区", "深圳市卫生健康委员会"),
    # on the city's portal the district's bureau keeps the city (the portal's deepest level)
    ("深圳市龙岗区卫生健康局", "广东省深圳市", "深圳市龙岗区卫生健康局"),
    ("广东省深圳市龙岗区卫生健康局", "广东省深圳市", "深圳市龙岗区卫生健康局"),
    ("市场监督管理局", "广东省深圳市", "市场监督管理局"),  # 市 is never prefixed: 市场…
    ("县水利局", "江苏省宿迁市沭阳县", "沭阳县水利局"),
    ("区管委会办公室", "福建省平潭综合实验区", "平潭综合实验区管委会办公室"),
    # spelling: whitespace, full-width forms, quotes and stray brackets
    (" 龙岗区\u3000卫生健康局\u00a0", None, "龙岗区卫生健康局"),
    ("“龙岗区卫生健康局”", None, "龙岗区卫生健康局"),
    ("（龙岗区卫生健康局）", None, "龙岗区卫生健康局"),
    ("龙岗区卫生健康局）", None, "龙岗区卫生健康局"),
    ("《龙岗区卫生健康局》", None, "龙岗区卫生健康局"),
    ("龙岗区人民政府（区政府办公室）", None, "龙岗区人民政府(区政府办公室)"),
    ("ＸＸ第１中学", None, "XX第1中学"),
    ("沭阳县发展和改革局", None, "沭阳县发展和改革局"),
])
def test_normalize_agency(name, region, canonical):
    assert normalize_agency(name, region) == canonical
    assert normalize_agency(canonical, region) == canonical  # idempotent


def test_normalize_agency_empty():
    assert normalize_agency(None) is None and normalize_agency("") is None and normalize_agency("  ") is None


def test_news_titles_and_their_agency():
    assert is_news_title("深圳市龙岗区发布2023年政府信息公开工作年度报告")
    assert is_news_title("龙岗区2023年政府信息公开工作年度报告正式发布")
    assert is_news_title("我区公布《2023年政府信息公开工作年度报告》")
    assert not is_news_title("深圳市龙岗区2023年政府信息公开工作年度报告")
    assert not is_news_title("深圳市龙岗区新闻中心2023年政府信息公开工作年度报告")
    assert agency_of("深圳市龙岗区发布2023年政府信息公开工作年度报告") == "深圳市龙岗区"


# ---------------------------------------------------------------- the contract


def test_hints_are_optional_and_never_raise():
    page = render_report(random_report(random.Random(3), year=2022, agency="某某县民政局"))
    plain = parse_report(page)
    assert plain["agency"] == "某某县民政局" and plain["identity"]["agency"] == "title"
    for hints in (None, {}, {"agency": None, "region": None}, {"agency": 5, "region": ["x"]}, "junk", {"x": 1}):
        again = parse_report(page, hints=hints)
        assert again["agency"] == "某某县民政局" and not any(w.startswith("parser error") for w in again["warnings"])


def test_hint_never_overrides_the_page():
    page = render_report(random_report(random.Random(4), year=2022, agency="某某县民政局"))
    parsed = parse_report(page, hints={"agency": "某某县人民政府"})
    assert parsed["agency"] == "某某县民政局" and parsed["identity"]["agency"] == "title"


def test_navigation_hint_is_not_used():
    page = "<h1>2023年政府信息公开工作年度报告</h1><p>一、总体情况</p>"
    parsed = parse_report(page, hints={"agency": "首页 > 信息公开"})
    assert parsed["agency"] is None and parsed["identity"]["agency"] is None


def test_identity_keys_on_every_report():
    for data in (b"", b"\xff\xfe", "<html><body><p>hello</p></body></html>", "plain text"):
        report = parse_report(data)
        assert set(report["identity"]) == {"title", "agency", "year", "published"}


# ---------------------------------------------------------------- property: chrome never names the report

_COLUMNS = ["首页", "网站首页", "信息公开", "政府信息公开", "政务公开", "政府信息公开年报", "年度报告",
            "政府信息公开工作年度报告", "法定主动公开内容", "政府信息公开年度报告", "信息公开年报"]
_SEPARATORS = [">", ">>", "»", "›", "＞", "→", "/", "&gt;", "&gt;&gt;", "＞＞"]
_PREFIXES = ["", "当前位置：", "您现在的位置：", "您的位置: ", "所在位置：", "当前位置:"]
_CRUMB_CLASSES = ["", ' class="breadcrumb"', ' class="position"', ' class="dqwz"', ' id="location"',
                  ' class="crumbs"', ' class="bt-position"']
_SITES = ["深圳市龙岗区人民政府门户网站", "沭阳县人民政府网", "某某市人民政府", "中国·某某", "某某县政府网站"]
_AGENCIES = [("深圳市龙岗区卫生健康局", "广东省深圳市龙岗区", "龙岗区卫生健康局"),
             ("龙岗区民政局", "广东省深圳市龙岗区", "龙岗区民政局"),
             ("沭阳县发展和改革局", "江苏省宿迁市沭阳县", "沭阳县发展和改革局"),
             ("平潭综合实验区", None, "平潭综合实验区"),
             ("某某县人民政府办公室", None, "某某县人民政府办公室"),
             ("卫东区北环路街道办事处", None, "卫东区北环路街道办事处")]
_NAV_MARKS = (">", "»", "›", "＞", "→", "首页", "当前位置", "位置")


@st.composite
def _crumb(draw) -> str:
    separator = draw(st.sampled_from(_SEPARATORS))
    segments = draw(st.lists(st.sampled_from(_COLUMNS), min_size=2, max_size=5))
    linked = draw(st.booleans())
    parts = [f'<a href="/{i}/">{s}</a>' if linked else s for i, s in enumerate(segments)]
    text = draw(st.sampled_from(_PREFIXES)) + f" {separator} ".join(parts)
    tag = draw(st.sampled_from(["div", "p", "span", "td"]))
    if tag == "td":
        return f"<table><tr><td{draw(st.sampled_from(_CRUMB_CLASSES))}>{text}</td></tr></table>"
    return f"<{tag}{draw(st.sampled_from(_CRUMB_CLASSES))}>{text}</{tag}>"


@st.composite
def _menu(draw) -> str:
    items = draw(st.lists(st.sampled_from(_COLUMNS + ["办事服务", "互动交流", "解读回应", "政策解读"]),
                          min_size=2, max_size=8))
    linked = draw(st.booleans())
    cls = draw(st.sampled_from(["", ' class="nav"', ' class="menu"', ' id="mainNav"', ' class="sub-menu"']))
    lis = "".join(f'<li><a href="#">{i}</a></li>' if linked else f"<li>{i}</li>" for i in items)
    return f"<ul{cls}>{lis}</ul>"


@st.composite
def _site_header(draw) -> str:
    tag = draw(st.sampled_from(["h1", "div", "h2", "p"]))
    cls = draw(st.sampled_from(["", ' class="header"', ' class="logo"', ' id="top"', ' class="banner"']))
    return f"<{tag}{cls}>{draw(st.sampled_from(_SITES))}</{tag}>"


@st.composite
def _column_heading(draw) -> str:
    tag = draw(st.sampled_from(["h2", "h3", "div", "p"]))
    close = draw(st.sampled_from([tag, tag, "h2"]))  # sometimes mis-closed, as sloppy CMS templates are
    return f"<{tag}>{draw(st.sampled_from(_COLUMNS))}</{close}>"


@st.composite
def _link_list(draw, year: int) -> str:
    other = draw(st.sampled_from([year - 1, year - 2, year + 1]))
    label = draw(st.sampled_from(["相关链接：", "上一篇：", "下一篇：", "相关阅读：", ""]))
    title = draw(st.sampled_from([f"某某区{other}年政府信息公开工作年度报告",
                                  f"《某某区{year}年政府信息公开工作年度报告》解读",
                                  f"图解：{other}年政府信息公开工作年度报告"]))
    return f'<p>{label}<a href="/x{other}.html">{title}</a></p>'


_FOOTER = ('<div class="footer"><p>主办单位：某某市人民政府办公室</p><p>网站标识码：3590000001</p>'
           '<p><a href="#">网站地图</a> | <a href="#">联系我们</a></p></div>')


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 10_000), year=st.integers(2019, 2025),
       style=st.sampled_from(HTML_STYLES), which=st.integers(0, len(_AGENCIES) - 1),
       with_region=st.booleans())
def test_chrome_around_a_report_never_names_it(data, seed, year, style, which, with_region):
    agency, region, canonical = _AGENCIES[which]
    report = random_report(random.Random(seed), year=year, agency=agency)
    page = render_report(report, style=style)
    before = data.draw(st.lists(st.one_of(_crumb(), _menu(), _site_header(), _column_heading(),
                                          _link_list(year)), max_size=6))
    after = data.draw(st.lists(st.one_of(_link_list(year), _menu(), st.just(_FOOTER), _crumb()), max_size=4))
    chrome_title = data.draw(st.sampled_from([None, "site", "column", "crumb"]))
    if style == "fragment":
        page = "".join(before) + page + "".join(after)
    else:
        start, end = page.index('<div class="article">'), page.rindex("</body>")
        page = page[:start] + "".join(before) + page[start:end] + "".join(after) + page[end:]
        if chrome_title:
            replacement = {"site": _SITES[0], "column": "政府信息公开年报",
                           "crumb": "首页 > 信息公开 > 政府信息公开工作年度报告"}[chrome_title]
            page = page.replace(f"<title>{report['title']}</title>", f"<title>{replacement}</title>")
    hints = {"region": region} if with_region and region else None
    parsed = parse_report(page.encode("utf-8"), hints=hints)

    assert parsed["status"] == "parsed", parsed["warnings"]
    name = parsed["agency"]
    assert name and not any(mark in name for mark in _NAV_MARKS), name
    assert not ends_with_column_name(name) and not is_column_name(name), name
    assert name == (canonical if hints else normalize_agency(agency)), name
    assert parsed["year"] == year
    assert parsed["title"] == report["title"]


def test_body_or_article_named_like_chrome_is_kept():
    for page in ('<body class="navbar-fixed"><h1>某县民政局2017年政府信息公开工作年度报告</h1>'
                 "<p>一、概述</p><p>全年公开信息。</p></body>",
                 '<body><article class="menu-page"><h1>某县民政局2017年政府信息公开工作年度报告</h1>'
                 "<p>一、概述</p><p>全年公开信息。</p></article></body>"):
        parsed = parse_report(page)
        assert (parsed["status"], parsed["agency"], parsed["year"]) == ("pre2019", "某县民政局", 2017)


def test_agency_in_closing_brackets_or_from_a_field_never_from_a_sentence():
    parsed = parse_report("<h1>2023年度政府信息公开工作年度报告（龙岗区卫生健康局）</h1><p>一、总体情况</p>")
    assert parsed["agency"] == "龙岗区卫生健康局" and parsed["identity"]["agency"] == "title"
    parsed = parse_report("<h1>2023年度政府信息公开工作年度报告（全文）</h1><p>信息来源于本局网站和公告栏。</p>"
                          "<p>一、总体情况</p>")
    assert parsed["agency"] is None
    table = ("<table><tr><td>索引号</td><td>0143/2024-1</td></tr><tr><td>发布机构</td><td>某县发改局</td>"
             "<td>发文日期</td><td>2024-01-17</td></tr></table>")
    parsed = parse_report(f"{table}<h1>2023年政府信息公开年度报告</h1><p>一、总体情况</p>")
    assert (parsed["agency"], parsed["published"], parsed["identity"]["agency"]) == (
        "某县发改局", "2024-01-17", "source")


def test_a_line_above_the_title_is_joined_unless_the_page_states_another_body():
    pdf_like = "<h1>深圳市龙岗区发展和改革局</h1><h1>2023年政府信息公开工作年度报告</h1><p>一、总体情况</p>"
    parsed = parse_report(pdf_like)
    assert (parsed["title"], parsed["agency"]) == ("深圳市龙岗区发展和改革局2023年政府信息公开工作年度报告",
                                                   "深圳市龙岗区发展和改革局")
    assert type(parsed["title"]) is str
    site_above = ("<div>龙岗区人民政府</div><h1>2023年政府信息公开工作年度报告</h1><p>来源：龙岗区教育局</p>"
                  "<p>一、总体情况</p>")
    parsed = parse_report(site_above)
    assert (parsed["title"], parsed["agency"], parsed["identity"]["agency"]) == (
        "2023年政府信息公开工作年度报告", "龙岗区教育局", "source")
