"""`nianbao check`: re-run every consistency rule (and carry_chain) across the archive."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nianbao.config import DataDir, add_data_dir_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("check", help="re-run every rule across the archive and summarise",
                              description=__doc__)
    add_data_dir_argument(p)
    p.add_argument("--db", type=Path, help="database (default <data>/nianbao.db)")
    p.add_argument("--latest", action="store_true", help="only the latest version of each report")
    p.add_argument("--update", action="store_true", help="write the re-run results into rule_results")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 when any rule fails")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sqlite_utils

    from nianbao.archive.check import check_archive

    path = args.db or DataDir.resolve(args.data_dir).database
    if not path.exists():
        print(f"nianbao check: no archive at {path} (run `nianbao build`)", file=sys.stderr)
        return 1
    db = sqlite_utils.Database(path)
    summary = check_archive(db, latest_only=args.latest, update=args.update)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    else:
        print(f"{summary['results']} rule results over the archive "
              f"({summary['reports_with_failures']} reports with failures)")
        for rule, counts in summary["rules"].items():
            print(f"  {rule:<14} pass {counts.get('pass', 0):>8}  fail {counts.get('fail', 0):>8}")
        print(f"  differ from stored: {summary['differ_from_stored']}, not stored: {summary['not_stored']}")
    failed = any(c.get("fail") for c in summary["rules"].values())
    return 1 if (args.strict and failed) else 0
