"""Agency names as the archive keys them: normalised (one body over the years is one agency row),
navigation text refused, and the registry's hints for the parser."""

from __future__ import annotations

import sqlite_utils

from nianbao.archive.build import ArchiveBuilder, _with_hints
from nianbao.archive.identity import hints_for, is_navigation, normalize_agency, registry_index
from tests.archive.helpers import Warc, body, build_fake, canonical, json_parser, navigation_agencies

REGISTRY = [{"name": "pingtan", "agency": "平潭综合实验区", "region": "福建省福州市平潭县"},
            {"name": "bare", "start_urls": []}]


def test_navigation_is_never_an_agency():
    for text in ("首页>", "首页 > 信息公开 > 年度报告", "当前位置：政府信息公开", "首页»年报", "政务公开›年度报告",
                 "甲区人民政府政府信息公开年报", "信息公开"):
        assert is_navigation(text), text
        assert normalize_agency(text) is None, text
    for name in ("甲区人民政府", "上海市人民政府办公厅", "沭阳县发展和改革局", "国家信息中心"):
        assert not is_navigation(name) and normalize_agency(name) == name


def test_whitespace_and_full_width_forms_fold():
    assert normalize_agency(" 甲区\u3000人民政府 ") == "甲区人民政府"
    assert normalize_agency("甲区ＡＢＣ中心") == "甲区ABC中心"
    assert normalize_agency("") is None and normalize_agency(None) is None


def test_hints_come_from_the_captures_source():
    reg = registry_index(REGISTRY)
    assert hints_for({"source": "pingtan"}, reg) == {"agency": "平潭综合实验区", "region": "福建省福州市平潭县"}
    assert hints_for({"source": "bare"}, reg) == {}
    assert hints_for({"source": None}, reg) == {}
    builder = ArchiveBuilder(sqlite_utils.Database(memory=True), json_parser, "x", registry=REGISTRY)
    records = [("response", {"source": "pingtan", "url": "u1"}, b""), ("revisit", {"source": "pingtan"}, None),
               ("response", {"source": "elsewhere", "url": "u2"}, b"")]
    out = [item for _, item, _ in _with_hints(builder, records)]
    assert out[0]["hints"] == {"agency": "平潭综合实验区", "region": "福建省福州市平潭县"}
    assert "hints" not in out[1] and "hints" not in out[2]


def test_one_body_over_the_years_is_one_agency_and_breadcrumbs_are_refused(tmp_path):
    (tmp_path / "warcs").mkdir()
    w = Warc(tmp_path / "warcs" / "20260110-run1.warc.gz")
    base = "https://www.example.gov.cn/gknb/"
    w.response(base + "2022.html", body(canonical("甲区人民政府", 2022)), date="2026-01-10T01:00:01Z")
    w.response(base + "2023.html", body(canonical("甲区 人民政府", 2023)), date="2026-01-10T01:00:02Z")
    crumb = canonical("首页>", 2024)
    w.response(base + "2024.html", body(crumb), date="2026-01-10T01:00:03Z")
    w.close()
    db = build_fake(tmp_path)
    assert [r["name"] for r in db["agencies"].rows] == ["甲区人民政府"]
    chain = list(db.query("select * from rule_results where rule = 'carry_chain'"))
    assert chain, "2022 and 2023 are one body: their carry chain is checked"
    v = next(db.query("select * from document_versions where url = ?", [base + "2024.html"]))
    assert v["agency"] is None and "navigation text" in v["warnings"]
    assert navigation_agencies(db) == []
