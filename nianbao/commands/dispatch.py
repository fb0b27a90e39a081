"""`nianbao dispatch`: enqueue tonight's hosts on the Redis job queue (one job per host, every chosen
registry source on it), for `nianbao worker` processes on the crawl machines to take.

With `--wait` it stays until every host has a result (or `--timeout`), writes the crawl log
`<data>/logs/crawl-<run id>.json` like one crawl, prints one line per host and deletes the night's
keys from Redis. `nianbao nightly --queue URL` does this, then builds and checks. Exit status: 0 every
source complete, 1 some source incomplete or some host failed (after its retries), 2 bad registry,
69 Redis unreachable, 75 the queue still holds an earlier night's hosts.
"""

from __future__ import annotations

import argparse
import sys

from nianbao import stamps
from nianbao.config import DataDir, add_data_dir_argument

EXIT_UNAVAILABLE = 69  # sysexits EX_UNAVAILABLE: the queue's Redis cannot be reached


def register(subparsers) -> None:
    from nianbao.queue.broker import DEFAULT_MIN_BACKOFF_S, DEFAULT_RETRIES, add_queue_arguments
    from nianbao.queue.night import DEFAULT_WAIT_S

    p = subparsers.add_parser("dispatch", help="enqueue tonight's hosts for the crawl workers (Redis job queue)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_queue_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--sources", default=None, help="registry file (default: the bundled crawler/sources.yaml); "
                                                   "workers must read it at the same path")
    p.add_argument("--source", action="append", default=[], metavar="NAME", help="only this source (repeatable)")
    p.add_argument("--run-id", default=None, help="run id (default: UTC time, e.g. 20260201T030000Z)")
    p.add_argument("--revalidate", choices=("policy", "all", "none"), default="policy")
    p.add_argument("--now", default=None, help="ISO time the crawlers use as 'now' (testing)")
    p.add_argument("--impolite", action="store_true", help="loopback fixture portals only: no crawl delays")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                   help=f"times a host whose crawl crashed is tried again (default {DEFAULT_RETRIES})")
    p.add_argument("--backoff", type=float, default=DEFAULT_MIN_BACKOFF_S, metavar="SECONDS",
                   help=f"first retry delay, doubling (default {DEFAULT_MIN_BACKOFF_S:.0f})")
    p.add_argument("--wait", action="store_true", help="wait for every host's result, report, clean Redis")
    p.add_argument("--timeout", type=float, default=DEFAULT_WAIT_S, metavar="SECONDS",
                   help="with --wait: hosts without a result by then are reported failed")
    p.add_argument("--clear", action="store_true", help="drop every queued host job (an abandoned night) and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from nianbao.crawler.registry import RegistryError
    from nianbao.queue import night
    from nianbao.queue.broker import QUEUE_NAME, connect, queue_url

    url = queue_url(args.queue)
    if not url:
        print("nianbao dispatch: no queue configured (--queue redis://… or $NIANBAO_QUEUE)", file=sys.stderr)
        return 2
    run_id = args.run_id or stamps.run_id()
    data = DataDir.resolve(args.data_dir).ensure()
    try:
        if args.clear:
            q = connect(url, args.heartbeat)
            try:
                print(f"nianbao dispatch: dropping {q.pending()} queued host job(s)")
                q.broker.flush(QUEUE_NAME)
            finally:
                q.close()
            return 0
        hosts = night.plan_hosts(args.sources, args.source)
        from nianbao.commands.crawl import record_registry

        record_registry(data, args.sources, args.source)  # what later builds of this data dir read
        options = dict(sources_file=args.sources, revalidate=args.revalidate, impolite=args.impolite, now=args.now,
                       retries=args.retries, min_backoff_s=args.backoff)
        if args.wait:
            outcome = night.run_night(data, url, run_id, names=args.source, timeout_s=args.timeout,
                                      heartbeat_s=args.heartbeat, **options)
            print("\n".join(outcome.lines()))
            return outcome.exit_code
        q = connect(url, args.heartbeat)
        try:
            sent = night.dispatch(q, run_id, hosts, **options)
        finally:
            q.close()
        print(f"nianbao dispatch: run {run_id}: {len(sent)} host(s) queued "
              f"({sum(len(v) for v in hosts.values())} sources)")
        return 0
    except RegistryError as exc:
        print(f"nianbao dispatch: {exc}", file=sys.stderr)
        return 2
    except night.NightBusy as exc:
        print(f"nianbao dispatch: {exc}", file=sys.stderr)
        return 75
    except RedisError as exc:
        print(f"nianbao dispatch: cannot reach the queue at {url}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
