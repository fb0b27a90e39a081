"""`nianbao nightly`: the cron entry point — crawl && build && check under one lock, a run record
(`<data>/logs/nightly_runs.jsonl` and the `nightly_runs` table), a short summary on stdout, a log
file in `<data>/logs/`, and an exit code that says what happened.

Calendar-aware: agencies with no report for the latest year past its deadline (Jan 31 departments
and townships, Mar 31 governments) are listed as overdue; a source quiet in July is fine.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from nianbao.config import add_data_dir_argument


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(subparsers) -> None:
    from nianbao.nightly import EXIT_CODES_HELP

    p = subparsers.add_parser("nightly", help="crawl, build and check for cron, with a run record and exit code",
                              description=__doc__, epilog=EXIT_CODES_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir_argument(p)
    p.add_argument("--sources", default=None, help="registry file (default: the bundled crawler/sources.yaml)")
    p.add_argument("--source", action="append", default=[], metavar="NAME", help="only this source (repeatable)")
    p.add_argument("--revalidate", choices=("policy", "all", "none"), default="policy",
                   help="which already-fetched report pages to re-check (default: the rotating policy)")
    p.add_argument("--impolite", action="store_true", help="loopback fixture portals only: no crawl delays")
    p.add_argument("--today", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="the calendar date for deadlines (default: today)")
    p.add_argument("--run-id", default=None, help="run id (default: UTC time, e.g. 20260201T030000Z)")
    from nianbao.queue.broker import add_queue_arguments

    add_queue_arguments(p)  # with a queue: dispatch the hosts to `nianbao worker`s, wait, then build and check
    p.add_argument("--queue-timeout", type=float, default=None, metavar="SECONDS",
                   help="with a queue: hosts without a result by then are failed (default 20 h)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nianbao.nightly import NightlyOptions, run_nightly
    from nianbao.nightly_record import summary_lines

    opts = NightlyOptions(data_dir=args.data_dir, sources=args.sources, source=tuple(args.source),
                          revalidate=args.revalidate, impolite=args.impolite, today=args.today,
                          run_id=args.run_id, interactive=sys.stderr.isatty(), queue=args.queue,
                          heartbeat=args.heartbeat, queue_timeout=args.queue_timeout)
    code, row = run_nightly(opts)
    out = sys.stderr if code == 75 else sys.stdout
    print("\n".join(summary_lines(row)), file=out)
    return code
