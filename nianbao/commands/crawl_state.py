"""`nianbao crawl-state rebuild --from-warcs DIR`: the crawler's per-URL state rebuilt from WARC files.

The crawl state (`crawl_state.db`: validators, digests, record ids, redirects, junk, listing and
withdrawal dates) is derivable from the WARCs; a host whose state directory was lost, or moved to
storage without it, gets it back from that host's WARCs, and the next crawl asks exactly what the
live state would have asked (nianbao/queue/state_rebuild.py says how each field is derived).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("crawl-state", help="rebuild the crawler's state from WARC files",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = sub.add_parser("rebuild", help="rebuild crawl_state.db from the WARC files of a directory")
    r.add_argument("--from-warcs", required=True, metavar="DIR", help="directory of *.warc.gz (closed or .open)")
    r.add_argument("--out", required=True, metavar="FILE", help="the crawl_state.db to write (must not exist)")
    r.add_argument("--host", action="append", default=[], metavar="HOST",
                   help="only records of this host (hostname[:port], repeatable)")
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nianbao.queue.state_rebuild import rebuild_state

    out = Path(args.out)
    if out.exists():
        print(f"nianbao crawl-state: {out} exists (rebuild writes a new file)", file=sys.stderr)
        return 2
    stats = rebuild_state(Path(args.from_warcs), out, hosts=args.host)
    print(f"nianbao crawl-state: {stats['urls']} URLs from {stats['files']} WARC file(s) "
          f"({stats['records']} records) into {out}")
    return 0
