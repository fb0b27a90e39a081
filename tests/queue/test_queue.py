"""Host jobs on a real Redis with real `nianbao worker` processes over loopback fixture hosts.

Counts come from the fixture servers' own request logs; waits are on the queue's results, the
servers' logs or Redis state, never on sleeps.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nianbao.archive.build import build_archive
from nianbao.config import DataDir
from nianbao.crawler.fixture_portal import Report
from nianbao.queue.broker import HEARTBEATS, connect
from nianbao.queue.night import dispatch, finish, run_night, wait
from tests.queue.sites import Hosts, kill_worker, start_worker, stop_worker, tally

pytestmark = pytest.mark.slow
HEARTBEAT = 5.0


def wait_until(pred, timeout: float, what: str):
    """Poll a condition the system under test makes true (server logs, Redis), up to `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def workers_up(redis_server, n: int) -> None:
    """Every worker has heartbeated (its consumers poll Redis): none can miss the first jobs."""
    wait_until(lambda: redis_server.client.zcard(HEARTBEATS) >= n, 60, f"{n} worker heartbeats")


def stop_all(procs) -> None:
    for p in procs:
        stop_worker(p)


# -- archive comparison ---------------------------------------------------------------------------------
VOLATILE = {"id", "fetched", "first_seen", "last_seen", "warc_file", "warc_offset", "warc_length", "record_id",
            "capture_id", "first_capture_id", "latest_capture_id", "document_id", "latest_version_id",
            "version_ids", "first_version_id", "other_version_id", "started", "finished", "refers_to"}
COMPARED = ("documents", "document_versions", "active_disclosure", "requests", "appeals", "rule_results",
            "report_totals", "lawsuit_totals", "outcome_totals", "agency_year_coverage", "sections", "agencies",
            "captures", "crawl_summaries", "sources")


def dump(db: Path) -> dict[str, list | None]:
    """Each compared table's rows without run-specific columns, a version named by (agency, year, version)."""
    conn = sqlite3.connect(db)
    out = {}
    for table in COMPARED:
        cols = [r[1] for r in conn.execute(f"pragma table_info([{table}])")]
        if not cols:  # a table this build does not make (the schema grows): compared as absent
            out[table] = None
            continue
        keep = [c for c in cols if c not in VOLATILE and c not in ("version_id", "stats", "run_id")]
        select = ", ".join(f"t.[{c}]" for c in keep) or "count(*)"
        if "version_id" in cols:
            sql = (f"select v.agency, v.year, v.version, {select} from [{table}] t "
                   f"left join document_versions v on v.id = t.version_id")
        else:
            sql = f"select {select} from [{table}] t"
        out[table] = sorted(conn.execute(sql).fetchall(), key=repr)
    conn.close()
    return out


# -- tests ----------------------------------------------------------------------------------------------
def test_one_and_two_workers_every_page_once_same_archive(tmp_path, redis_server):
    """4 hosts (one with 3 columns): 1 worker, then 2 workers on fresh data dirs: every page exactly once,
    one robots.txt per host, WARC names carry the worker, the archives are equal, Redis is left empty."""
    with Hosts(tmp_path / "site", [1, 1, 1, 1, 3], reports=5, per_page=3) as hosts:
        registry = hosts.write_registry(tmp_path / "sources.yaml")
        names = sorted(s["name"] for p in hosts.portals for s in p.registry()["sources"])
        archives = {}
        for n in (1, 2):
            hosts.clear_logs()
            data = DataDir(tmp_path / f"data{n}").ensure()
            procs = [start_worker(redis_server.url, data.root, f"w{i}", concurrency=1, heartbeat=HEARTBEAT,
                                  log=tmp_path / f"w{n}-{i}.log") for i in range(n)]
            try:
                workers_up(redis_server, n)
                out = run_night(data, redis_server.url, f"run{n}", sources_file=str(registry), impolite=True,
                                heartbeat_s=HEARTBEAT, timeout_s=240)
            finally:
                stop_all(procs)
            assert out.failed == {} and out.exit_code == 0 and len(out.results) == 5
            counts = tally(hosts)
            assert counts["duplicates"] == 0 and counts["missing"] == 0 and counts["unexpected"] == 0, counts
            assert counts["robots"] == 5
            assert {r["worker"] for r in out.results.values()} == {f"w{i}" for i in range(n)}
            warcs = sorted(p.name for p in data.warcs.iterdir())
            assert len(warcs) == 7 and {w.split("-")[-2] for w in warcs} == {f"w{i}" for i in range(n)}
            assert not list((data.root / "hosts").rglob("*.open"))
            health = json.loads((data.logs / f"crawl-run{n}.json").read_text(encoding="utf-8"))
            assert sorted(h["source"] for h in health) == names and all(h["complete"] for h in health)
            assert redis_server.keys() == []  # workers stopped: nothing of the night is left
            build_archive(tmp_path / f"a{n}.db", warcs=data.warc_files(), registry_path=registry)
            archives[n] = dump(tmp_path / f"a{n}.db")
        assert len(archives[1]["document_versions"]) == 7 * 5
        assert len(archives[1]["requests"]) > 0
        for table in COMPARED:
            assert archives[1][table] == archives[2][table], table


def test_kill9_worker_mid_job_host_rerun_nothing_missing(tmp_path, redis_server):
    """A worker crawling two hosts (polite) is killed with SIGKILL; a second worker re-runs both within the
    heartbeat timeout + 5 s; every page is archived, duplicates are list pages, robots.txt or the requests
    in flight at the kill; every WARC passes `warcio check`."""
    with Hosts(tmp_path / "site", [1, 1], reports=8, per_page=4) as hosts:
        registry = hosts.write_registry(tmp_path / "sources.yaml")
        data = DataDir(tmp_path / "data").ensure()
        a = start_worker(redis_server.url, data.root, "wa", concurrency=2, heartbeat=HEARTBEAT,
                         log=tmp_path / "wa.log")
        b = None
        q = connect(redis_server.url, HEARTBEAT)
        try:
            workers_up(redis_server, 1)
            from nianbao.queue.night import plan_hosts

            plan = plan_hosts(str(registry))
            sent = dispatch(q, "night1", plan, sources_file=str(registry))
            # both crawls under way: a few report pages answered on each host
            wait_until(lambda: all(sum(1 for r in p.requests() if r.path.endswith(".html") and "/20" in r.path) >= 2
                                   for p in hosts.portals), 120, "two report pages on each host")
            b = start_worker(redis_server.url, data.root, "wb", concurrency=2, heartbeat=HEARTBEAT,
                             log=tmp_path / "wb.log")
            workers_up(redis_server, 2)
            kill_worker(a)
            killed = time.time()
            out = wait(q, "night1", sent, plan, timeout_s=240)
            finish(q, sent)
        finally:
            q.close()
            stop_all([p for p in (a, b) if p is not None])
        assert out.failed == {} and {r["worker"] for r in out.results.values()} == {"wb"}
        # each host job started again on wb within the heartbeat timeout + 5 s of the kill
        restarts = sorted(r["started"] - killed for r in out.results.values())
        assert 0 < restarts[0] and restarts[-1] <= HEARTBEAT + 5, restarts
        counts = tally(hosts)
        assert counts["missing"] == 0 and counts["unexpected"] == 0, counts
        got = hosts.fetched()
        lists = {c.column for p in hosts.portals for c in p.site.portals}
        dup_reports = [k for k, n in got.items() if n > 1 and k[1] not in lists and not k[1].endswith("index_1.html")
                       and k[1] != "/robots.txt"]
        assert len(dup_reports) <= 2 * 2, dup_reports  # at most CONCURRENT_REQUESTS_PER_DOMAIN in flight per host
        files = sorted(data.warcs.glob("*.warc.gz"))
        assert not list((data.root / "hosts").rglob("*.open"))
        assert any("-wa-" in f.name for f in files) and any("-wb-" in f.name for f in files)
        check = subprocess.run([str(Path(sys.executable).with_name("warcio")), "check", *map(str, files)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        build_archive(tmp_path / "a.db", warcs=data.warc_files(), registry_path=registry)
        conn = sqlite3.connect(tmp_path / "a.db")
        assert conn.execute("select count(*) from documents").fetchone()[0] == 16


def test_failed_host_bounded_retries_reported(tmp_path, redis_server):
    """A host whose crawler cannot run (its source unknown to the worker's registry) is tried 1 + retries
    times, then reported failed with its sources; the queue is left empty."""
    with Hosts(tmp_path / "site", [1], reports=2, per_page=2) as hosts:
        registry = hosts.write_registry(tmp_path / "sources.yaml")
        data = DataDir(tmp_path / "data").ensure()
        w = start_worker(redis_server.url, data.root, "w0", concurrency=1, heartbeat=HEARTBEAT,
                         log=tmp_path / "w0.log")
        q = connect(redis_server.url, HEARTBEAT)
        try:
            workers_up(redis_server, 1)
            plan = {hosts.host(hosts.portals[0]): ["h0s0"], "127.0.0.1:9": ["no-such-source"]}
            sent = dispatch(q, "bad", plan, sources_file=str(registry), impolite=True, retries=1, min_backoff_s=0.1)
            out = wait(q, "bad", sent, plan, timeout_s=120)
            finish(q, sent)
        finally:
            q.close()
            stop_worker(w)
        assert set(out.failed) == {"127.0.0.1:9"} and "exited 2" in out.failed["127.0.0.1:9"]
        log = (tmp_path / "w0.log").read_text()
        attempts = log.count("Failed to process message crawl_host({'host': '127.0.0.1:9'")
        assert attempts == 2  # 1 + retries, then reported
        assert out.exit_code == 1 and out.failed_sources() == {"no-such-source": "host_failed"}
        assert [h["source"] for h in out.health() if not h["complete"]] == ["no-such-source"]
        assert redis_server.keys() == []


def test_paginated_column_three_workers_four_nights_no_false_withdrawal(tmp_path, redis_server):
    """A paginated column (3 per page) whose pages shift every night, on one host among three, crawled by
    3 workers over 4 nights: only the report really removed is ever withdrawn."""
    with Hosts(tmp_path / "site", [1, 1, 1], reports=7, per_page=3) as hosts:
        registry = hosts.write_registry(tmp_path / "sources.yaml")
        data = DataDir(tmp_path / "data").ensure()
        procs = [start_worker(redis_server.url, data.root, f"w{i}", concurrency=1, heartbeat=HEARTBEAT,
                              log=tmp_path / f"w{i}.log") for i in range(3)]
        portal = hosts.portals[0]
        withdrawn, takers = [], []
        try:
            workers_up(redis_server, 3)
            for night in range(4):
                if night:  # a new report on top of the column: every page boundary moves
                    portal.add("h0s0", Report(f"new{night}", "测试市新单位", 2025, f"2026-02-0{night}",
                                              f"202602/t2026020{night}_{90000 + night}.html"))
                if night == 2:
                    portal.remove("h0s0-r3")
                out = run_night(data, redis_server.url, f"n{night}", sources_file=str(registry), impolite=True,
                                now=f"2026-03-0{night + 1}T03:00:00Z", heartbeat_s=HEARTBEAT, timeout_s=240)
                assert out.failed == {}
                takers.append(out.results[hosts.host(portal)]["worker"])
                for h in out.health():
                    withdrawn += [(night, u) for u in h.get("withdrawn") or []]
        finally:
            stop_all(procs)
        assert withdrawn == [(2, portal.base_url + "/h0s0/zfxxgknb/" + "202301/t20230104_3.html")]
        assert redis_server.keys() == []


def test_sigterm_requeues_the_running_host(tmp_path, redis_server):
    """A worker stopped (SIGTERM) mid-crawl interrupts its crawl cleanly (Scrapy keeps the JOBDIR) and its host
    goes back on the queue; the next worker resumes it: nothing missing, no report page fetched twice."""
    with Hosts(tmp_path / "site", [1], reports=8, per_page=4) as hosts:
        registry = hosts.write_registry(tmp_path / "sources.yaml")
        data = DataDir(tmp_path / "data").ensure()
        a = start_worker(redis_server.url, data.root, "wa", concurrency=1, heartbeat=HEARTBEAT,
                         log=tmp_path / "wa.log")
        b = None
        q = connect(redis_server.url, HEARTBEAT)
        try:
            workers_up(redis_server, 1)
            from nianbao.queue.night import plan_hosts

            plan = plan_hosts(str(registry))
            sent = dispatch(q, "t1", plan, sources_file=str(registry), min_backoff_s=0.5)
            portal = hosts.portals[0]
            wait_until(lambda: sum(1 for r in portal.requests() if "/20" in r.path) >= 2, 120, "two report pages")
            assert stop_worker(a) == 0
            b = start_worker(redis_server.url, data.root, "wb", concurrency=1, heartbeat=HEARTBEAT,
                             log=tmp_path / "wb.log")
            out = wait(q, "t1", sent, plan, timeout_s=240)
            finish(q, sent)
        finally:
            q.close()
            stop_all([p for p in (a, b) if p is not None])
        assert out.failed == {} and out.results[hosts.host(portal)]["worker"] == "wb"
        assert "worker stopping, crawl interrupted" in (tmp_path / "wa.log").read_text()
        counts = tally(hosts)
        assert counts["missing"] == 0 and counts["unexpected"] == 0, counts
        reports_twice = [k for k, n in hosts.fetched().items() if n > 1 and "/20" in k[1]]
        assert reports_twice == []
        assert redis_server.keys() == []
