"""`nianbao export`: write the canonical tables as CSV or JSON files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nianbao.config import DataDir, add_data_dir_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="write the canonical tables as CSV/JSON", description=__doc__)
    add_data_dir_argument(p)
    p.add_argument("--db", type=Path, help="database (default <data>/nianbao.db)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--out", type=Path, help="output folder (default <data>/export)")
    p.add_argument("--table", action="append", dest="tables", help="only these tables/views (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sqlite_utils

    from archive.export import export

    data = DataDir.resolve(args.data_dir)
    path = args.db or data.database
    if not path.exists():
        print(f"nianbao export: no archive at {path} (run `nianbao build`)", file=sys.stderr)
        return 1
    out = args.out or data.root / "export"
    try:
        counts = export(sqlite_utils.Database(path), out, args.format, args.tables)
    except ValueError as exc:
        print(f"nianbao export: {exc}", file=sys.stderr)
        return 2
    for name, n in counts.items():
        print(f"{out / (name + '.' + args.format)}: {n} rows")
    return 0
