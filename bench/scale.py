"""Scale benchmark (issue 16 point 5): loopback hosts crawled through the Redis job queue by 1, 2, 4 workers.

    python bench/scale.py [--portals 30] [--reports 20] [--per-page 10] [--workers 1,2,4] [--concurrency 8]
                          [--no-kill] [--compare-archives]

Each portal is a fixture portal on 127.0.0.1 with its own port (a host of its own for the registry's
`sources_by_host`, robots.txt and the lease), one column of `--reports` HTML reports, `--per-page` per
list page. A real redis-server on a free loopback port; `nianbao worker` processes (each crawling up to
`--concurrency` hosts at once, one crawler process per host, polite settings: the crawler's own delay,
jitter and AutoThrottle); `nianbao.queue.night.run_night` dispatches and waits. One JSON line per
configuration, counted from the fixture servers' own logs:
  requests, distinct (pages), duplicates, missing, unexpected, robots (robots.txt fetches),
  min_gap_s (smallest gap between two requests to one host), wall_s (dispatch to the last result),
  cpu_ms_per_page (workers and their crawlers, user+sys, per distinct page), failed (hosts).
Targets (30 × 20, 10 per page): 690 requests, 0 duplicates, 0 missing, 30 robots, min gap ≥ 0.5 s,
wall(4) ≤ 1.2 × wall(1).
`--compare-archives`: each configuration's WARCs built into an archive, compared table by table with the
first's (documents, versions, cells, rules, totals, sections…: tests.queue.test_queue.COMPARED).
Then the kill run (unless --no-kill): 2 workers with room for every host (half each); once a third of
the pages are fetched one worker is killed with SIGKILL and a fresh one started: `restart_s` (seconds
from the kill to the re-start of the killed worker's hosts' jobs, max over those hosts), missing,
duplicates by kind (list pages and robots.txt vs report pages, the latter at most the requests in
flight at the kill), and `warcio_check` over every WARC.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nianbao.config import DataDir  # noqa: E402
from nianbao.queue.broker import HEARTBEATS, connect  # noqa: E402
from nianbao.queue.night import dispatch, finish, plan_hosts, run_night, wait  # noqa: E402
from tests.queue.sites import Hosts, RedisServer, kill_worker, start_worker, stop_worker, tally  # noqa: E402

HEARTBEAT = 5.0


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wait_for(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def one_config(hosts: Hosts, redis: RedisServer, registry: Path, work: Path, n: int, concurrency: int) -> dict:
    hosts.clear_logs()
    data = DataDir(work / f"data-{n}").ensure()
    cpu0 = cpu_children()
    procs = [start_worker(redis.url, data.root, f"w{i}", concurrency=concurrency, heartbeat=HEARTBEAT)
             for i in range(n)]
    wait_for(lambda: redis.client.zcard(HEARTBEATS) >= n, 60)
    t0 = time.perf_counter()
    try:
        out = run_night(data, redis.url, f"scale{n}", sources_file=str(registry), heartbeat_s=HEARTBEAT,
                        timeout_s=3600)
        wall = time.perf_counter() - t0
    finally:
        for p in procs:
            stop_worker(p)
    cpu = cpu_children() - cpu0
    counts = tally(hosts)
    return {"config": f"{n} worker(s) x {concurrency} hosts", "workers": n, "portals": len(hosts.portals), **counts,
            "min_gap_s": round(hosts.min_gap(), 3), "wall_s": round(wall, 2),
            "cpu_ms_per_page": round(1000 * cpu / max(1, counts["distinct"]), 1), "failed": len(out.failed),
            "left_keys": len(redis.keys())}


def compare_archives(work: Path, registry: Path, configs: list[int]) -> dict:
    """Build each configuration's archive; the tables of each compared with the first's (tests.queue.test_queue.dump:
    every compared table without run-specific columns)."""
    from nianbao.archive.build import build_archive
    from tests.queue.test_queue import COMPARED, dump

    dumps = {}
    for n in configs:
        data = DataDir(work / f"data-{n}")
        build_archive(work / f"archive-{n}.db", warcs=data.warc_files(), registry_path=registry)
        dumps[n] = dump(work / f"archive-{n}.db")
    first = configs[0]
    return {"archives": {str(n): {"documents": len(dumps[n]["documents"]),
                                  "cells": sum(len(dumps[n][t]) for t in ("active_disclosure", "requests", "appeals")),
                                  "tables_differing_from_" + str(first): [t for t in COMPARED
                                                                         if dumps[n][t] != dumps[first][t]]}
                         for n in configs}}


def kill_run(hosts: Hosts, redis: RedisServer, registry: Path, work: Path) -> dict:
    """Two workers with room for every host (so the whole night is leased when one dies), one killed."""
    concurrency = -(-len(hosts.portals) // 2)
    hosts.clear_logs()
    data = DataDir(work / "data-kill").ensure()
    want = len(hosts.expected())
    a = start_worker(redis.url, data.root, "wa", concurrency=concurrency, heartbeat=HEARTBEAT)
    b = start_worker(redis.url, data.root, "wb", concurrency=concurrency, heartbeat=HEARTBEAT)
    q = connect(redis.url, HEARTBEAT)
    c = None
    try:
        wait_for(lambda: redis.client.zcard(HEARTBEATS) >= 2, 60)
        plan = plan_hosts(str(registry))
        t0 = time.perf_counter()
        sent = dispatch(q, "kill", plan, sources_file=str(registry))
        wait_for(lambda: sum(hosts.fetched().values()) >= want // 3, 3600)
        kill_worker(a)
        killed = time.time()
        touched = {host for host, _ in hosts.fetched()}  # hosts under way at the kill (on a or b)
        c = start_worker(redis.url, data.root, "wc", concurrency=concurrency, heartbeat=HEARTBEAT)
        out = wait(q, "kill", sent, plan, timeout_s=3600)
        wall = time.perf_counter() - t0
        finish(q, sent)
    finally:
        q.close()
        for p in (a, b, c):
            if p is not None:
                stop_worker(p)
    counts = tally(hosts)
    got = hosts.fetched()
    lists = {col.column for p in hosts.portals for col in p.site.portals}
    list_like = {k for k in got if k[1] in lists or k[1].endswith(("/index_1.html", "/robots.txt"))}
    # the killed worker's hosts: under way at the kill, their result from a job started after it
    rerun = [r["started"] - killed for h, r in out.results.items() if h in touched and r["started"] > killed]
    files = sorted(str(f) for f in data.warcs.glob("*.warc.gz"))
    check = subprocess.run([str(Path(sys.executable).with_name("warcio")), "check", *files], capture_output=True)
    return {"config": f"kill -9 of 1 of 2 workers x {concurrency} hosts", "portals": len(hosts.portals), **counts,
            "dup_list_or_robots": sum(n - 1 for k, n in got.items() if k in list_like),
            "dup_reports": sum(n - 1 for k, n in got.items() if k not in list_like),
            "hosts_rerun": len(rerun), "restart_s": round(max(rerun), 2) if rerun else None,
            "heartbeat_s": HEARTBEAT, "wall_s": round(wall, 2), "failed": len(out.failed),
            "warc_files": len(files), "warcio_check": "pass" if check.returncode == 0 else "FAIL",
            "open_left": len(list((data.root / "hosts").rglob("*.open"))), "left_keys": len(redis.keys())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--portals", type=int, default=30)
    ap.add_argument("--reports", type=int, default=20)
    ap.add_argument("--per-page", type=int, default=10)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--concurrency", type=int, default=8, help="hosts per worker at once")
    ap.add_argument("--no-kill", action="store_true")
    ap.add_argument("--compare-archives", action="store_true",
                    help="build an archive from each configuration's WARCs and compare them table by table")
    ap.add_argument("--keep", default=None, help="keep the work directory here")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="nianbao-scale-"))
    redis = RedisServer(work / "redis")
    walls = {}
    try:
        with Hosts(work / "site", [1] * args.portals, reports=args.reports, per_page=args.per_page) as hosts:
            registry = hosts.write_registry(work / "sources.yaml")
            for n in [int(x) for x in args.workers.split(",") if x.strip()]:  # --workers '' : the kill run only
                row = one_config(hosts, redis, registry, work, n, args.concurrency)
                walls[n] = row["wall_s"]
                print(json.dumps(row), flush=True)
            if 1 in walls and 4 in walls:
                print(json.dumps({"wall_4_over_1": round(walls[4] / walls[1], 3), "target": "<= 1.2"}), flush=True)
            if args.compare_archives and len(walls) > 1:
                try:
                    print(json.dumps(compare_archives(work, registry, sorted(walls))), flush=True)
                except Exception as exc:  # a broken build must not cost the kill run its figures
                    print(json.dumps({"archives": f"build failed: {type(exc).__name__}: {exc}"}), flush=True)
            if not args.no_kill:
                print(json.dumps(kill_run(hosts, redis, registry, work)), flush=True)
    finally:
        redis.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
