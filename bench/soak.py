"""Soak: repeated crawl + build + serve cycles against a fault-injecting fixture portal on 127.0.0.1.

    .venv/bin/python bench/soak.py                 # --cycles 3 --reports 40: a few minutes on 2 cores

The portal starts with --reports reports; every cycle but the last publishes one new report per
fault kind and injects the faults into the fixture portal (crawler.fixture_portal) on those new
reports, so each fault meets a first fetch: a 5xx burst (2 × 503, retried within the crawl), 429 + Retry-After,
connection resets, a body cut short of its Content-Length, a Content-Type charset that lies, an
empty 200, an unknown WAF's 200 page, a redirect loop, a pagination trap (a 下一页 chain without end:
--max-list-pages stops it), one 200 MB body streamed without being held (DOWNLOAD_MAXSIZE, 64 MB, cuts
it) and a slow drip (one byte a second: DOWNLOAD_TIMEOUT, here $NIANBAO_DOWNLOAD_TIMEOUT = --timeout,
cuts it). The last cycle is the recovery: faults cleared, everything must arrive. Each cycle runs the
real commands in child processes: `nianbao crawl` (with `--now` one day later each cycle: the next
night), `nianbao build`, `nianbao serve` (requests: the reports view, a search, a report card, a
table as JSON; each must answer 200), then stops the server.

Printed per cycle and at the end: reports kept/expected, faults injected and survived (a fault is
survived when no process crashed and its report is in the archive by the end of the recovery cycle;
"in-cycle" when it was there already that cycle), portal requests, crawl/build/serve wall times, peak
RSS of each child (os.wait4) and this process's (the portal's) RSS, memory growth between the first
and the last cycle, exit codes. Exit status 1 if an expected report is missing after the recovery
cycle or any cycle crashed (a signal, a traceback, an exit code other than 0/1 from crawl — 1 is
an incomplete crawl, expected under faults — or a failed build/serve). Bounded: each child has a
time limit; the cycles are counted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nianbao.crawler.fixture_portal import FixturePortal, Report, big_site  # noqa: E402

NIANBAO = str(Path(sys.executable).with_name("nianbao"))
PER_PAGE = 10
# (label, mode, keyword arguments of FixturePortal.fault); each on its own report, rotating per cycle.
FAULTS: list[tuple[str, str, dict]] = [
    ("5xx burst (2 × 503)", "status", {"times": 2, "status": 503}),
    ("429 + Retry-After 2 s", "status", {"times": 1, "status": 429, "headers": {"Retry-After": "2"}}),
    ("connection reset", "reset", {}),
    ("truncated body", "truncate", {}),
    ("charset lie", "charset", {}),
    ("empty 200", "empty", {}),
    ("unknown WAF 200", "waf", {}),
    ("redirect loop", "loop", {}),
    ("200 MB body", "huge", {"size": 200 * 1024 * 1024}),
    ("slow drip", "drip", {"interval": 1.0}),
]


@dataclass
class Child:
    rc: int
    wall: float
    rss_mb: float
    stderr: str

    @property
    def crashed(self) -> bool:
        """A signal (other than the SIGTERM that stops a server) or a traceback."""
        return (self.rc < 0 and self.rc != -signal.SIGTERM) or "Traceback (most recent call last)" in self.stderr


@dataclass
class Cycle:
    n: int
    faulty: bool
    injected: list[tuple[str, str]] = field(default_factory=list)  # (label, report url)
    requests: int = 0
    crawl: Child | None = None
    build: Child | None = None
    serve: Child | None = None
    pages: dict[str, int] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    portal_rss_mb: float = 0.0
    problems: list[str] = field(default_factory=list)
    crawl_stats: dict = field(default_factory=dict)
    evidence: dict[str, int] = field(default_factory=dict)


# What the crawl log says when a fault was met and handled (Scrapy's and the spider's own messages).
EVIDENCE = {
    "DOWNLOAD_MAXSIZE cut": "larger than download max size",
    "data loss (truncated)": "Got data loss",
    "timeouts (drip)": "took longer than",
    "connection lost (reset)": "Connection to the other side was lost",
    "list-page cap (trap)": "list pages; not following",
    "gave up retrying": "Gave up retrying",
}


def new_report(i: int) -> Report:
    """The i-th report of big_site's pattern (a report published on the column between cycles)."""
    year = 2019 + i % 7
    return Report(f"b{i}", f"测试市第{i // 7 + 1}号单位", year, f"{year + 1}-01-{1 + i % 28:02d}",
                  f"{year + 1}01/t{year + 1}01{1 + i % 28:02d}_{100000 + i}.html")


def self_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run(cmd: list[str], log: Path, timeout: float, env: dict[str, str]) -> Child:
    """A child process with its own peak RSS (wait4's rusage); killed at `timeout`."""
    t0 = time.perf_counter()
    with open(log, "w") as err, open(log.with_suffix(".out"), "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO, env=env)
        status, usage = wait(proc, timeout)
    return Child(status, time.perf_counter() - t0, usage.ru_maxrss / 1024, log.read_text(errors="replace"))


def wait(proc: subprocess.Popen, timeout: float) -> tuple[int, os.struct_rusage]:
    end = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage
        if time.monotonic() > end:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 30) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def serve(data: Path, log: Path, env: dict[str, str], timeout: float) -> tuple[Child, dict[str, int]]:
    """Start `nianbao serve`, wait until it answers, request a few pages, stop it (SIGTERM)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db = sqlite3.connect(data / "nianbao.db")
    row = db.execute("select version_id from report_totals order by version_id limit 1").fetchone()
    db.close()
    pages = {"reports": "/nianbao/reports",
             "search 复议": "/nianbao/section_search?" + urllib.parse.urlencode({"_search": "复议"}),
             "document_versions.json": "/nianbao/document_versions.json"}
    if row:
        pages["report card"] = f"/-/report/{row[0]}"
    t0 = time.perf_counter()
    err, out = open(log, "w"), open(log.with_suffix(".out"), "w")
    proc = subprocess.Popen([NIANBAO, "serve", "--data-dir", str(data), "--port", str(port)], stdout=out,
                            stderr=err, cwd=REPO, env=env)
    end = time.monotonic() + timeout
    while get(base + "/-/versions.json", timeout=5) != 200 and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.2)
    answers = {label: get(base + path) for label, path in pages.items()}
    proc.send_signal(signal.SIGTERM)
    rc, usage = wait(proc, 30)
    err.close()
    out.close()
    return Child(rc, time.perf_counter() - t0, usage.ru_maxrss / 1024, log.read_text(errors="replace")), answers


def kept_reports(data: Path, expected: set[str]) -> set[str]:
    """Expected report URLs whose latest version in the archive is a parsed report."""
    if not (data / "nianbao.db").exists():
        return set()
    db = sqlite3.connect(data / "nianbao.db")
    try:
        rows = db.execute("select url from document_versions where is_latest = 1 and status in ('parsed', 'partial')")
        return {r[0] for r in rows} & expected
    finally:
        db.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=3, help="cycles (the last one is the recovery; ≥ 2)")
    ap.add_argument("--reports", type=int, default=40)
    ap.add_argument("--timeout", type=int, default=5, help="DOWNLOAD_TIMEOUT of the crawls (the slow drip)")
    ap.add_argument("--max-list-pages", type=int, default=30, help="the crawl's list-page cap (the trap)")
    ap.add_argument("--child-timeout", type=float, default=600, help="kill a crawl/build/serve after this")
    ap.add_argument("--keep", type=Path, default=None, help="keep the site, data and logs here")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # a long run's progress shows in a redirected log
    cycles = max(2, args.cycles)
    work = args.keep or Path(tempfile.mkdtemp(prefix="nianbao-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "logs").mkdir(exist_ok=True)
    data = work / "data"
    env = {**os.environ, "NIANBAO_DOWNLOAD_TIMEOUT": str(args.timeout), "NIANBAO_RETRY_AFTER_MAX": "10"}
    night0 = datetime.now(UTC)
    results: list[Cycle] = []
    faulted: dict[str, str] = {}  # report url -> fault label (every fault ever injected)
    with FixturePortal(work / "site", big_site(args.reports, PER_PAGE)) as portal:
        registry = portal.write_registry(work / "sources.yaml")
        keys = [f"b{i}" for i in range(args.reports)]
        print(f"soak: {cycles} cycles, {args.reports} reports, {len(FAULTS) + 1} faults per faulty cycle, at {work}")
        for c in range(1, cycles + 1):
            cyc = Cycle(c, faulty=c < cycles)
            portal.recover()
            portal.clear_log()
            if cyc.faulty:
                for label, mode, kw in FAULTS:
                    new = new_report(len(keys))
                    portal.add("bench", new)
                    keys.append(new.key)
                    portal.fault(new.key, mode, **kw)
                    cyc.injected.append((label, portal.report_url(new.key)))
                    faulted[portal.report_url(new.key)] = label
                n_pages = -(-len(keys) // PER_PAGE)
                last_list = portal.column_url("bench") + (f"index_{n_pages - 1}.html" if n_pages > 1 else "index.html")
                portal.fault(last_list[len(portal.base_url):], "trap")
                cyc.injected.append(("pagination trap", ""))
            now = (night0 + timedelta(days=c - 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            cyc.crawl = run([NIANBAO, "crawl", "--data-dir", str(data), "--sources", str(registry), "--impolite",
                             "--run-id", f"soak{c}", "--now", now, "--max-list-pages", str(args.max_list_pages)],
                            work / "logs" / f"crawl{c}.log", args.child_timeout, env)
            cyc.requests = len(portal.requests())
            expected = {portal.report_url(k) for k in keys}
            summary = data / "logs" / f"crawl-soak{c}.json"
            if summary.exists():
                cyc.crawl_stats = json.loads(summary.read_text(encoding="utf-8"))[0]["stats"]
            cyc.evidence = {k: cyc.crawl.stderr.count(v) for k, v in EVIDENCE.items() if v in cyc.crawl.stderr}
            cyc.build = run([NIANBAO, "build", "--data-dir", str(data)], work / "logs" / f"build{c}.log",
                            args.child_timeout, env)
            if cyc.build.rc == 0:
                cyc.serve, cyc.pages = serve(data, work / "logs" / f"serve{c}.log", env, min(args.child_timeout, 120))
            cyc.kept = kept_reports(data, expected)
            left_open = sorted(p.name for p in (data / "warcs").glob("*.open"))
            if left_open:  # every crawl exited: nothing may still carry the being-written name
                cyc.problems.append(f"WARC files left .open: {left_open}")
            cyc.portal_rss_mb = self_rss_mb()
            crawl_ok = cyc.crawl.rc in ((0, 1) if cyc.faulty else (0,)) and not cyc.crawl.crashed
            if not crawl_ok:
                cyc.problems.append(f"crawl exit {cyc.crawl.rc}" + (" (traceback)" if cyc.crawl.crashed else ""))
            if cyc.build.rc != 0 or cyc.build.crashed:
                cyc.problems.append(f"build exit {cyc.build.rc}: {cyc.build.stderr.strip()[-300:]}")
            if cyc.serve is None or cyc.serve.crashed or any(v != 200 for v in cyc.pages.values()) or not cyc.pages:
                cyc.problems.append(f"serve: {cyc.pages}")
            results.append(cyc)
            print_cycle(cyc, expected, portal.requests())

    final = results[-1]
    missing = expected - final.kept
    survived = sum(1 for url in faulted if url in final.kept)
    first, last = results[0], results[-1]
    print("\n== soak summary ==")
    print(f"reports kept/expected after recovery: {len(final.kept)}/{len(expected)}"
          + (f"; MISSING {sorted(missing)[:5]}" if missing else ""))
    print(f"faults injected: {sum(len(c.injected) for c in results)} over {cycles - 1} faulty cycles; "
          f"faulted reports in the archive after recovery: {survived}/{len(faulted)}")
    for label in [f[0] for f in FAULTS] + ["pagination trap"]:
        urls = [(c, url) for c in results for lab, url in c.injected if lab == label]
        in_cycle = sum(1 for c, url in urls if url in c.kept)
        after = sum(1 for c, url in urls if url in final.kept) if label != "pagination trap" else len(urls)
        own = in_cycle if label != "pagination trap" else "-"
        print(f"  {label:24} injected {len(urls)}, report kept in its own cycle {own}, "
              f"survived (kept after recovery, no crash) {after}/{len(urls)}")
    for name in ("crawl", "build", "serve"):
        a, b = getattr(first, name), getattr(last, name)
        if a and b:
            print(f"{name}: peak RSS first {a.rss_mb:.0f} MB, last {b.rss_mb:.0f} MB "
                  f"(growth {b.rss_mb - a.rss_mb:+.0f} MB); wall first {a.wall:.1f}s, last {b.wall:.1f}s")
    print(f"portal (this process) RSS: first cycle {first.portal_rss_mb:.0f} MB, last {last.portal_rss_mb:.0f} MB "
          f"(growth {last.portal_rss_mb - first.portal_rss_mb:+.0f} MB)")
    n_warcs = len(list((data / "warcs").glob("*.warc.gz")))
    print(f"WARC files: {n_warcs} closed, {len(list((data / 'warcs').glob('*.open')))} left .open")
    crashed = [c.n for c in results if c.problems]
    print(f"cycles with problems: {crashed or 'none'}")
    (work / "soak.json").write_text(json.dumps([{
        "cycle": c.n, "faulty": c.faulty, "kept": len(c.kept), "requests": c.requests, "problems": c.problems,
        **{f"{n}_{k}": getattr(getattr(c, n), k) for n in ("crawl", "build", "serve") if getattr(c, n)
           for k in ("rc", "wall", "rss_mb")}} for c in results], indent=1), encoding="utf-8")
    return 1 if missing or crashed else 0


def print_cycle(c: Cycle, expected: set[str], log: list) -> None:
    by_status: dict[int, int] = {}
    for q in log:
        by_status[q.status] = by_status.get(q.status, 0) + 1
    print(f"\n-- cycle {c.n} ({'faults' if c.faulty else 'recovery: faults cleared'}) --")
    if c.injected:
        in_cycle = [label for label, url in c.injected if url and url in c.kept]
        print(f"faults injected: {len(c.injected)}; reports in the archive this cycle despite their fault: "
              f"{len(in_cycle)} ({', '.join(in_cycle) or '-'})")
    print(f"reports kept/expected: {len(c.kept)}/{len(expected)}; portal requests {c.requests} "
          f"(by status {dict(sorted(by_status.items()))}; 0 = reset)")
    for name in ("crawl", "build", "serve"):
        ch = getattr(c, name)
        if ch:
            print(f"{name}: exit {ch.rc}, wall {ch.wall:.1f}s, peak RSS {ch.rss_mb:.0f} MB")
    st = c.crawl_stats
    print(f"crawl: list pages {st.get('list_pages')}, detail requests {st.get('detail_requests')}, "
          f"responses {st.get('responses')}, retries {st.get('retries')}, incomplete cause "
          f"{st.get('incomplete_cause')}; log evidence {c.evidence or '-'}")
    print(f"serve pages: {c.pages}; portal RSS {c.portal_rss_mb:.0f} MB; problems: {c.problems or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
