"""Per-host crawling benchmark (issue 16 point 1): `python bench/hosts.py [--quick]`.

Serves fixture portals on 127.0.0.1 (each portal its own port, so its own host), `--sources` columns of
`--reports` HTML reports per portal, writes one registry of them all and crawls it in a child process as
`nianbao crawl` does (politeness off, `--impolite`, so the figures are the crawler's own cost). One JSON
line per configuration: hosts, sources, max hosts at once, requests, robots.txt fetches, duplicates, wall
seconds, the crawl process's peak RSS (MB) and its CPU ms per request. What to read: peak RSS stays flat
as sources grow (one crawler per host, at most --max-hosts alive) and robots.txt is fetched once per host.

The polite figures (≤ 1.1 requests/s per host, smallest gap ≥ 0.5 s, 5 sources on one host) are
tests/crawler/test_host_politeness.py's; `--polite` runs one polite configuration here and prints its rate
and smallest gap from the fixture servers' logs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nianbao.crawler.fixture_portal import FixturePortal, Portal, Report, Site  # noqa: E402


def portal_site(host: int, sources: int, reports: int) -> Site:
    """`sources` static columns of `reports` HTML reports on one portal."""
    portals = []
    for d in range(sources):
        rs = [Report(f"h{host}d{d}r{r}", f"测试市第{d + 1}局", 2024 - r % 7, f"{2025 - r % 7}-01-{1 + r % 28:02d}",
                     f"{2025 - r % 7}01/t{2025 - r % 7}01{1 + r % 28:02d}_{100000 * (d + 1) + r}.html")
              for r in range(reports)]
        portals.append(Portal(name=f"h{host}-d{d}", style="static", column=f"/d{d}/zfxxgknb/", per_page=20, reports=rs))
    return Site(portals=portals)


def vm_hwm_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("VmHWM:")), 0)


def run(hosts: int, sources: int, reports: int, max_hosts: int, polite: bool, tmp: Path) -> dict:
    with ExitStack() as stack:
        portals = [stack.enter_context(FixturePortal(tmp / f"site{h}", portal_site(h, sources, reports)))
                   for h in range(hosts)]
        entries = [e for p in portals for e in p.registry()["sources"]]
        registry = tmp / "sources.yaml"
        registry.write_text(yaml.safe_dump({"sources": entries}, allow_unicode=True), encoding="utf-8")
        argv = [sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(tmp / "data"), "--sources",
                str(registry), "--max-hosts", str(max_hosts), *([] if polite else ["--impolite"])]
        t0 = time.perf_counter()
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, cwd=REPO)  # one health line per source
        peak = 0
        while True:  # VmHWM: the high-water mark of the crawl's own memory (ru_maxrss keeps the forking parent's)
            peak = max(peak, vm_hwm_kb(child.pid))
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        logs = [p.requests() for p in portals]
    requests = sum(len(log) for log in logs)
    paths = Counter((h, q.path) for h, log in enumerate(logs) for q in log)
    out = {"hosts": hosts, "sources": hosts * sources, "reports": hosts * sources * reports, "max_hosts": max_hosts,
           "polite": polite, "exit": child.returncode, "requests": requests,
           "robots": sum(n for (_, path), n in paths.items() if path == "/robots.txt"),
           "duplicates": sum(n - 1 for n in paths.values()), "wall_s": round(wall, 2),
           "peak_rss_mb": round(peak / 1024, 1),
           "cpu_ms_per_request": round(1000 * (usage.ru_utime + usage.ru_stime) / max(1, requests), 2)}
    if polite:
        gaps, rates = [], []
        for log in logs:
            times = sorted(q.time for q in log)
            gaps += [b - a for a, b in zip(times, times[1:])]
            rates.append((len(times) - 1) / (times[-1] - times[0]))
        out |= {"max_rate_per_host": round(max(rates), 3), "min_gap_s": round(min(gaps), 3)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the smaller configurations only")
    ap.add_argument("--polite", action="store_true", help="also one polite run: 2 hosts x 5 sources x 2 reports")
    args = ap.parse_args()
    configs = [(1, 5, 10, 8), (1, 50, 4, 8), (8, 5, 10, 8), (32, 5, 4, 8)]
    if not args.quick:
        configs += [(1, 200, 2, 8), (64, 5, 4, 8), (64, 5, 4, 2)]
    for hosts, sources, reports, max_hosts in configs:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run(hosts, sources, reports, max_hosts, False, Path(tmp))), flush=True)
    if args.polite:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run(2, 5, 2, 8, True, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
