"""Chinese full-text search through a real Datasette instance, against a LIKE '%term%' ground truth."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlite_utils
from datasette.app import Datasette

from nianbao.archive.build import build_archive
from nianbao.archive.search import cjk_query, cjk_snippet, cjk_tokens
from tests.archive.helpers import FAKE_VERSION, body, canonical, json_parser

SENTENCES = [
    "本年度未发生行政复议案件。", "申请人对答复不服提起行政复议一件，结果维持。", "本机关不收取任何费用。",
    "行政事业性收费项目已公开。", "依法免征相关税款，税务信息按规定公开。", "未发生行政诉讼。",
    "政府信息公开工作稳步推进。", "部分公开的申请已区分处理。", "不予公开的理由均已告知申请人。",
    "加强政务公开平台建设，完善PDF附件下载。", "收到复议决定书后及时整改。", "税收优惠政策解读三篇。",
    "复印件与原件一致。", "议题包括信息公开与收费管理。", "全年共办理依申请公开事项十二件。",
]
AGENCIES = ["沭阳县税务局", "平潭综合实验区", "西工区洛北街道办事处", "涧西区人民政府办公室", "国家文物局"]
TERMS = ["税", "费", "复", "复议", "收费", "诉讼", "行政复", "不予公", "政府信息公开", "行政事业性收",
         "税务局", "pdf"]
MULTI = ["复议 收费", "税 公开", "行政 诉讼", "文物局 复议"]
COLUMNS = ["heading", "text", "agency", "title"]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("search")
    src = root / "in"
    src.mkdir()
    rng = random.Random(7)
    n = 0
    for agency in AGENCIES:
        for year in (2021, 2022, 2023):
            sections = [{"number": i, "heading": h, "text": "".join(rng.sample(SENTENCES, 3))}
                        for i, h in enumerate(["总体情况", "主动公开政府信息情况", "行政复议、行政诉讼情况"], 1)]
            (src / f"r{n:03d}.txt").write_bytes(body(canonical(agency, year, sections=sections)))
            n += 1
    out = root / "nianbao.db"
    build_archive(out, files=[src], parse=json_parser, parser_version=FAKE_VERSION, registry_path=root / "no.yaml")
    return out


def like_truth(db: sqlite_utils.Database, table: str, columns: list[str], query: str) -> set:
    terms = query.split()
    where = " and ".join("(" + " or ".join(f"[{c}] like ?" for c in columns) + ")" for _ in terms)
    params = [f"%{t}%" for t in terms for _ in columns]
    return {r[0] for r in db.execute(f"select id from [{table}] where {where}", params)}


def datasette_hits(path: Path, table: str, query: str) -> set:
    async def run():
        ds = Datasette([str(path)])
        response = await ds.client.get(f"/nianbao/{table}.json", params={
            "_search": query, "_shape": "array", "_size": "max"})
        assert response.status_code == 200, response.text
        return response.json()
    rows = asyncio.run(run())
    assert len(rows) < 1000
    return {r["id"] for r in rows}


@pytest.mark.parametrize("query", TERMS + MULTI)
def test_sections_search_matches_like(db_path, query):
    db = sqlite_utils.Database(db_path)
    truth = like_truth(db, "sections", COLUMNS, query)
    hits = datasette_hits(db_path, "sections", query)
    assert hits == truth
    if query in ("税", "复议", "收费", "政府信息公开"):
        assert truth, f"the corpus should contain {query}"


@pytest.mark.parametrize("query", ["税", "局", "平潭", "洛北街道", "年度报告", "文物局 2022"])
def test_report_search_on_titles_and_agencies(db_path, query):
    db = sqlite_utils.Database(db_path)
    truth = like_truth(db, "document_versions", ["title", "agency"], query)
    assert datasette_hits(db_path, "document_versions", query) == truth
    assert truth


def test_table_page_offers_search_box(db_path):
    async def run():
        ds = Datasette([str(db_path)])
        page = await ds.client.get("/nianbao/sections", params={"_search": "复议"})
        return page.text
    html = asyncio.run(run())
    assert 'name="_search"' in html and "复议" in html


def test_sql_functions_in_datasette(db_path):
    async def run():
        ds = Datasette([str(db_path)])
        sql = ("select cjk_snippet(text, '复议', 4) as s from sections where id in "
               "(select rowid from sections_fts where sections_fts match cjk_query('复议')) order by id limit 1")
        r = await ds.client.get("/nianbao.json", params={"sql": sql, "_shape": "array"})
        return r.json()
    rows = asyncio.run(run())
    assert "【复议】" in rows[0]["s"]


def test_tokens_and_queries():
    assert cjk_tokens("行政复议ＰＤＦ2023年").split() == ["行", "政", "复", "议", "PDF2023", "年"]
    assert cjk_query("复议") == '"复 议"'
    assert cjk_query('税  "行政 诉讼"') == '"税" "行 政 诉 讼"'
    assert cjk_query("，。") == '""'
    assert cjk_snippet("本年度未发生行政复议案件。", "复议", 2) == "…行政【复议】案件…"


def test_sqlite3_cli_and_sqlite_utils_open_the_file(db_path):
    sqlite3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"
    if not Path(sqlite3).exists():
        pytest.fail("the sqlite3 CLI is required (apt package sqlite3; `make system-deps`)")
    db = sqlite_utils.Database(db_path)
    expected = len(like_truth(db, "sections", COLUMNS, "复议"))
    out = subprocess.run([sqlite3, str(db_path),
                          "select count(*) from sections_fts where sections_fts match '\"复 议\"';"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert int(out) == expected
    out = subprocess.run([sqlite3, str(db_path), "select count(*) from reports;"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert int(out) == 15
    cli = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sqlite-utils"
    rows = json.loads(subprocess.run([str(cli), "query", str(db_path),
                                      "select count(*) as n from requests"],
                                     capture_output=True, text=True, check=True).stdout)
    assert rows == [{"n": 15 * 11}]
    assert "sections_fts" in subprocess.run([str(cli), "tables", str(db_path)], capture_output=True,
                                            text=True, check=True).stdout
