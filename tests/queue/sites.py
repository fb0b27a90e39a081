"""Loopback crawl sites of several hosts, a real redis-server and `nianbao worker` processes, for the
queue tests and bench/scale.py.

A host is `127.0.0.1:<port>`: each `FixturePortal` serves on its own ephemeral port, and the
registry's `sources_by_host` (like Scrapy's robots.txt and the lease) tells hosts by hostname:port.
Every request a host answered is in its server's log, so "every page exactly once" is counted on
the server side.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nianbao.crawler.fixture_portal import FixturePortal, Portal, Report, Site
from tests.ports import unused_port

REPO = Path(__file__).resolve().parents[2]


class RedisServer:
    """redis-server on a free loopback port, no persistence; ready once it answers PING."""

    def __init__(self, workdir: Path):
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = unused_port()
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        import redis

        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:  # the server's readiness, not a guess: PING answered
            try:
                if self.client.ping():
                    return
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.01)

    def keys(self) -> list[str]:
        return sorted(k.decode() for k in self.client.keys("*"))

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def column_portal(name: str, n_reports: int, per_page: int, seed: int) -> Portal:
    """One static column of `n_reports` HTML reports (distinct agencies per portal)."""
    reports = []
    for i in range(n_reports):
        year = 2019 + i % 6
        reports.append(Report(f"{name}-r{i}", f"测试市第{seed}区第{i // 6 + 1}号单位", year,
                              f"{year + 1}-01-{1 + i % 28:02d}",
                              f"{year + 1}01/t{year + 1}01{1 + i % 28:02d}_{seed * 1000 + i}.html"))
    return Portal(name=name, style="static", column=f"/{name}/zfxxgknb/", agency=f"测试市第{seed}区",
                  per_page=per_page, division_code=f"99{seed:04d}", reports=reports)


@dataclass
class Hosts:
    """Loopback hosts, host h serving `layout[h]` columns (registry sources) of `reports` reports each."""

    root: Path
    layout: list[int]
    reports: int = 20
    per_page: int = 20
    portals: list[FixturePortal] = field(default_factory=list)

    def __enter__(self) -> Hosts:
        for h, n_sources in enumerate(self.layout):
            cols = [column_portal(f"h{h}s{s}", self.reports, self.per_page, h * 10 + s) for s in range(n_sources)]
            self.portals.append(FixturePortal(self.root / f"host{h}", Site(portals=cols)).start())
        return self

    def __exit__(self, *exc: Any) -> None:
        for p in self.portals:
            p.stop()

    def host(self, portal: FixturePortal) -> str:
        return f"127.0.0.1:{portal.server.port}"

    def write_registry(self, path: Path) -> Path:
        entries = [e for p in self.portals for e in p.registry()["sources"]]
        path.write_text(yaml.safe_dump({"sources": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    def expected(self) -> set[tuple[str, str]]:
        """Every page a complete crawl must GET: robots.txt, each column's list pages, each report."""
        out = set()
        for p in self.portals:
            host = self.host(p)
            out.add((host, "/robots.txt"))
            starts = {c.column + "index.html": c.column for c in p.site.portals}  # asked as the column URL
            for path in p._meta:
                if path != "/index.html":  # the site root: no column links it
                    out.add((host, starts.get(path, path)))
        return out

    def fetched(self) -> Counter:
        """(host, path) -> GETs answered, from the servers' own logs."""
        return Counter((self.host(p), r.path) for p in self.portals for r in p.requests() if r.method == "GET")

    def min_gap(self) -> float:
        """The smallest gap between two requests to one host (server clocks), over every host."""
        gaps = []
        for p in self.portals:
            times = sorted(r.time for r in p.requests())
            gaps += [b - a for a, b in zip(times, times[1:])]
        return min(gaps) if gaps else float("inf")

    def clear_logs(self) -> None:
        for p in self.portals:
            p.clear_log()


def tally(hosts: Hosts) -> dict[str, int]:
    got, want = hosts.fetched(), hosts.expected()
    return {"requests": sum(got.values()), "distinct": len(got), "duplicates": sum(n - 1 for n in got.values()),
            "missing": len(want - set(got)), "unexpected": len(set(got) - want),
            "robots": sum(n for (h, path), n in got.items() if path == "/robots.txt")}


def start_worker(url: str, data: Path, worker_id: str, *, concurrency: int = 4, heartbeat: float = 5.0,
                 log: Path | None = None) -> subprocess.Popen:
    """`nianbao worker` in its own process group (so a kill -9 of the group is a machine lost)."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "nianbao.cli", "worker", "--queue", url, "--data-dir", str(data),
                             "--worker-id", worker_id, "--concurrency", str(concurrency),
                             "--heartbeat", str(heartbeat)],
                            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(proc: subprocess.Popen, timeout: float = 60) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


def kill_worker(proc: subprocess.Popen) -> None:
    """kill -9 of the worker process alone: its crawler children die with it (PR_SET_PDEATHSIG)."""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
