"""`nianbao export --parquet`: the cell and rule tables as Parquet partitioned by year/province, read back
by pyarrow, pandas and DuckDB and compared with the SQLite archive row by row, partition by partition.

The archive is built by the archive's own builder from report files (the JSON stand-in parser): two
provinces, a ministry (no province: the null partition), a page that is not a report but has a cell
(no year either), an edited report (two versions), an OCR'd cell, a REAL money value beside integer
counts, and a page_attachment_mismatch row whose expected/actual are text, as archive/merge.py writes them.
"""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nianbao.archive.build import build_archive
from nianbao.archive.columns import describe, schema_columns
from nianbao.archive.parquet import (
    ANY_TYPES,
    NULL_PARTITION,
    PARQUET_TABLES,
    PARTITIONED,
    ParquetExportError,
    export_parquet,
    partitioning,
)
from nianbao.archive.schema import TABLES as SCHEMA
from tests.archive.helpers import FAKE_VERSION, body, canonical, json_parser

REPO = Path(__file__).resolve().parents[2]
MISMATCH = ("requests:granted/total=5; requests:total/total=5", "requests:granted/total=6; requests:total/total=6")
SQLITE_TYPES = {"TEXT": pa.string(), "INTEGER": pa.int64(), "REAL": pa.float64(), "FLOAT": pa.float64()}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("parquet")
    src = root / "in"
    src.mkdir()
    fz = canonical("福建省福州市教育局", 2023)
    fz["requests"][0].update(method="ocr", confidence=0.72, page=2, box=[10, 20, 30, 40])
    fz["checks"].append({"rule": "page_attachment_mismatch", "scope": "http://www.fz.gov.cn/a.pdf", "ok": False,
                         "expected": None, "actual": None})
    reports = {
        "fz2023.txt": fz,
        "fz2023-edited.txt": canonical("福建省福州市教育局", 2023, received=7),
        "fz2022.txt": canonical("福建省福州市教育局", 2022, carried_forward=2),
        "xm2023.txt": canonical("福建省厦门市财政局", 2023, received=11),
        "lg2022.txt": canonical("广东省深圳市龙岗区卫生健康局", 2022, received=3),
        "moe2023.txt": canonical("教育部", 2023, received=40),
        "news.txt": {"source": "", "status": "not_a_report", "title": "解读", "requests": [  # no year, no agency
            {"row": "granted", "column": "total", "value": 3, "raw": "3",
             "position": {"table": 0, "row": 0, "col": 0}}]},
    }
    for name, report in reports.items():
        (src / name).write_bytes(body(report))
    db = root / "nianbao.db"
    build_archive(db, files=[src], parse=json_parser, parser_version=FAKE_VERSION, registry_path=src / "none.yaml")
    with sqlite3.connect(db) as conn:  # what archive/merge.py stores for a page and attachment that disagree
        conn.execute("update rule_results set ok = 0, expected = ?, actual = ? where rule = 'page_attachment_mismatch'",
                     MISMATCH)
    return root


@pytest.fixture(scope="module")
def exported(archive) -> Path:
    out = archive / "parquet"
    export_parquet(archive / "nianbao.db", out)
    return out


def sqlite_rows(db: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def expected_partition(db: Path, table: str, year, province) -> list[tuple]:
    """The table's rows for one partition, straight from SQLite (ANY-as-text columns as SQLite's text)."""
    cols = ", ".join(f"CAST(c.[{c}] AS TEXT)" if ANY_TYPES.get((table, c)) == pa.string() else f"c.[{c}]"
                     for c in SCHEMA[table]["columns"])
    pk = SCHEMA[table]["pk"]
    order = ", ".join(f"c.[{c}]" for c in ((pk,) if isinstance(pk, str) else pk))
    return sqlite_rows(db, f"select {cols} from [{table}] c join document_versions v on v.id = c.version_id "
                           f"left join agencies a on a.name = v.agency where v.year is ? and a.province is ? "
                           f"order by {order}", (year, province))


def partition_key(folder: Path, name: str):
    value = folder.name.split("=", 1)[1] if folder.name.startswith(name + "=") else pytest.fail(folder)
    return None if value == NULL_PARTITION else (int(value) if name == "year" else value)


def test_every_row_round_trips_partition_by_partition(archive, exported):
    db = archive / "nianbao.db"
    for table in PARTITIONED:
        seen = 0
        files = sorted((exported / table).glob("year=*/province=*/*.parquet"))
        assert files, table
        for path in files:
            year, province = partition_key(path.parent.parent, "year"), partition_key(path.parent, "province")
            got = [tuple(r.values()) for r in pq.read_table(path).to_pylist()]
            assert got == expected_partition(db, table, year, province), (table, year, province)
            seen += len(got)
        (total,) = sqlite_rows(db, f"select count(*) from [{table}]")[0]
        assert seen == total and total > 0, table
    versions = pq.read_table(exported / "document_versions" / "part-0.parquet").to_pylist()
    assert [tuple(v.values()) for v in versions] == sqlite_rows(db, "select * from document_versions order by id")


def test_partitions_are_year_and_province_with_nulls_in_the_hive_default(archive, exported):
    folder = exported / "requests"
    layout = sorted(str(p.parent.relative_to(folder)) for p in folder.rglob("*.parquet"))
    assert layout == ["year=2022/province=广东省", "year=2022/province=福建省",
                      f"year=2023/province={NULL_PARTITION}", "year=2023/province=福建省",
                      f"year={NULL_PARTITION}/province={NULL_PARTITION}"]
    # the ministry (no province) is 2023's null partition; the news page (no year, no agency) the null/null one
    ministry = pq.read_table(exported / "requests" / f"year=2023/province={NULL_PARTITION}").to_pylist()
    assert {r["version_id"] for r in ministry} == {r[0] for r in sqlite_rows(
        archive / "nianbao.db", "select id from document_versions where agency = '教育部'")}
    (news,) = pq.read_table(exported / "requests" / f"year={NULL_PARTITION}/province={NULL_PARTITION}").to_pylist()
    assert (news["row_key"], news["column_key"], news["value"], news["raw"]) == ("granted", "total", 3, "3")


def test_schema_matches_the_archive_and_its_column_descriptions(archive, exported):
    declared = {t: {r[1]: r[2] for r in sqlite_rows(archive / "nianbao.db", f"pragma table_info([{t}])")}
                for t in PARQUET_TABLES}
    for table in PARQUET_TABLES:
        for path in (exported / table).rglob("*.parquet"):
            schema = pq.read_schema(path)
            assert schema.names == schema_columns()[table], table
            for f in schema:
                kind = declared[table][f.name]
                want = ANY_TYPES[(table, f.name)] if kind == "ANY" else SQLITE_TYPES[kind]
                assert f.type == want, (table, f.name)
                assert f.metadata[b"description"].decode() == describe(table, f.name), (table, f.name)
            meta = schema.metadata
            assert meta[b"nianbao.table"].decode() == table
            assert json.loads(meta[b"nianbao.descriptions"]) == {c: describe(table, c) for c in schema.names}
    assert pq.read_schema(next((exported / "requests").rglob("*.parquet"))).field("value").type == pa.int64()


def test_values_keep_their_kind(exported):
    active = pq.read_table(exported / "active_disclosure").to_pylist()
    assert {(r["measure"], r["value"]) for r in active} >= {("amount_10k_yuan", 1.25), ("issued", 0)}
    ocr = [r for r in pq.read_table(exported / "requests").to_pylist() if r["method"]]
    assert [(r["row_key"], r["column_key"], r["confidence"], r["page"], r["box"]) for r in ocr] == [
        ("new_received", "natural_person", 0.72, 2, "[10, 20, 30, 40]")]
    rules = pq.read_table(exported / "rule_results").to_pylist()
    assert {(r["rule"], r["expected"], r["actual"]) for r in rules} == {
        ("balance", "5", "5"), ("balance", "7", "7"), ("balance", "11", "11"), ("balance", "3", "3"),
        ("balance", "40", "40"), ("carry_chain", "2", "0"), ("page_attachment_mismatch", *MISMATCH)}


def test_duckdb_answers_as_sqlite_does(archive, exported):
    """Table 3's new requests of the latest versions by year and province: DuckDB over the Parquet files
    (cells joined to document_versions' Parquet) against the same SQL on the SQLite archive."""
    query = """
        select {year}, {province}, count(*), sum(r.value), sum(case when r.method = 'ocr' then 1 else 0 end)
        from {requests} r join {versions} v on v.id = r.version_id {join_agency}
        where v.is_latest = 1 and r.row_key = 'new_received'
        group by 1, 2 order by 1 nulls first, 2 nulls first"""
    glob = f"read_parquet('{exported}/requests/**/*.parquet', hive_partitioning = true)"
    versions = f"read_parquet('{exported}/document_versions/*.parquet')"
    got = duckdb.sql(query.format(year="r.year", province="r.province", requests=glob, versions=versions,
                                  join_agency="")).fetchall()
    want = sqlite_rows(archive / "nianbao.db", query.format(
        year="v.year", province="a.province", requests="requests", versions="document_versions",
        join_agency="left join agencies a on a.name = v.agency"))
    assert got == want
    assert (2023, None, 2, 80, 0) in got and (2022, "广东省", 2, 6, 0) in got  # 教育部: 40 + 40; 龙岗区 3 + 3
    # every table: rows and a checksum of its integer columns per partition
    for table in PARTITIONED:
        glob = f"read_parquet('{exported}/{table}/**/*.parquet', hive_partitioning = true)"
        got = duckdb.sql(f"select year, province, count(*), sum(pos_table) filter (where true) from {glob} "
                         f"group by all order by all nulls first" if table != "rule_results" else
                         f"select year, province, count(*), sum(ok) from {glob} group by all order by all nulls first"
                         ).fetchall()
        measure = "sum(c.pos_table)" if table != "rule_results" else "sum(c.ok)"
        want = sqlite_rows(archive / "nianbao.db", f"select v.year, a.province, count(*), {measure} from [{table}] c "
                           "join document_versions v on v.id = c.version_id left join agencies a on a.name = v.agency "
                           "group by 1, 2 order by 1 nulls first, 2 nulls first")
        assert got == want, table


def test_pandas_reads_the_partitioned_tables(archive, exported):
    frame = pd.read_parquet(exported / "requests", partitioning=partitioning(), dtype_backend="numpy_nullable")
    (total,) = sqlite_rows(archive / "nianbao.db", "select count(*) from requests")[0]
    assert len(frame) == total
    assert {c: str(frame[c].dtype) for c in ("value", "raw", "confidence", "year", "province")} == {
        "value": "Int64", "raw": "string", "confidence": "Float64", "year": "Int64", "province": "string"}
    assert frame["value"].isna().sum() == 6  # the blank 部分公开 cell of each report: blank is not zero
    by = frame[frame["row_key"] == "new_received"].groupby(["year", "province"], dropna=False)["value"].sum()
    assert by.loc[(2022, "广东省")] == 6 and by.loc[(2023, "福建省")] == 5 + 5 + 7 + 7 + 11 + 11
    assert frame["province"].isna().sum() == 11 + 1 and frame["year"].isna().sum() == 1
    one = pd.read_parquet(next((exported / "appeals").rglob("*.parquet")))  # one file: no partitioning needed
    assert list(one.columns) == schema_columns()["appeals"]


def test_command_line_writes_the_same_files_again(archive, exported):
    out = archive / "again"
    done = subprocess.run([sys.executable, "-m", "nianbao.cli", "export", "--data-dir", str(archive),
                           "--parquet", str(out)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    for table in PARQUET_TABLES:
        (n,) = sqlite_rows(archive / "nianbao.db", f"select count(*) from [{table}]")[0]
        files = 1 if table not in PARTITIONED else len(list((exported / table).rglob("*.parquet")))
        assert f"{out / table}: {n} rows in {files} files" in done.stdout, table
    mine = sorted(p.relative_to(out) for p in out.rglob("*.parquet"))
    assert mine == sorted(p.relative_to(exported) for p in exported.rglob("*.parquet"))
    assert all((out / p).read_bytes() == (exported / p).read_bytes() for p in mine)  # deterministic bytes
    again = subprocess.run([sys.executable, "-m", "nianbao.cli", "export", "--data-dir", str(archive), "--parquet",
                            str(out), "--table", "appeals"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert again.returncode == 0 and again.stdout.startswith(f"{out / 'appeals'}: 12 rows in 4 files"), again.stderr
    assert not list(out.glob(".*"))  # the export is written beside and swapped in: nothing partial left


def test_orphan_rows_are_kept_and_bad_values_refused(archive, tmp_path):
    db = tmp_path / "nianbao.db"
    db.write_bytes((archive / "nianbao.db").read_bytes())
    with sqlite3.connect(db) as conn:
        conn.execute("insert into appeals (version_id, procedure, outcome, value, raw) "
                     "values ('0000000000000000', 'review', 'total', 9, '9')")
    (appeals,) = export_parquet(db, tmp_path / "out", ["appeals"])
    orphans = pq.read_table(tmp_path / "out" / "appeals" / f"year={NULL_PARTITION}/province={NULL_PARTITION}")
    assert [(r["version_id"], r["value"]) for r in orphans.to_pylist()] == [("0000000000000000", 9)]
    assert appeals.n_rows == sqlite_rows(db, "select count(*) from appeals")[0][0]
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*.parquet")}
    with sqlite3.connect(db) as conn:
        conn.execute("update appeals set value = '九' where version_id = '0000000000000000'")
    with pytest.raises(ParquetExportError, match="appeals.value: value '九' does not fit int64"):
        export_parquet(db, tmp_path / "out", ["appeals"])
    assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*.parquet")} == before  # the earlier export stands
    assert not list((tmp_path / "out").glob(".*"))
    done = subprocess.run([sys.executable, "-m", "nianbao.cli", "export", "--db", str(db), "--parquet",
                           str(tmp_path / "x"), "--table", "appeals"], capture_output=True, text=True, cwd=REPO,
                          timeout=300)
    assert done.returncode == 2 and "does not fit int64" in done.stderr
    with pytest.raises(ParquetExportError, match="not exported as Parquet: sections"):
        export_parquet(db, tmp_path / "out", ["sections"])
    (tmp_path / "mine" / "requests").mkdir(parents=True)
    (tmp_path / "mine" / "requests" / "notes.txt").write_text("mine")
    with pytest.raises(ParquetExportError, match="not an earlier Parquet export"):
        export_parquet(db, tmp_path / "mine", ["requests"])
    assert (tmp_path / "mine" / "requests" / "notes.txt").read_text() == "mine"


def test_small_batches_and_row_groups_give_the_same_rows(archive, exported, tmp_path):
    """The streaming path (many fetches, many row groups per file) writes exactly the rows of one big batch."""
    export_parquet(archive / "nianbao.db", tmp_path, ["requests", "document_versions"], batch_rows=2,
                   row_group_rows=5)
    for table in ("requests", "document_versions"):
        for path in (tmp_path / table).rglob("*.parquet"):
            same = exported / path.relative_to(tmp_path)
            assert pq.read_table(path).to_pylist() == pq.read_table(same).to_pylist()
            meta = pq.ParquetFile(path).metadata  # batches of 2 rows, flushed once 5 are pending: groups of 6
            assert meta.num_row_groups == math.ceil(meta.num_rows / 6), path
