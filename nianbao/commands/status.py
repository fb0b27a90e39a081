"""`nianbao status`: per-source health from the archive — last success, last new report, consecutive
failed crawls and their class (dns, refused, timeout, 404, blocked, robots), parse drift, empty
columns, and reports overdue by the calendar (Jan 31 departments/townships, Mar 31 governments).

A table on a terminal; `--json` for machines. Exit status: 0 all sources healthy, 4 some source
needs attention (failing, drift, empty or overdue), 1 no archive.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from datetime import date

from nianbao.commands.nightly import _date
from nianbao.config import DataDir, add_data_dir_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("status", help="per-source health: failures, drift, overdue reports",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir_argument(p)
    p.add_argument("--json", action="store_true", help="print JSON (sources, last nightly run)")
    p.add_argument("--today", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="the calendar date for deadlines (default: today)")
    p.set_defaults(func=run)


def _short(ts: str | None) -> str:
    return (ts or "—")[:19].replace("T", " ")


def run(args: argparse.Namespace) -> int:
    from nianbao.health import source_health
    from nianbao.nightly_record import read_runs

    data = DataDir.resolve(args.data_dir)
    if not data.database.is_file():
        print(f"nianbao status: no archive at {data.database} (run `nianbao nightly` or `nianbao build`)",
              file=sys.stderr)
        return 1
    today = args.today or date.today()
    try:
        health = source_health(data.database, today)
    except sqlite3.DatabaseError as exc:
        print(f"nianbao status: cannot read {data.database} ({exc}); rebuild it with `nianbao build`",
              file=sys.stderr)
        return 1
    runs = read_runs(data)
    last_run = runs[-1] if runs else None
    attention = [h for h in health if h.state not in ("ok", "disabled")]
    if args.json:
        print(json.dumps({"today": today.isoformat(), "database": str(data.database),
                          "sources": [h.to_dict() for h in health], "last_nightly": last_run},
                         ensure_ascii=False, indent=1))
        return 4 if attention else 0
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title=f"nianbao sources — {data.database} (calendar {today.isoformat()})")
    for col in ("source", "state", "last success", "last new report", "fails", "class", "reports", "problems"):
        table.add_column(col, overflow="fold")
    colours = {"ok": "green", "failing": "red", "drift": "yellow", "overdue": "yellow", "empty": "red"}
    for h in health:
        table.add_row(h.source, f"[{colours.get(h.state, 'white')}]{h.state}[/]", _short(h.last_success),
                      _short(h.last_new_report), str(h.consecutive_failures), h.failure_class or "",
                      str(h.reports), "; ".join(h.problems))
    console.print(table)
    if last_run:
        console.print(f"last nightly run {last_run['id']}: exit {last_run.get('exit_code')} "
                      f"({last_run.get('outcome')}), {last_run.get('n_new') or 0} new, "
                      f"{last_run.get('n_changed') or 0} changed, {last_run.get('n_withdrawn') or 0} withdrawn, "
                      f"{last_run.get('n_sources_failed') or 0} sources failed")
    return 4 if attention else 0
