"""Honest coverage: only bodies this archive covers (crawled, or with a report here); "not in this
archive" vs "published late" against the statutory deadline, which comes from nianbao.deadlines."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils
import yaml

from nianbao.archive.build import build_archive
from nianbao.archive.schema import deadline_sql
from nianbao.archive.sources import record_crawled, registry_for_build
from nianbao.deadlines import deadline
from tests.archive.helpers import FAKE_VERSION, Warc, body, canonical, json_parser

LEVELS = ["department", "township", "ministry", "county", "prefecture", "province", None, "unknown-level"]


def test_the_sql_deadline_is_nianbao_deadlines():
    conn = sqlite3.connect(":memory:")
    for level in LEVELS:
        for year in (2019, 2023, 2030):
            (sql,) = conn.execute(f"select {deadline_sql('l.level', 'l.year')} from (select ? as level, ? as year) l",
                                  [level, year]).fetchone()
            assert sql == deadline(level, year).isoformat(), (level, year)


REGISTRY = {"sources": [
    {"name": "crawled", "agency": "甲区教育局", "start_urls": ["https://a.example.gov.cn/nb/"]},
    {"name": "never", "agency": "乙区民政局", "start_urls": ["https://b.example.gov.cn/nb/"]},
    {"name": "never2", "agency": "丙县人民政府", "start_urls": ["https://c.example.gov.cn/nb/"]},
]}


def _warcs(folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    w = Warc(folder / "20260301-run1.warc.gz")
    url22, url23 = "https://a.example.gov.cn/nb/2022.html", "https://a.example.gov.cn/nb/2023.html"
    w.response(url22, body(canonical("甲区教育局", 2022, published="2023-01-20")), source="crawled",
               date="2026-03-01T01:00:01Z")
    w.response(url23, body(canonical("甲区教育局", 2023, published="2024-03-02")), source="crawled",
               date="2026-03-01T01:00:02Z")
    w.summary({"source": "crawled", "run_id": "run1", "started": "2026-03-01T01:00:00Z",
               "finished": "2026-03-01T01:05:00Z", "complete": True, "report_urls": [url22, url23],
               "fetched": [url22, url23], "not_modified": [], "errors": [], "stats": {}},
              date="2026-03-01T01:05:00Z")
    w.close()
    return sorted(folder.glob("*.warc.gz"))


def test_coverage_counts_only_crawled_bodies_and_words_the_gap(tmp_path):
    reg = tmp_path / "bundled.yaml"
    reg.write_text(yaml.safe_dump(REGISTRY, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "n.db"
    build_archive(out, warcs=_warcs(tmp_path / "warcs"), parse=json_parser, parser_version=FAKE_VERSION,
                  registry_path=reg)
    db = sqlite_utils.Database(out)
    assert {r["name"] for r in db.query("select name from agencies")} >= {"乙区民政局", "丙县人民政府"}
    rows = {(r["agency"], r["year"]): r for r in db.query("select * from coverage")}
    assert set(rows) == {("甲区教育局", 2022), ("甲区教育局", 2023)}  # never-crawled bodies: not "missing"
    r22, r23 = rows[("甲区教育局", 2022)], rows[("甲区教育局", 2023)]
    assert (r22["state"], r22["deadline"], r22["late"]) == ("found 已找到", "2023-01-31", 0)
    assert (r23["state"], r23["deadline"], r23["late"]) == ("published late 逾期发布", "2024-01-31", 1)


def test_a_crawled_body_without_a_report_is_not_in_this_archive(tmp_path):
    reg = tmp_path / "r.yaml"
    reg.write_text(yaml.safe_dump(REGISTRY, allow_unicode=True), encoding="utf-8")
    folder = tmp_path / "warcs"
    _warcs(folder)
    w = Warc(folder / "20260302-run2.warc.gz")
    w.summary({"source": "never", "run_id": "run2", "started": "2026-03-02T01:00:00Z",
               "finished": "2026-03-02T01:05:00Z", "complete": True, "report_urls": [], "fetched": [],
               "not_modified": [], "errors": [], "stats": {}}, date="2026-03-02T01:05:00Z")
    w.close()
    out = tmp_path / "n.db"
    build_archive(out, warcs=sorted(folder.glob("*.warc.gz")), parse=json_parser, parser_version=FAKE_VERSION,
                  registry_path=reg)
    rows = {(r["agency"], r["year"]): r["state"] for r in sqlite_utils.Database(out).query("select * from coverage")}
    assert rows[("乙区民政局", 2022)] == rows[("乙区民政局", 2023)] == "not in this archive 存档中没有"
    assert not any(agency == "丙县人民政府" for agency, _ in rows)


def test_the_data_dirs_registry_accumulates_what_was_crawled(tmp_path):
    bundled = tmp_path / "bundled.yaml"
    bundled.write_text(yaml.safe_dump(REGISTRY, allow_unicode=True), encoding="utf-8")
    mine = tmp_path / "data" / "registry.yaml"
    assert registry_for_build(mine, None) is None  # none yet: the bundled one
    assert record_crawled(mine, bundled, ["crawled"]) == ["crawled"]
    assert [e["name"] for e in yaml.safe_load(mine.read_text(encoding="utf-8"))["sources"]] == ["crawled"]
    assert record_crawled(mine, bundled, ["never"], [{"name": "adhoc-x", "start_urls": ["https://x.cn/"]}])
    saved = yaml.safe_load(mine.read_text(encoding="utf-8"))["sources"]
    assert [e["name"] for e in saved] == ["adhoc-x", "crawled", "never"]
    assert saved[1] == REGISTRY["sources"][0]  # the entry as written
    assert registry_for_build(mine, None) == mine
    assert registry_for_build(mine, bundled) == bundled  # --registry wins


def test_a_plain_build_of_a_data_dir_reads_the_registry_its_crawls_used(tmp_path):
    """`nianbao crawl --sources X --source crawled` records the entry; `nianbao build` (no --registry)
    then reads <data>/registry.yaml, not the bundled registry."""
    import subprocess
    import sys

    from nianbao.commands.crawl import record_registry
    from nianbao.config import DataDir

    registry = tmp_path / "x.yaml"
    registry.write_text(yaml.safe_dump(REGISTRY, allow_unicode=True), encoding="utf-8")
    data = DataDir(tmp_path / "data")
    assert record_registry(data, str(registry), ["crawled"]) == ["crawled"]
    _warcs(data.warcs)
    done = subprocess.run([sys.executable, "-m", "nianbao.cli", "build", "--data-dir", str(data.root)],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=300)
    assert done.returncode == 0, done.stderr
    db = sqlite_utils.Database(data.database)
    assert [r["name"] for r in db.query("select name from sources")] == ["crawled"]
    assert [r["source"] for r in db.query("select distinct source from crawl_summaries")] == ["crawled"]
    # all enabled sources of the registry when no --source is named
    assert record_registry(data, str(registry), []) == ["crawled", "never", "never2"]
