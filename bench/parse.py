"""Benchmark the report parser against pandas.read_html on the same pages.

Run from the repository root (one command):

    .venv/bin/python bench/parse.py            # real pages + 2,000 generated reports
    .venv/bin/python bench/parse.py --corpus 10000 --repeat 7
    .venv/bin/python bench/parse.py --baseline HEAD~3   # before/after a change, in one run

What it measures, on one core:
- real pages (../shared/real/*.html): per page, the median over --repeat runs of a full
  `parse_report` (decode, tables, sections, checks) and of `pandas.read_html(..., flavor="lxml")`
  (table extraction only, on the same bytes decoded to text); peak traced memory (tracemalloc) of
  one parse and one read_html;
- a generated corpus of --corpus reports (parsers.render.random_report, both editions, the four
  HTML render styles in turn): total wall time and reports/s for each, and the medians per page;
- the ratio pandas/parser (> 1 means the full parse is faster than read_html's table extraction).

With --baseline REV, the parser of git revision REV (its `parsers/` package, extracted with
`git archive`) is timed as well, on the same pages, each page parsed by both in alternating order:
before/after figures that share the machine's load (others' benchmarks swing single runs by 30%).

Times are CPU seconds of this process (time.process_time), so the figures mean "on one core"
even when other work shares the machine; wall-clock totals and the load average are printed too.

Targets (docs in the brief): full parse no slower than pandas.read_html, and >= 100 reports/s for
typical pages. Figures go to stdout; nothing is asserted (timings belong here, not in tests).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from parsers import parse_report  # noqa: E402
from parsers.render import HTML_STYLES, random_report, render_report  # noqa: E402

SHARED = REPO.parent / "shared"


def pandas_tables(page: str) -> int:
    import pandas as pd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return len(pd.read_html(io.StringIO(page), flavor="lxml"))
    except ValueError:  # "No tables found"
        return 0


clock = time.process_time  # CPU time of this process: one core's work, whatever else runs


def timed(fn, arg, repeat: int) -> float:
    """Median CPU seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = clock()
        fn(arg)
        times.append(clock() - start)
    return statistics.median(times)


def load_baseline(rev: str) -> Callable:
    """parse_report of git revision `rev`, imported beside the current one.

    Its `parsers` modules are imported under their own names, then taken out of sys.modules
    again (the functions keep their module globals), so both versions run in this process.
    """
    tar = subprocess.run(["git", "-C", str(REPO), "archive", rev, "parsers"], check=True, capture_output=True).stdout
    root = tempfile.mkdtemp(prefix="nianbao-parse-baseline-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(root, filter="data")
    ours = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "parsers"}
    for name in ours:
        del sys.modules[name]
    sys.path.insert(0, root)
    try:
        return importlib.import_module("parsers").parse_report
    finally:
        sys.path.remove(root)
        for name in [name for name in sys.modules if name.split(".")[0] == "parsers"]:
            del sys.modules[name]
        sys.modules.update(ours)


def timed_pair(fns: list[Callable], arg, repeat: int, swap: bool) -> list[float]:
    """Median CPU seconds of `repeat` calls of each function, called in turn (order swapped by `swap`)."""
    times: list[list[float]] = [[] for _ in fns]
    order = list(range(len(fns)))[::-1] if swap else list(range(len(fns)))
    for _ in range(repeat):
        for i in order:
            start = clock()
            fns[i](arg)
            times[i].append(clock() - start)
    return [statistics.median(t) for t in times]


def bench_baseline(rev: str, corpus: int, seed: int, repeat: int) -> None:
    baseline = load_baseline(rev)
    fns = [baseline, parse_report]
    print(f"Baseline {rev} against the working tree, page by page in turn (CPU ms, medians)")
    real_pages = [path.read_bytes() for path in sorted((SHARED / "real").glob("*.html"))]
    pages = generated_pages(corpus, seed)
    for page in real_pages + pages[:50]:  # warm up both: imports, caches of labels and values
        for fn in fns:
            fn(page)
    real = [timed_pair(fns, page, repeat, i % 2 == 1) for i, page in enumerate(real_pages)]
    generated = [timed_pair(fns, page, 1, i % 2 == 1) for i, page in enumerate(pages)]
    for label, rows in ((f"real pages ({len(real)})", real), (f"generated ({len(generated)})", generated)):
        if not rows:
            continue
        before, after = (statistics.median(col) * 1000 for col in zip(*rows))
        total_before, total_after = (sum(col) for col in zip(*rows))
        print(f"  {label:20} {rev}: {before:6.2f} ms/report   now: {after:6.2f} ms/report   "
              f"({after / before:.2f}x; totals {total_before:.2f} s -> {total_after:.2f} s)")
    print()


def peak_kib(fn, arg) -> float:
    gc.collect()
    tracemalloc.start()
    fn(arg)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def bench_real(repeat: int) -> None:
    pages = sorted((SHARED / "real").glob("*.html"))
    if not pages:
        print(f"no real pages under {SHARED / 'real'}; skipped")
        return
    print(f"Real pages ({len(pages)}), median of {repeat} runs each")
    print(f"{'page':28} {'KiB':>6} {'status':>12} {'parse ms':>9} {'pandas ms':>10} {'ratio':>6} "
          f"{'parse peak KiB':>15} {'pandas peak KiB':>16}")
    ours, theirs = [], []
    for path in pages:
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        status = parse_report(data)["status"]
        parse_s = timed(parse_report, data, repeat)
        pandas_s = timed(pandas_tables, text, repeat)
        ours.append(parse_s)
        theirs.append(pandas_s)
        print(f"{path.name:28} {len(data) / 1024:6.0f} {status:>12} {parse_s * 1000:9.2f} {pandas_s * 1000:10.2f} "
              f"{pandas_s / parse_s:6.2f} {peak_kib(parse_report, data):15.0f} {peak_kib(pandas_tables, text):16.0f}")
    print(f"{'median':28} {'':6} {'':>12} {statistics.median(ours) * 1000:9.2f} "
          f"{statistics.median(theirs) * 1000:10.2f} {statistics.median(theirs) / statistics.median(ours):6.2f}")
    print(f"real pages: {1 / statistics.median(ours):.0f} reports/s (median page) with parse_report, "
          f"{1 / statistics.median(theirs):.0f} pages/s with pandas.read_html\n")


def generated_pages(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    pages = []
    for index in range(count):
        edition = "2019" if index % 3 == 0 else "2021"
        report = random_report(rng, year=rng.randint(2019, 2025), agency=f"测试县第{index}局", edition=edition,
                               blank_rate=rng.choice([0.0, 0.0, 0.3]))
        pages.append(render_report(report, style=HTML_STYLES[index % len(HTML_STYLES)]).encode("utf-8"))
    return pages


def bench_corpus(count: int, seed: int) -> None:
    pages = generated_pages(count, seed)
    size = sum(len(p) for p in pages) / len(pages) / 1024
    print(f"Generated corpus: {count} reports (styles {', '.join(HTML_STYLES)}; mean {size:.0f} KiB/page)")

    per_page, statuses = [], {}
    wall = time.perf_counter()
    start = clock()
    for page in pages:
        t0 = clock()
        status = parse_report(page)["status"]
        per_page.append(clock() - t0)
        statuses[status] = statuses.get(status, 0) + 1
    ours_total = clock() - start
    ours_wall = time.perf_counter() - wall

    texts = [p.decode("utf-8") for p in pages]
    pandas_per_page = []
    wall = time.perf_counter()
    start = clock()
    for text in texts:
        t0 = clock()
        pandas_tables(text)
        pandas_per_page.append(clock() - t0)
    pandas_total = clock() - start
    pandas_wall = time.perf_counter() - wall

    print(f"  parse_report    : {ours_total:7.2f} CPU s, {count / ours_total:5.0f} reports/s "
          f"(wall {ours_wall:.2f} s, {count / ours_wall:.0f}/s), median {statistics.median(per_page) * 1000:.2f} ms/page, "
          f"statuses {statuses}")
    print(f"  pandas.read_html: {pandas_total:7.2f} CPU s, {count / pandas_total:5.0f} pages/s "
          f"(wall {pandas_wall:.2f} s, {count / pandas_wall:.0f}/s), median {statistics.median(pandas_per_page) * 1000:.2f} ms/page")
    print(f"  ratio pandas/parse (median page): {statistics.median(pandas_per_page) / statistics.median(per_page):.2f}; "
          f"(total): {pandas_total / ours_total:.2f}")
    sample = pages[: min(50, len(pages))]
    peaks = [peak_kib(parse_report, page) for page in sample]
    print(f"  peak traced memory of one parse: median {statistics.median(peaks):.0f} KiB, max {max(peaks):.0f} KiB "
          f"(first {len(sample)} pages)\n")


def bench_seeds(repeat: int) -> None:
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    if not seeds:
        return
    times = [timed(parse_report, path.read_bytes(), repeat) for path in seeds]
    print(f"Text seeds ({len(seeds)}): median {statistics.median(times) * 1000:.2f} ms/report, "
          f"{1 / statistics.median(times):.0f} reports/s (pandas.read_html cannot read plain text)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=int, default=2000, help="generated reports (default 2000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per real page (default 5)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--baseline", metavar="REV",
                        help="also time the parser of git revision REV, in turn with the current one")
    args = parser.parse_args(argv)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"python {sys.version.split()[0]}, one process; {os.cpu_count()} CPUs, load average {load}\n")
    if args.baseline:
        bench_baseline(args.baseline, args.corpus, args.seed, args.repeat)
    bench_real(args.repeat)
    bench_corpus(args.corpus, args.seed)
    bench_seeds(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
