"""`nianbao export`: write the archive's tables as CSV or JSON files with a Frictionless datapackage.json.

Covers the canonical tables, reports and report_totals, rule_failures (findings), coverage and the label
tables. `--bom` starts each CSV with a UTF-8 byte-order mark so Excel reads the Chinese text as UTF-8
(the site's CSV links have none: Datasette 0.65 offers no such option).
`--wacz OUT.wacz` packages the data directory's closed WARCs as one WACZ for replay tools instead
(nianbao/publish/wacz.py; needs no archive).
`--parquet DIR` writes the cell and rule tables (and document_versions, to join them) as Parquet instead,
partitioned by year and province for DuckDB and pandas (archive/parquet.py; when to use it: docs/scale.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nianbao.config import DataDir, add_data_dir_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="write the tables as CSV/JSON with a datapackage.json",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir_argument(p)
    p.add_argument("--db", type=Path, help="database (default <data>/nianbao.db)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--csv", dest="format", action="store_const", const="csv", help="same as --format csv")
    p.add_argument("--bom", action="store_true", help="CSV with a UTF-8 byte-order mark (for Excel)")
    p.add_argument("--no-datapackage", dest="datapackage", action="store_false",
                   help="do not write datapackage.json")
    p.add_argument("--out", type=Path, help="output folder (default <data>/export)")
    p.add_argument("--table", action="append", dest="tables", help="only these tables/views (repeatable)")
    p.add_argument("--wacz", type=Path, metavar="OUT.wacz",
                   help="write the data directory's WARCs as a WACZ (replay tools) instead of the tables")
    p.add_argument("--parquet", type=Path, metavar="DIR",
                   help="write the cell and rule tables as Parquet partitioned by year/province (DuckDB, pandas) "
                        "instead; --table picks among them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sqlite_utils

    from nianbao.archive.export import export

    data = DataDir.resolve(args.data_dir)
    if args.wacz:
        return run_wacz(data, args.wacz)
    path = args.db or data.database
    if not path.exists():
        print(f"nianbao export: no archive at {path} (run `nianbao build`)", file=sys.stderr)
        return 1
    if args.parquet:
        return run_parquet(path, args.parquet, args.tables)
    out = args.out or data.root / "export"
    try:
        counts = export(sqlite_utils.Database(path), out, args.format, args.tables, bom=args.bom,
                        datapackage=args.datapackage)
    except ValueError as exc:
        print(f"nianbao export: {exc}", file=sys.stderr)
        return 2
    for name, n in counts.items():
        print(f"{out / (name + '.' + args.format)}: {n} rows")
    if args.datapackage:
        print(f"{out / 'datapackage.json'}: {len(counts)} resources")
    return 0


def run_parquet(db: Path, out: Path, tables: list[str] | None) -> int:
    from nianbao.archive.parquet import ParquetExportError, export_parquet

    try:
        done = export_parquet(db, out, tables)
    except ParquetExportError as exc:
        print(f"nianbao export: {exc}", file=sys.stderr)
        return 2
    for table in done:
        print(f"{out / table.table}: {table.n_rows} rows in {len(table.files)} files, {table.n_bytes} bytes")
    return 0


def run_wacz(data: DataDir, out: Path) -> int:
    from nianbao.publish.wacz import WaczError, write_wacz

    try:
        result = write_wacz(data.warc_files(), out)
    except WaczError as exc:
        print(f"nianbao export: {exc}", file=sys.stderr)
        return 1
    print(f"{result.path}: {result.warcs} WARC files, {result.index_lines} index lines, {result.pages} pages, "
          f"{result.size} bytes")
    return 0
