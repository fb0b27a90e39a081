"""`nianbao crawl`: fetch report columns into WARC files (incremental, polite, resumable).

Runs the Scrapy crawl (`python -m crawler.run`) in a child process, because the Twisted reactor
cannot restart inside one process (so `nianbao demo` can crawl twice). Exit status: 0 every
source complete, 1 some source incomplete, 2 bad arguments or registry, 75 another crawl running.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from nianbao.config import DataDir


def register(subparsers) -> None:
    from crawler.run import add_arguments

    p = subparsers.add_parser("crawl", help="crawl report columns into WARC files", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crawler.run import to_argv
    from nianbao.runlock import RunLocked, run_lock

    data = DataDir.resolve(args.data_dir).ensure()
    args.data_dir = str(data.root)
    try:
        with run_lock(data.root / ".crawl.lock"):
            return subprocess.call([sys.executable, "-m", "crawler.run", *to_argv(args)])
    except RunLocked as exc:
        print(f"nianbao crawl: {exc}", file=sys.stderr)
        return 75
