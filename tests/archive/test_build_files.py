"""Build from a folder of report files: deterministic ids and rows, versions, lookups."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from nianbao.archive.build import build_archive
from tests.archive.helpers import FAKE_VERSION, body, canonical, json_parser


def dump(path: Path) -> dict[str, list]:
    """Every row of every table (FTS shadow tables included), in rowid order; build runs left out."""
    conn = sqlite3.connect(path)
    out = {}
    for (name,) in conn.execute("select name from sqlite_master where type = 'table' order by name"):
        if name == "runs":
            out[name] = conn.execute("select * from runs where kind != 'build' order by id").fetchall()
        else:
            out[name] = conn.execute(f"select * from [{name}]").fetchall()
    out["schema"] = conn.execute("select type, name, sql from sqlite_master order by name").fetchall()
    return out


def make_inputs(folder: Path) -> None:
    folder.mkdir()
    for i, (agency, year) in enumerate([("西工区洛北街道办事处", 2022), ("西工区洛北街道办事处", 2023),
                                        ("上海市人民政府办公厅", 2019)]):
        (folder / f"r{i}.txt").write_bytes(body(canonical(agency, year, published=f"{year + 1}-02-15")))
    (folder / "list.html").write_text("<html>not json</html>", encoding="utf-8")
    (folder / "notes.md").write_text("ignored: not a report file type", encoding="utf-8")


def build(src: Path, out: Path) -> dict:
    return build_archive(out, files=[src], parse=json_parser, parser_version=FAKE_VERSION,
                         registry_path=src / "none.yaml")


def test_building_twice_gives_identical_databases(tmp_path):
    src = tmp_path / "in"
    make_inputs(src)
    build(src, tmp_path / "a.db")
    build(src, tmp_path / "b.db")
    a, b = dump(tmp_path / "a.db"), dump(tmp_path / "b.db")
    assert a == b
    assert len(a["document_versions"]) == 4 and len(a["requests"]) == 33
    # rebuilding in place keeps earlier build rows and adds one
    build(src, tmp_path / "a.db")
    runs = sqlite_utils.Database(tmp_path / "a.db")["runs"].count
    assert runs == 2
    assert dump(tmp_path / "a.db") == b


def test_changed_report_is_a_second_version(tmp_path):
    src = tmp_path / "in"
    make_inputs(src)
    extra = tmp_path / "later"
    extra.mkdir()
    edited = canonical("西工区洛北街道办事处", 2023, received=8, published="2024-02-15")
    (extra / "r1-edited.txt").write_bytes(body(edited))
    os.utime(extra / "r1-edited.txt", (2_000_000_000, 2_000_000_000))  # captured later than the first
    os.utime(src / "r1.txt", (1_900_000_000, 1_900_000_000))
    build_archive(tmp_path / "db.db", files=[src, extra], parse=json_parser, parser_version=FAKE_VERSION,
                  registry_path=src / "none.yaml")
    db = sqlite_utils.Database(tmp_path / "db.db")
    versions = list(db.query("select version, is_latest, first_seen from document_versions "
                             "where year = 2023 order by version"))
    assert [(v["version"], v["is_latest"]) for v in versions] == [(1, 0), (2, 1)]
    assert versions[1]["first_seen"] == "2033-05-18T03:33:20Z"
    assert next(db.query("select received from reports where year = 2023"))["received"] == 8
    both = [r["value"] for r in db.query(
        "select r.value from requests r join document_versions v on v.id = r.version_id "
        "where v.year = 2023 and r.row_key = 'new_received' and r.column_key = 'total' order by v.version")]
    assert both == [5, 8]


def test_not_a_report_and_agencies_and_coverage(tmp_path):
    src = tmp_path / "in"
    make_inputs(src)
    build(src, tmp_path / "db.db")
    db = sqlite_utils.Database(tmp_path / "db.db")
    statuses = {r["url"].rsplit("/", 1)[1]: r["status"] for r in db["document_versions"].rows}
    assert statuses == {"r0.txt": "parsed", "r1.txt": "parsed", "r2.txt": "parsed", "list.html": "not_a_report"}
    levels = {r["name"]: r["level"] for r in db["agencies"].rows}
    assert levels == {"西工区洛北街道办事处": "township", "上海市人民政府办公厅": "department"}
    cov = {(r["agency"], r["year"]): r for r in db["coverage"].rows}
    assert set(y for _, y in cov) == {2019, 2020, 2021, 2022, 2023}
    assert cov[("西工区洛北街道办事处", 2023)]["found"] == 1
    assert cov[("西工区洛北街道办事处", 2023)]["deadline"] == "2024-01-31"
    assert cov[("西工区洛北街道办事处", 2023)]["late"] == 1  # published 2024-02-15
    assert cov[("西工区洛北街道办事处", 2021)]["missing"] == 1
    assert cov[("上海市人民政府办公厅", 2019)]["found"] == 1


def test_duplicate_cell_keys_keep_the_last_and_null_keys_are_kept(tmp_path):
    """A parser that repeats a cell key: the last one wins, whether or not the same batch also holds
    a cell with no row key (which cannot be sorted with the others by plain comparison)."""
    for with_null in (False, True):
        src = tmp_path / f"in{int(with_null)}"
        src.mkdir()
        report = canonical("某县教育局", 2022, received=5)
        report["requests"] += [
            {"row": "new_received", "column": "natural_person", "value": 7, "raw": "7"},
            {"row": "new_received", "column": "natural_person", "value": 9, "raw": "9"},
        ]
        if with_null:
            report["requests"].append({"row": None, "column": "total", "value": 3, "raw": "3"})
        (src / "r.txt").write_bytes(body(report))
        out = tmp_path / f"db{int(with_null)}.db"
        build(src, out)
        with sqlite3.connect(out) as conn:
            got = conn.execute("select value, raw from requests where row_key = 'new_received' "
                               "and column_key = 'natural_person'").fetchall()
            nulls = conn.execute("select column_key, value from requests where row_key is null").fetchall()
        assert got == [(9, "9")]
        assert nulls == ([("total", 3)] if with_null else [])
