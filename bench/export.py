"""Benchmark `nianbao export --parquet`: rows/s and peak memory per table, then DuckDB over the files vs SQLite.

    python bench/export.py                                   # the cached 100k archive of bench/serve.py
    python bench/export.py --db PATH --out DIR --keep        # another archive; keep the files
    python bench/export.py --queries-only --out DIR          # only the query timings, over a kept export
    python bench/export.py --queries-only --out DIR --pages  # and the site's cell-page and search SQL on SQLite

Each table is exported by its own `python -m nianbao.cli export --parquet` child (so its peak RSS is
its own, from wait4): one JSON line per table with rows, wall and CPU seconds, rows per wall- and
per CPU-second, peak RSS (MB) and bytes written (and per report). The export only reads the archive
(opened read-only). Peak RSS that stays flat from a 1.5M-row table to a 17.6M-row one is the evidence
that memory is bounded (batches, one partition open at a time), not a function of the archive's size.

Then, unless --no-queries, the whole-archive questions docs/scale.md quotes, each timed on SQLite
(the archive, what a Datasette page or canned query runs) and on DuckDB over the Parquet files
(`read_parquet(..., hive_partitioning = true)`), with both answers compared: one JSON line each
with sqlite_s, duckdb_s and equal. duckdb comes with the test extra. With --pages, the SQL the site
runs for a cell-level table page (filtered count, first page, facet) and for a common-term search of
report text, on SQLite: median and max of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nianbao.archive.parquet import PARQUET_TABLES, connect_readonly  # noqa: E402

DEFAULT_DB = REPO / "data" / "bench-serve" / "100000" / "nianbao.db"

# (name, SQL on SQLite, SQL on DuckDB): the same question; {p} is the Parquet folder.
QUERIES = [
    ("one table-3 cell across every latest report, by year",
     "select v.year, count(r.value), sum(r.value) from requests r join document_versions v on v.id = r.version_id "
     "where r.row_key = 'new_received' and r.column_key = 'total' and v.is_latest = 1 group by 1 order by 1",
     "select r.year, count(r.value), sum(r.value) from read_parquet('{p}/requests/**/*.parquet', "
     "hive_partitioning = true) r join read_parquet('{p}/document_versions/*.parquet') v on v.id = r.version_id "
     "where r.row_key = 'new_received' and r.column_key = 'total' and v.is_latest = 1 group by 1 order by 1"),
    ("table 3 of one province and year, every cell (a cell-level page's rows)",
     "select count(*), sum(r.value) from requests r where r.version_id in (select v.id from document_versions v "
     "join agencies a on a.name = v.agency where v.year = 2022 and a.province = '广东省')",
     "select count(*), sum(value) from read_parquet('{p}/requests/**/*.parquet', hive_partitioning = true) "
     "where year = 2022 and province = '广东省'"),
    ("applicant-column shares over the whole archive (every requests row)",
     "select column_key, count(*), sum(value) from requests group by 1 order by 1",
     "select column_key, count(*), sum(value) from read_parquet('{p}/requests/**/*.parquet', "
     "hive_partitioning = true) group by 1 order by 1"),
    ("failed rules by rule and province",
     "select a.province, r.rule, count(*) from rule_results r join document_versions v on v.id = r.version_id "
     "left join agencies a on a.name = v.agency where r.ok = 0 group by 1, 2 order by 1, 2",
     "select province, rule, count(*) from read_parquet('{p}/rule_results/**/*.parquet', hive_partitioning = true) "
     "where ok = 0 group by 1, 2 order by 1, 2"),
]

# What the site runs on SQLite for a cell-level table page and for report-text search (docs/scale.md):
# (name, SQL, parameters); timed as the median of --repeat runs, SQLite only.
_HITS = "id in (select rowid from sections_fts where sections_fts match cjk_query(?))"
PAGES = [
    ("requests page filtered to one cell (row_key, column_key): its count",
     "select count(*) from requests where row_key = ? and column_key = ?", ("new_received", "total")),
    ("requests page filtered to one cell: first 100 rows",
     "select * from requests where row_key = ? and column_key = ? order by version_id, row_key, column_key "
     "limit 101", ("new_received", "total")),
    ("requests page filtered to one row: column_key facet",
     "select column_key, count(*) from requests where row_key = ? group by 1 order by 2 desc limit 31",
     ("new_received",)),
    ("one report's cells (requests?version_id=)",
     "select * from requests where version_id = (select id from document_versions order by id limit 1)", ()),
    ("search 复议: first 100 hits + count",
     f"select (select count(*) from section_search where {_HITS}), "
     f"(select count(*) from (select * from section_search where {_HITS} order by id limit 101))",
     ("复议", "复议")),
    ("search 政府信息公开: first 100 hits + count",
     f"select (select count(*) from section_search where {_HITS}), "
     f"(select count(*) from (select * from section_search where {_HITS} order by id limit 101))",
     ("政府信息公开", "政府信息公开")),
    ("search 复议: year facet",
     f"select year, count(*) from section_search where {_HITS} group by 1 order by 2 desc", ("复议",)),
]


def time_pages(db: Path, repeat: int) -> None:
    from nianbao.archive.search import register_functions

    conn = connect_readonly(db)
    register_functions(conn)
    for name, sql, params in PAGES:
        times, rows = [], None
        for _ in range(repeat):
            t0 = time.perf_counter()
            rows = conn.execute(sql, params).fetchall()
            times.append(time.perf_counter() - t0)
        first = list(rows[0])[:3] if rows else None
        print(json.dumps({"page": name, "sqlite_median_s": round(statistics.median(times), 3),
                          "sqlite_max_s": round(max(times), 3), "runs": repeat, "first_row": first},
                         ensure_ascii=False), flush=True)
    conn.close()


def export_child(db: Path, out: Path, table: str) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "nianbao.cli", "export", "--db", str(db), "--parquet", str(out),
                             "--table", table], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stdout, stderr = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"export of {table} failed ({proc.returncode}): {stderr}")
    folder = out / table
    files = list(folder.rglob("*.parquet"))
    rows = int(stdout.split(": ", 1)[1].split(" rows", 1)[0])
    cpu = usage.ru_utime + usage.ru_stime
    return {"table": table, "rows": rows, "files": len(files), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "rows_per_s": round(rows / wall), "rows_per_cpu_s": round(rows / cpu) if cpu else None,
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "bytes": sum(p.stat().st_size for p in files)}


def baseline_rss_mb() -> float:
    """Peak RSS of a child that only starts and imports the exporter: what the export adds is above it."""
    proc = subprocess.Popen([sys.executable, "-c", "import nianbao.cli, nianbao.archive.parquet"], cwd=REPO)
    _, _, usage = os.wait4(proc.pid, 0)
    return round(usage.ru_maxrss / 1024, 1)


def run_queries(db: Path, out: Path) -> None:
    import duckdb

    for name, sqlite_sql, duck_sql in QUERIES:
        conn = connect_readonly(db)
        t0 = time.perf_counter()
        want = conn.execute(sqlite_sql).fetchall()
        sqlite_s = time.perf_counter() - t0
        conn.close()
        t0 = time.perf_counter()
        got = duckdb.connect().execute(duck_sql.format(p=out)).fetchall()
        duck_s = time.perf_counter() - t0
        print(json.dumps({"query": name, "sqlite_s": round(sqlite_s, 3), "duckdb_s": round(duck_s, 3),
                          "rows": len(want), "equal": [tuple(r) for r in got] == want}, ensure_ascii=False),
              flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"archive to export (default {DEFAULT_DB})")
    ap.add_argument("--out", type=Path, help="Parquet folder (default: a temporary one, removed unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the Parquet files")
    ap.add_argument("--table", action="append", dest="tables", choices=PARQUET_TABLES,
                    help="only these tables (repeatable; default all)")
    ap.add_argument("--no-queries", dest="queries", action="store_false", help="skip the SQLite/DuckDB timings")
    ap.add_argument("--queries-only", action="store_true", help="only the query timings, over --out as it is")
    ap.add_argument("--pages", action="store_true",
                    help="also time the site's cell-level page and search SQL on SQLite (docs/scale.md)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per page SQL (median and max printed)")
    args = ap.parse_args()
    if not args.db.exists():
        print(f"no archive at {args.db} (python bench/serve.py builds the 100k one)", file=sys.stderr)
        return 1
    out = args.out or Path(tempfile.mkdtemp(prefix="nianbao-parquet-"))
    try:
        if not args.queries_only:
            with sqlite3.connect(args.db.resolve().as_uri() + "?mode=ro", uri=True) as conn:
                (reports,) = conn.execute("select count(*) from report_totals").fetchone()
            size = args.db.stat().st_size
            print(json.dumps({"archive": str(args.db), "reports": reports, "db_bytes": size,
                              "db_bytes_per_report": round(size / reports), "baseline_rss_mb": baseline_rss_mb()}),
                  flush=True)
            total_rows, total_wall, total_bytes = 0, 0.0, 0
            for table in args.tables or PARQUET_TABLES:
                line = export_child(args.db, out, table)
                line["bytes_per_report"] = round(line["bytes"] / reports)
                total_rows, total_wall, total_bytes = (total_rows + line["rows"], total_wall + line["wall_s"],
                                                       total_bytes + line["bytes"])
                print(json.dumps(line), flush=True)
            print(json.dumps({"table": "all", "rows": total_rows, "wall_s": round(total_wall, 1),
                              "rows_per_s": round(total_rows / total_wall), "bytes": total_bytes,
                              "bytes_per_report": round(total_bytes / reports)}), flush=True)
        if args.queries or args.queries_only:
            run_queries(args.db, out)
        if args.pages:
            time_pages(args.db, args.repeat)
    finally:
        if not args.keep and not args.out:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
