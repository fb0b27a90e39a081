"""A third template edition is one data file: register a dummy "2099" edition (in this test only,
through the door the packaged edition_<name>.json files go through) and watch the renderer draw it,
the parser read it, the rules check it, the build archive it, the lookups, views and report card
show it and the Datasette metadata name it — with no other code change.

The dummy is 2021 plus what a new format would bring: a table 2 block with a new row and measure
(公共数据开放 / 本年开放数据集数量) and a table 3 result row (（六）4.申请人撤回申请) whose labels no
keyword rule knows, so they are read by the labels the edition's file gives them.
"""

from __future__ import annotations

import copy
import json
import random
import sqlite3

import pytest
import sqlite_utils

from nianbao.archive.build import build_archive
from nianbao.archive.columns import metadata_with_descriptions
from nianbao.archive.lookups import write_lookups
from nianbao.archive.schema import create_tables
from nianbao.parsers import parse_report, template
from nianbao.parsers.keys import active_cells, request_rows, result_rows
from nianbao.parsers.render import random_report, render_report
from nianbao.publish.card import load_card

NEW_ROW, NEW_ROW_LABEL = "other_withdrawn", "4.申请人撤回申请"
NEW_ACTIVE, NEW_ACTIVE_LABEL = "open_data", "公共数据开放"
NEW_MEASURE, NEW_MEASURE_LABEL = "datasets", "本年开放数据集数量"


def dummy_edition() -> dict:
    data = copy.deepcopy(template.edition("2021"))
    data.update(edition="2099", issued_by="测试用虚构版本 a dummy edition for this test", years="2099 onward",
                first_year=2099)
    data["active"]["rows"][NEW_ACTIVE] = NEW_ACTIVE_LABEL
    data["active"]["measures"][NEW_MEASURE] = NEW_MEASURE_LABEL
    data["active"]["blocks"].append({"caption": "第二十条第（十）项", "measures": [NEW_MEASURE], "rows": [NEW_ACTIVE]})
    order = data["requests"]["row_order"]
    order.insert(order.index("other_other") + 1, NEW_ROW)
    data["requests"]["rows"][NEW_ROW] = NEW_ROW_LABEL
    return data


@pytest.fixture
def edition_2099():
    template.register_edition(dummy_edition())
    try:
        yield "2099"
    finally:
        template.unregister_edition("2099")
    assert template.editions() == ("2019", "2021")


def make_report(seed: int = 7) -> dict:
    return random_report(random.Random(seed), year=2024, agency="测试县数据局", edition="2099", blank_rate=0.2)


def test_the_packaged_editions_are_the_data_files():
    assert template.editions() == ("2019", "2021")
    assert len(request_rows("2021")) == 25 and len(request_rows("2019")) == 23
    assert len(result_rows("2021")) == 21 and len(result_rows("2019")) == 19  # rowspan 22 / 20 with 总计


def test_a_bad_edition_file_is_refused_with_its_fault():
    data = dummy_edition()
    data["requests"]["row_order"].append("unheard_of")
    with pytest.raises(ValueError, match="rows without a label: unheard_of"):
        template.register_edition(data)
    assert "2099" not in template.editions()


def test_the_parser_reads_a_report_in_the_new_edition(edition_2099):
    assert template.editions() == ("2019", "2021", "2099")
    assert (NEW_ACTIVE, NEW_MEASURE) in active_cells("2099") and NEW_ROW in result_rows("2099")
    assert [template.edition_for_year(y) for y in (2018, 2020, 2098, 2099)] == ["2019", "2019", "2021", "2099"]
    report = make_report()
    for style in ("plain", "word", "ueditor", "text"):
        parsed = parse_report(render_report(report, style=style), source=f"2099.{style}")
        assert parsed["status"] == "parsed", (style, parsed["warnings"])
        assert parsed["edition"] == "2099"
        for table, a, b in (("active", "row", "measure"), ("requests", "row", "column"),
                            ("appeals", "procedure", "outcome")):
            want = {(c[a], c[b]): c["value"] for c in report[table]}
            got = {(c[a], c[b]): c["value"] for c in parsed[table]}
            assert got == want, (style, table)
        assert (NEW_ROW, "total") in {(c["row"], c["column"]) for c in parsed["requests"]}
        # the rules run over the edition's own rows: outcomes_sum adds up the new result row too
        assert parsed["checks"] and all(c["ok"] for c in parsed["checks"])
        assert sum(c["rule"] == "outcomes_sum" for c in parsed["checks"]) == 7


def test_a_2021_report_stays_2021_beside_the_new_edition(edition_2099):
    report = random_report(random.Random(3), year=2023, edition="2021")
    parsed = parse_report(render_report(report), source="2021.html")
    assert parsed["edition"] == "2021" and parsed["status"] == "parsed"
    assert not any("edition evidence" in w for w in parsed["warnings"])


def test_lookups_views_card_and_metadata_pick_it_up(edition_2099, tmp_path):
    report = make_report()
    page = tmp_path / "report.html"
    page.write_text(render_report(report), encoding="utf-8")
    out = tmp_path / "nianbao.db"
    build_archive(out, files=[page], jobs=1)
    conn = sqlite3.connect(out)
    try:
        assert conn.execute("select edition, issued_by from editions order by sort").fetchall()[-1] == (
            "2099", "测试用虚构版本 a dummy edition for this test")
        assert [r[0] for r in conn.execute("select key from edition_request_rows where edition = '2099' "
                                           "order by sort")] == list(request_rows("2099"))
        assert conn.execute("select label, measures from edition_active_rows where edition = '2099' and key = ?",
                            [NEW_ACTIVE]).fetchone() == (NEW_ACTIVE_LABEL, json.dumps([NEW_MEASURE]))
        assert conn.execute("select label from request_rows where key = ?", [NEW_ROW]).fetchone() == (NEW_ROW_LABEL,)
        vid, edition, status = conn.execute("select id, edition, status from document_versions").fetchone()
        assert (edition, status) == ("2099", "parsed")
        # the reports view and the archived cells
        assert conn.execute("select edition from reports where version_id = ?", [vid]).fetchone() == ("2099",)
        want = {c["column"]: c["value"] for c in report["requests"] if c["row"] == NEW_ROW}
        got = dict(conn.execute("select column_key, value from requests where version_id = ? and row_key = ?",
                                [vid, NEW_ROW]).fetchall())
        assert got == want
        assert conn.execute("select count(*) from rule_results where version_id = ? and ok = 0",
                            [vid]).fetchone() == (0,)
        # the report card: the edition's rows in its order, with the file's labels
        card = load_card(conn, vid)
    finally:
        conn.close()
    assert [r["key"] for r in card["table3"]] == list(request_rows("2099"))
    row = next(r for r in card["table3"] if r["key"] == NEW_ROW)
    assert row["label"] == NEW_ROW_LABEL and row["group"] == "（六）其他处理"
    block = next(b for b in card["table2"] if NEW_MEASURE in b["measures"])
    assert block["labels"] == [NEW_MEASURE_LABEL] and [r["label"] for r in block["rows"]] == [NEW_ACTIVE_LABEL]
    # the site's metadata (datasette-metadata.json's columns, generated from archive/columns.py) names it
    meta = metadata_with_descriptions({"databases": {"nianbao": {"tables": {}}}})["databases"]["nianbao"]["tables"]
    for table in ("document_versions", "reports", "report_totals"):
        assert meta[table]["columns"]["edition"].endswith("(2019 / 2021 / 2099)"), table
    assert set(meta["edition_request_rows"]["columns"]) == {"edition", "key", "sort"}


def test_a_new_edition_changes_the_build_signature():
    """An incremental build must not add to rows derived without the edition: it rebuilds in full."""
    from nianbao.archive.build_state import signature

    before = signature("1.0.0", [])
    template.register_edition(dummy_edition())
    try:
        assert signature("1.0.0", []) != before
    finally:
        template.unregister_edition("2099")
    assert signature("1.0.0", []) == before


def test_a_fresh_lookup_write_has_rows_not_columns_per_edition(edition_2099):
    db = sqlite_utils.Database(memory=True)
    create_tables(db)
    write_lookups(db)
    for table in ("active_rows", "request_rows", "edition_active_rows", "edition_request_rows", "editions"):
        assert not any("2099" in c or "2021" in c for c in db[table].columns_dict), table
    assert db["edition_request_rows"].count == sum(len(request_rows(e)) for e in template.editions())


def test_an_edition_file_can_name_keywords_for_labels_printed_otherwise():
    data = dummy_edition()
    data["match"] = {"request_row": {NEW_ROW: ["撤回申请"]}}
    template.register_edition(data)
    try:
        report = make_report(11)
        page = render_report(report).replace(NEW_ROW_LABEL, "4.申请人主动撤回申请")
        assert "申请人主动撤回申请" in page
        parsed = parse_report(page, source="match.html")
        assert parsed["edition"] == "2099" and parsed["status"] == "parsed"
        want = {c["column"]: c["value"] for c in report["requests"] if c["row"] == NEW_ROW}
        assert {c["column"]: c["value"] for c in parsed["requests"] if c["row"] == NEW_ROW} == want
    finally:
        template.unregister_edition("2099")
    # gone with its edition: the label is no row of the packaged editions
    from nianbao.parsers.labels import request_row_key
    assert request_row_key("4.申请人主动撤回申请") is None
