"""Unit tests of the parser's small modules: values, labels, headings, titles, decoding, checks, CLI."""

from __future__ import annotations

import json
import random

import pytest

from nianbao.cli import main
from nianbao.parsers import check_carry_chain, parse_report
from nianbao.parsers.decode import decode_bytes
from nianbao.parsers.labels import active_row_key, appeal_outcome_key, appeal_procedure_key, request_row_key
from nianbao.parsers.metadata import agency_of, find_title, year_of
from nianbao.parsers.render import random_report
from nianbao.parsers.sections import split_sections
from nianbao.parsers.values import KIND_COUNT, KIND_MONEY_10K, KIND_MONEY_YUAN, KIND_SIGNED, read_value
from tests.conftest import SHARED


@pytest.mark.parametrize("text,kind,value,reading", [
    ("12", KIND_COUNT, 12, None),
    ("", KIND_COUNT, None, None),
    ("\u00a0 ", KIND_COUNT, None, None),
    ("１２３", KIND_COUNT, 123, "full-width"),
    ("1,234", KIND_COUNT, 1234, "separator"),
    ("1，234", KIND_COUNT, 1234, "separator"),
    ("—", KIND_COUNT, 0, "zero mark"),
    ("——", KIND_COUNT, 0, "zero mark"),
    ("-", KIND_COUNT, 0, "zero mark"),
    ("/", KIND_COUNT, 0, "zero mark"),
    ("无", KIND_COUNT, 0, "zero mark"),
    ("-18", KIND_SIGNED, -18, None),
    ("－15", KIND_SIGNED, -15, "full-width"),
    ("+3", KIND_SIGNED, 3, None),
    ("7件", KIND_COUNT, 7, "unit 件"),
    ("3.00", KIND_COUNT, 3, "whole number"),
    ("251000元", KIND_MONEY_YUAN, 251000.0, "unit 元"),
    ("7539.44万元", KIND_MONEY_YUAN, 75394400.0, "万元 converted"),
    ("75394432.52元", KIND_MONEY_YUAN, 75394432.52, "unit 元"),
    ("24252.311082", KIND_MONEY_10K, 24252.311082, None),
    ("50000元", KIND_MONEY_10K, 5.0, "元 converted to 万元"),
    ("0", KIND_MONEY_10K, 0.0, None),
])
def test_read_value(text, kind, value, reading):
    got = read_value(text, kind)
    assert got.value == value and type(got.value) is type(value)
    if reading:
        assert reading in got.reading
    else:
        assert got.reading is None


def test_read_value_keeps_published_oddities_with_warnings():
    assert read_value("-2", KIND_COUNT).value == -2 and "negative" in read_value("-2", KIND_COUNT).warning
    assert read_value("见附件", KIND_COUNT) == (None, None, "unreadable value '见附件'")
    assert read_value("2.5", KIND_COUNT).value is None
    assert read_value("8000", KIND_MONEY_YUAN, header_unit="万元").value == 80000000.0


@pytest.mark.parametrize("label,key", [
    ("一、本年新收政府信息公开申请数量", "new_received"),
    ("二、上年结转政府信息公开申请数量", "carried_over"),
    ("(一) 予以公开", "granted"),
    ("（二）部分公开 (区分处理的, 只计这一情形, 不计其他情形)", "partially_granted"),
    ("1. 属于国家秘密", "denied_state_secret"),
    ("3.危及“三安全一稳定”", "denied_three_safeties_one_stability"),
    ("3．危及\"三安全一稳定\"", "denied_three_safeties_one_stability"),
    ("三、本 年度办理结果", None),
    ("（三）不予公开", None),
    ("1.本机关不掌握相关政府信息", "unavailable_not_held"),
    ("5.要求行政机关确认或重新出具已获取信息", "not_processed_reconfirmation"),
    ("1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", "other_no_correction"),
    ("3. 其他", "other_other"),
    ("（六）其他处理", "other"),
    ("(七) 总计", "total"),
    ("四、结转下年度继续办理", "carried_forward"),
])
def test_request_row_labels(label, key):
    assert request_row_key(label) == key


def test_other_labels():
    assert active_row_key("规范性文件") == active_row_key("行政规范性文件") == "normative_documents"
    assert active_row_key("政府集中采购") == "procurement"
    assert appeal_procedure_key("未经复议直接起诉") == "litigation_direct"
    assert appeal_procedure_key("复议后起诉") == "litigation_after_review"
    assert appeal_outcome_key("结果 维持") == "upheld" and appeal_outcome_key("尚未 审结") == "pending"


@pytest.mark.parametrize("title,year,agency", [
    ("平潭综合实验区2024年度政府信息公开工作年度报告", 2024, "平潭综合实验区"),
    ("2019年上海市人民政府办公厅政府信息公开工作年度报告", 2019, "上海市人民政府办公厅"),
    ("沭阳县发展和改革局2023年政府信息公开年度报告", 2023, "沭阳县发展和改革局"),
    ("卫东区北环路街道办事处 2024 年政府信息公开工作 年度报告", 2024, "卫东区北环路街道办事处"),
    ("某某县民政局政府信息公开工作2022年度报告", 2022, "某某县民政局"),
    ("某某县水利局2021年政府信息公开工作度报告", 2021, "某某县水利局"),
    ("某某市二〇二三年政府信息公开工作年度报告", 2023, "某某市"),
])
def test_titles_years_agencies(title, year, agency):
    assert year_of(title) == year
    assert agency_of(title) == agency
    assert find_title([(title, False)], None) == " ".join(title.split())


def test_title_not_taken_from_links_or_intro_sentences():
    lines = [("平潭综合实验区2023年度政府信息公开工作年度报告", True),
             ("现将本机关2024年度政府信息公开工作年度报告公布如下。", False),
             ("平潭综合实验区2024年度政府信息公开工作年度报告", False)]
    assert find_title(lines, None) == "平潭综合实验区2024年度政府信息公开工作年度报告"
    assert find_title([], "沭阳县发展和改革局2023年政府信息公开年度报告-沭阳县发改局") == (
        "沭阳县发展和改革局2023年政府信息公开年度报告")


def test_section_headings_vary_and_must_come_in_order():
    lines = ["前言", "一、总体情况", "（一）主动公开", "正文一", "二、主动公开政府信息情况",
             "### 三、收到和处理政府信息公开申请情况", "第四部分 政府信息公开行政法复议、行政诉讼情况",
             "五、存在的主要问题及整改措施", "问题正文", "6. 其他需要报告的事项", "无。", "附件下载", "扫一扫"]
    sections, first, end = split_sections(lines)
    assert [(s["number"], s["heading"]) for s in sections] == [
        (1, "总体情况"), (2, "主动公开政府信息情况"), (3, "收到和处理政府信息公开申请情况"),
        (4, "政府信息公开行政法复议、行政诉讼情况"), (5, "存在的主要问题及整改措施"), (6, "其他需要报告的事项")]
    assert sections[0]["text"] == "（一）主动公开\n正文一"
    assert sections[5]["text"] == "无。"
    assert (first, end) == (1, 11)


def test_decoding_declared_undeclared_and_wrong():
    text = "<p>政府信息公开工作年度报告</p>"
    assert decode_bytes(text.encode("gbk"))[:2] == (text, "gb18030")
    assert decode_bytes(("<meta charset=gb2312>" + text).encode("gbk"))[1] == "gb18030"
    decoded, encoding, warnings = decode_bytes(("<meta charset=gbk>" + text).encode("utf-8"))
    assert (decoded.endswith(text), encoding) == (True, "utf-8") and warnings
    assert decode_bytes(b"\xef\xbb\xbf" + text.encode())[0] == text


def test_carry_chain_needs_consecutive_years_and_reports_breaks():
    rng = random.Random(1)
    before = random_report(rng, year=2022, edition="2021")
    after = random_report(rng, year=2023, edition="2021")
    forward = {c["column"]: c["value"] for c in before["requests"] if c["row"] == "carried_forward"}
    over = {c["column"]: c["value"] for c in after["requests"] if c["row"] == "carried_over"}
    chain = check_carry_chain(before, after)
    assert [c["scope"] for c in chain] == list(forward)
    for check in chain:
        assert (check["expected"], check["actual"]) == (forward[check["scope"]], over[check["scope"]])
        assert check["ok"] == (forward[check["scope"]] == over[check["scope"]])
    assert check_carry_chain(before, {**after, "year": 2025}) == []
    assert check_carry_chain(before, {**after, "requests": []}) == []


def test_cli_json_lines_and_summary(capsys):
    seed = SHARED / "seeds" / "001_59b51fa3cd1733c7.txt"
    page = SHARED / "real" / "pingtan_2020.html"
    assert main(["parse", "--json", str(seed), str(page)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    reports = [json.loads(line) for line in lines]
    assert [r["status"] for r in reports] == ["parsed", "parsed"]
    # parse goes through parsers.document.parse_document: parse_report's dict plus the sniffed format
    expected = {**parse_report(seed.read_bytes(), source=str(seed)), "format": "html"}
    assert reports[0] == json.loads(json.dumps(expected, ensure_ascii=False))
    assert main(["parse", str(page), "/nonexistent/report.html"]) == 1
    captured = capsys.readouterr()
    assert "outcomes_sum" in captured.out and "expected 26" in captured.out
    assert "cannot read /nonexistent/report.html" in captured.err
