"""Crawl benchmark: `python bench/crawl.py` (options: --reports N, --per-page N, --keep DIR).

Generates a 2,000-report static-pagination portal (crawler.fixture_portal.big_site: 20 reports per
list page, every report an HTML page with the national template's tables), serves it on 127.0.0.1
and crawls it with politeness off (`--impolite`: no delay, no AutoThrottle, 16 requests in flight;
robots.txt still fetched and obeyed) in a child process, as `nianbao crawl` does. Prints:

  - first crawl: requests, wall time (child process start to exit), pages/s;
  - second crawl, "the next night" (`--now` = one day later, the default revalidation policy)
    after 10 new reports appear: requests, detail-page downloads and time, each as a ratio of the
    first crawl. Target: detail downloads ≤ 10% of the first crawl's.

Revalidation policy (crawler/state.py): list pages every night; a stored report or attachment is
revalidated on its rotation day (sha1(url) mod 30 = day number mod 30, about 1/30 each night) or
when 30 days old; revalidation is a conditional GET (304 → `revisit` record) and a 200 is
digest-compared (identical → `revisit`). New reports are always fetched.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nianbao.crawler.fixture_portal import FixturePortal, Report, big_site  # noqa: E402


def crawl(data: Path, registry: Path, *extra: str) -> tuple[float, subprocess.CompletedProcess]:
    """Run one crawl in a child process; returns wall seconds (the child's CPU goes to CPU[0])."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(data),
                           "--sources", str(registry), "--impolite", *extra], capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[0] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"crawl failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}")
    return elapsed, proc


CPU = [0.0]  # CPU seconds of the last crawl's child process (loopback timings share 2 cores with the server)


def is_detail(path: str) -> bool:
    return path != "/robots.txt" and not path.endswith("/") and "/index_" not in path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=2000)
    ap.add_argument("--per-page", type=int, default=20)
    ap.add_argument("--keep", type=Path, default=None, help="keep the site and data here")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="nianbao-bench-crawl-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    portal = FixturePortal(work / "site", big_site(args.reports, args.per_page))
    print(f"generated {args.reports} reports in {time.perf_counter() - t0:.1f}s at {work}")
    with portal:
        registry = portal.write_registry(work / "sources.yaml")
        data = work / "data"

        first_time, first = crawl(data, registry, "--run-id", "bench-1")
        cpu1 = CPU[0]
        log1 = portal.requests()
        detail1 = sum(is_detail(q.path) for q in log1)
        print(f"first crawl:  {len(log1)} requests ({detail1} detail pages) in {first_time:.1f}s "
              f"= {len(log1) / first_time:.0f} pages/s; crawler CPU {CPU[0]:.1f}s "
              f"= {len(log1) / CPU[0]:.0f} pages per CPU-second   [{first.stdout.strip()}]")

        for i in range(10):
            portal.site.portals[0].reports.insert(0, Report(
                f"new{i}", f"新增单位{i}", 2025, "2026-02-01", f"202602/t20260201_{900000 + i}.html"))
        portal.rebuild()
        portal.clear_log()
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        second_time, second = crawl(data, registry, "--run-id", "bench-2", "--now", tomorrow)
        log2 = portal.requests()
        detail2 = sum(is_detail(q.path) for q in log2)
        conditional = sum(q.conditional for q in log2)
        not_modified = sum(q.status == 304 for q in log2)
        print(f"second crawl (next night, 10 new reports): {len(log2)} requests ({detail2} detail pages: "
              f"10 new + {detail2 - 10} revalidations, {conditional} conditional, {not_modified} × 304) "
              f"in {second_time:.1f}s (crawler CPU {CPU[0]:.1f}s)   [{second.stdout.strip()}]")
        print(f"ratios second/first: requests {len(log2) / len(log1):.3f}, detail downloads "
              f"{detail2 / detail1:.3f} (target ≤ 0.10), wall time {second_time / first_time:.3f}, "
              f"crawler CPU {CPU[0] / cpu1:.3f} (both include ~2 s of process start-up)")
        warcs = sorted((data / "warcs").glob("*.warc.gz"))
        print("WARC sizes: " + ", ".join(f"{w.name.split('-')[2]} {w.stat().st_size / 1e6:.1f} MB" for w in warcs))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
