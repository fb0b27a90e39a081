"""`nianbao worker`: run on each crawl machine; takes host jobs from the Redis job queue and crawls them.

Each job is one host: `python -m nianbao.crawler.run --host HOST --worker-id ID` in the host's own data
directory `<data>/hosts/<host>/` (its crawl state travels with it), the closed WARC files then moved to
`<data>/warcs/`. `--data-dir` must be the storage every worker and the build share (NFS or the like).
A worker killed (kill -9, a machine lost) stops heartbeating; after `--heartbeat` seconds another
worker re-runs its host. SIGTERM or Ctrl-C: running crawls are interrupted (Scrapy keeps their JOBDIR)
and their hosts requeued. Runs until stopped.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading

from nianbao.config import DataDir, add_data_dir_argument


def register(subparsers) -> None:
    from nianbao.queue.broker import add_queue_arguments

    p = subparsers.add_parser("worker", help="take host jobs from the Redis job queue and crawl them",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_queue_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--worker-id", default=None, metavar="ID",
                   help="this worker's name in WARC file names and results (default: hostname-pid)")
    p.add_argument("--concurrency", type=int, default=4, metavar="N",
                   help="hosts crawled at once, one crawler process each (default 4)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dramatiq import Worker
    from redis.exceptions import RedisError

    from nianbao.queue.broker import QUEUE_NAME, connect, queue_url
    from nianbao.queue.hostjob import WorkerSetup, run_host

    url = queue_url(args.queue)
    if not url:
        print("nianbao worker: no queue configured (--queue redis://… or $NIANBAO_QUEUE)", file=sys.stderr)
        return 2
    setup = WorkerSetup(DataDir.resolve(args.data_dir).ensure(),
                        args.worker_id or f"{socket.gethostname()}-{os.getpid()}")
    try:
        q = connect(url, args.heartbeat, run=lambda job: run_host(setup, job))
    except RedisError as exc:
        print(f"nianbao worker: cannot reach the queue at {url}: {exc}", file=sys.stderr)
        return 69
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker = Worker(q.broker, queues={QUEUE_NAME}, worker_threads=max(1, args.concurrency), worker_timeout=200)
    worker.queue_prefetch = max(1, args.concurrency)  # take only hosts it can start now: the rest stay for others
    worker.start()
    print(f"nianbao worker {setup.worker_id}: taking host jobs from {url} into {setup.data.root}", flush=True)
    while not stop.wait(1.0):
        pass
    setup.stopping.set()
    worker.stop(timeout=60_000)
    q.close()  # its heartbeat too: a stopped worker leaves no key
    return 0
