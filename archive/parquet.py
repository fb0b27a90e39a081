"""Export the cell-level tables as Parquet, partitioned by report year and province, for DuckDB and pandas.

Why: at 700k reports the archive is ~33 GB of SQLite and a table-3 question over every report scans
~120 million cell rows through Datasette's time limit (docs/scale.md). Report-level tables and the
full-text search stay in SQLite + Datasette; the per-cell and per-rule tables (176 and 48 rows a report)
are also written as columnar files that an analyst scans in seconds with DuckDB or loads with pandas.

Layout (hive partitioning, one file per partition, written in primary-key order):

    DIR/<table>/year=2023/province=福建省/part-0.parquet      (cell and rule tables: PARTITIONED)
    DIR/document_versions/part-0.parquet                     (the join partner: is_latest, agency, …)

`year` is the version's report year (document_versions.year), `province` its agency's
(agencies.province); they are hive keys, not columns of the files, whose columns are exactly the
SQLite table's (names and order from archive/schema.py, descriptions from archive/columns.py as
each field's `description` metadata and, for readers that only see file metadata such as DuckDB's
`parquet_kv_metadata`, as JSON under `nianbao.descriptions`). A null year or province (a ministry has
no province) is the directory `__HIVE_DEFAULT_PARTITION__`, which DuckDB reads as NULL; pandas/pyarrow
read it as null when given `partitioning()` below (their default dictionary-typed keys refuse nulls).

Types follow the declared SQLite types (TEXT string, INTEGER int64, REAL float64); the ANY columns
are listed in ANY_TYPES. Memory is bounded: rows are read `batch_rows` at a time and written as row
groups of `row_group_rows`; one partition is open at a time; no table is ever loaded whole.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from nianbao.archive.columns import describe
from nianbao.archive.schema import TABLES as SCHEMA

# Per cell (tables 2-4) and per rule evaluated (~48 a report): the tables that outgrow Datasette.
PARTITIONED = ("active_disclosure", "requests", "appeals", "rule_results")
# One row per version, exported whole so DuckDB can join cells to is_latest, agency, edition, status
# without the SQLite file; its own `year` column would clash with a hive key, so it is not partitioned.
UNPARTITIONED = ("document_versions",)
PARQUET_TABLES = PARTITIONED + UNPARTITIONED

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # what Hive, Spark, pyarrow and DuckDB take for a null key
PARTITION_SCHEMA = pa.schema([("year", pa.int64()), ("province", pa.string())])

_TYPES = {str: pa.string(), int: pa.int64(), float: pa.float64()}
# Columns declared ANY (NUMERIC affinity): what their values are, as a Parquet type.
ANY_TYPES: dict[tuple[str, str], pa.DataType] = {
    # counts stay integers, money is REAL; every value is within ±10^13 (parsers/values.py BOUNDS),
    # so a double holds each exactly.
    ("active_disclosure", "value"): pa.float64(),
    # numbers for the arithmetic rules but text for page_attachment_mismatch ("requests:granted/total=5; …"):
    # written as SQLite's text of the value (CAST(x AS TEXT)); in DuckDB TRY_CAST(expected AS DOUBLE).
    ("rule_results", "expected"): pa.string(),
    ("rule_results", "actual"): pa.string(),
}


class ParquetExportError(ValueError):
    """The archive cannot be exported as it is (missing column, a value that does not fit its type)."""


@dataclass
class TableExport:
    """What one table's export wrote: rows per partition (year, province; (None, None) for an unpartitioned
    table) and the files."""

    table: str
    rows: dict[tuple[int | None, str | None], int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def n_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files)


def partitioning():  # -> pyarrow.dataset.Partitioning (imported here: it pulls in pandas when installed)
    """The hive partitioning with plain (not dictionary) keys, for pyarrow/pandas readers:
    `pandas.read_parquet(DIR / "requests", partitioning=partitioning())`."""
    import pyarrow.dataset as ds

    return ds.HivePartitioning(PARTITION_SCHEMA, null_fallback=NULL_PARTITION)


def arrow_schema(table: str) -> pa.Schema:
    """The Parquet schema of `table`: the SQLite columns in order, typed, each with its description."""
    fields = []
    for name, kind in SCHEMA[table]["columns"].items():
        arrow_type = ANY_TYPES.get((table, name)) if kind == "ANY" else _TYPES.get(kind)
        if arrow_type is None:
            raise KeyError(f"no Parquet type for {table}.{name} (declared {kind!r}; add it to ANY_TYPES)")
        fields.append(pa.field(name, arrow_type, metadata={"description": describe(table, name) or ""}))
    descriptions = {f.name: f.metadata[b"description"].decode() for f in fields}
    return pa.schema(fields, metadata={"nianbao.table": table, "nianbao.schema": "docs/schema.md",
                                       "nianbao.descriptions": json.dumps(descriptions, ensure_ascii=False)})


def _select(table: str, schema: pa.Schema) -> str:
    """SELECT of the schema's columns; an ANY column exported as text is SQLite's own text of the value."""
    cols = [f"CAST([{f.name}] AS TEXT)" if SCHEMA[table]["columns"][f.name] == "ANY" and f.type == pa.string()
            else f"[{f.name}]" for f in schema]
    return "SELECT " + ", ".join(cols) + f" FROM [{table}]"


def _order(table: str) -> str:
    pk = SCHEMA[table]["pk"]
    return ", ".join(f"[{c}]" for c in ((pk,) if isinstance(pk, str) else pk))


# The partition of every version: its report year and its agency's province (null when unknown).
_VERSION_PARTS = "SELECT v.id, v.year, a.province FROM document_versions v LEFT JOIN agencies a ON a.name = v.agency"


def partitions(conn: sqlite3.Connection) -> list[tuple[int | None, str | None]]:
    """Every (year, province) some version falls in, nulls first, then in order."""
    rows = conn.execute(f"SELECT DISTINCT year, province FROM ({_VERSION_PARTS}) ORDER BY 1, 2").fetchall()
    return [(y, p) for y, p in rows]


def _batch(table: str, schema: pa.Schema, rows: list[tuple]) -> pa.RecordBatch:
    arrays = []
    for f, values in zip(schema, zip(*rows)):
        try:
            arrays.append(pa.array(values, type=f.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
            bad = next((v for v in values if v is not None and not _fits(v, f.type)), None)
            raise ParquetExportError(f"{table}.{f.name}: value {bad!r} does not fit {f.type} ({exc})") from exc
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _fits(value: object, arrow_type: pa.DataType) -> bool:
    if arrow_type == pa.string():
        return isinstance(value, str)
    if arrow_type == pa.int64():
        return isinstance(value, int) and -(2**63) <= value < 2**63
    return isinstance(value, (int, float))


def _partition_dir(year: int | None, province: str | None) -> str:
    def key(v: object) -> str:
        if v is None:
            return NULL_PARTITION
        text = str(v)
        if not text or text in (".", "..") or any(c in text for c in "/\\\0"):
            raise ParquetExportError(f"province {text!r} cannot name a partition directory")
        return text
    return f"year={key(year)}/province={key(province)}"


ROW_GROUP_BYTES = 16 << 20  # a row group's Arrow size at most (wide text rows: document_versions, rule notes)


class _Writer:
    """One Parquet file written in row groups of about `row_group_rows` rows (or ROW_GROUP_BYTES), from batches."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int):
        self.path, self.schema, self.row_group_rows = path, schema, row_group_rows
        self.pending: list[pa.RecordBatch] = []
        self.n_pending = self.bytes_pending = 0
        self.writer: pq.ParquetWriter | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        self.pending.append(batch)
        self.n_pending += batch.num_rows
        self.bytes_pending += batch.nbytes
        if self.n_pending >= self.row_group_rows or self.bytes_pending >= ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self.writer.write_table(pa.Table.from_batches(self.pending, schema=self.schema),
                                row_group_size=self.n_pending)
        self.pending, self.n_pending, self.bytes_pending = [], 0, 0

    def close(self) -> bool:
        """Write what is pending; True when the file exists (an empty partition writes none)."""
        self._flush()
        if self.writer is None:
            return False
        self.writer.close()
        return True


BATCH_BYTES = 4 << 20  # a fetch's Arrow size to aim at: wide rows (titles, URLs, warnings) are fetched fewer at a time


def _write(conn, table, schema, sql, params, path, batch_rows, row_group_rows) -> int:
    """Stream the query into one file: `batch_rows` rows a fetch at most, fewer when rows are wide."""
    writer, n, size = _Writer(path, schema, row_group_rows), 0, batch_rows
    cursor = conn.execute(sql, params)
    try:
        while rows := cursor.fetchmany(size):
            batch = _batch(table, schema, rows)
            writer.add(batch)
            n += len(rows)
            size = max(1, min(batch_rows, len(rows) * BATCH_BYTES // max(batch.nbytes, 1)))
    finally:
        writer.close()
    return n


def _owned(folder: Path) -> bool:
    """True when `folder` holds nothing but an earlier export (hive folders, .parquet files): safe to replace."""
    return all(("=" in p.name) if p.is_dir() else p.name.endswith(".parquet") for p in folder.rglob("*"))


def export_table(conn: sqlite3.Connection, table: str, out: Path, *, batch_rows: int = 20_000,
                 row_group_rows: int = 200_000) -> TableExport:
    """Write `table` under `out/<table>` (replacing an earlier export of it: written beside, then swapped)."""
    if table not in PARQUET_TABLES:
        raise ParquetExportError(f"{table!r} is not exported as Parquet (tables: {', '.join(PARQUET_TABLES)})")
    schema = arrow_schema(table)
    have = [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]
    missing = [f.name for f in schema if f.name not in have]
    if missing:
        raise ParquetExportError(f"{table} has no column {', '.join(missing)}: the archive predates this schema "
                                 "(rebuild it with `nianbao build`)")
    final, tmp = out / table, out / f".{table}.partial"
    if final.exists() and not _owned(final):
        raise ParquetExportError(f"{final} exists and is not an earlier Parquet export: not replacing it")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    result = TableExport(table)
    select, order = _select(table, schema), _order(table)
    try:
        if table in UNPARTITIONED:
            path = tmp / "part-0.parquet"
            result.rows[(None, None)] = _write(conn, table, schema, f"{select} ORDER BY {order}", (), path,
                                               batch_rows, row_group_rows)
            result.files.append(path)
        else:
            where = f"WHERE version_id IN (SELECT id FROM ({_VERSION_PARTS}) WHERE year IS ? AND province IS ?)"
            for year, province in partitions(conn):
                path = tmp / _partition_dir(year, province) / "part-0.parquet"
                n = _write(conn, table, schema, f"{select} {where} ORDER BY {order}", (year, province), path,
                           batch_rows, row_group_rows)
                if n:
                    result.rows[(year, province)] = n
                    result.files.append(path)
            # Rows of a version the archive does not hold (never written by the build; foreign keys are
            # not enforced): kept too, in the null partition, rather than silently left out.
            total = conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]
            if total != result.n_rows:
                path = tmp / _partition_dir(None, None) / "part-orphans.parquet"
                n = _write(conn, table, schema,
                           f"{select} WHERE version_id NOT IN (SELECT id FROM document_versions) ORDER BY {order}",
                           (), path, batch_rows, row_group_rows)
                if n:
                    result.rows[(None, None)] = result.rows.get((None, None), 0) + n
                    result.files.append(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out / f".{table}.old"  # the earlier export moves aside first: `final` is missing only between two renames
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    result.files = [final / p.relative_to(tmp) for p in result.files]
    return result


def connect_readonly(db_path: Path) -> sqlite3.Connection:
    """The archive opened read-only (an export never writes to it, even a temporary table)."""
    return sqlite3.connect(Path(db_path).resolve().as_uri() + "?mode=ro", uri=True)


def export_parquet(db_path: Path, out: Path, tables: list[str] | None = None, *, batch_rows: int = 20_000,
                   row_group_rows: int = 200_000) -> list[TableExport]:
    """Export `tables` (default PARQUET_TABLES) of the archive at `db_path` under `out`."""
    unknown = [t for t in tables or () if t not in PARQUET_TABLES]
    if unknown:
        raise ParquetExportError(f"not exported as Parquet: {', '.join(unknown)} "
                                 f"(tables: {', '.join(PARQUET_TABLES)})")
    out.mkdir(parents=True, exist_ok=True)
    conn = connect_readonly(db_path)
    try:
        return [export_table(conn, t, out, batch_rows=batch_rows, row_group_rows=row_group_rows)
                for t in tables or PARQUET_TABLES]
    finally:
        conn.close()
