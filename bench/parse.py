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

Documents (--documents, on by default; --documents-only skips the HTML benchmarks): the committed
PDF/DOCX/DOC/WPS/OFD/XLSX fixtures (tests/fixtures/{layout,formats,scans}, the fidelity portal's
files) and any --doc-dir: per file, CPU ms per page of the full parse (and wall ms: DOC/WPS/RTF convert in a
LibreOffice child process whose CPU this process's clock does not count) (bytes → report: through
parsers.document.parse_document when present — the one door, which converts DOC/WPS/OFD/XLSX —
else parsers.attachments + parse_report) and, for PDFs, the ratio to pdfplumber's
`page.extract_tables()` alone on every page of the same file (both open the file; medians of
--repeat runs taken in turn). Target: ratio <= 1.3. A kind the door cannot read is listed with its
status; a new kind needs only a suffix in DOC_KINDS (its converter lives in parsers/document.py).

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
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nianbao.parsers import parse_report  # noqa: E402
from nianbao.parsers.render import HTML_STYLES, random_report, render_report  # noqa: E402

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
          f"(wall {ours_wall:.2f} s, {count / ours_wall:.0f}/s), "
          f"median {statistics.median(per_page) * 1000:.2f} ms/page, "
          f"statuses {statuses}")
    print(f"  pandas.read_html: {pandas_total:7.2f} CPU s, {count / pandas_total:5.0f} pages/s "
          f"(wall {pandas_wall:.2f} s, {count / pandas_wall:.0f}/s), "
          f"median {statistics.median(pandas_per_page) * 1000:.2f} ms/page")
    print("  ratio pandas/parse (median page): "
          f"{statistics.median(pandas_per_page) / statistics.median(per_page):.2f}; "
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


# file suffix → kind shown in the table; every one goes through the same door
DOC_KINDS = {".pdf": "pdf", ".docx": "docx", ".doc": "doc", ".wps": "wps", ".rtf": "rtf", ".ofd": "ofd",
             ".xlsx": "xlsx", ".xls": "xls"}
DOC_DIRS = [REPO / "tests" / "fixtures" / d for d in ("layout", "formats", "scans")] + [
    REPO / "tests" / "crawler" / "fixtures" / "fidelity" / "files"]


def document_parser() -> Callable[[bytes, str], dict]:
    """bytes → report: the one door (parsers.document) when it exists, else the attachment converters."""
    try:
        from nianbao.parsers.document import parse_document

        return lambda data, name: parse_document(data, filename=name)
    except ImportError:
        from nianbao.parsers.attachments import attachment_to_html

        def parse(data: bytes, name: str) -> dict:
            page = attachment_to_html(data, None)
            return parse_report(page.encode("utf-8")) if page is not None else {"status": "unreadable"}
        return parse


def pdfplumber_tables(data: bytes) -> int:
    """The floor: pdfplumber's ruling analysis and cell text, every page, nothing else."""
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return sum(len(page.extract_tables()) for page in pdf.pages)


def page_count(data: bytes, kind: str) -> int:
    if kind != "pdf":
        return 1  # flowing documents have no fixed pages: figures are per document
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return len(pdf.pages)


def timed_in_turn(fns: list[Callable], arg, repeat: int) -> list[float]:
    """Median CPU seconds of each function, called in turn (order alternating), after a gc.collect():
    pdfminer makes so many objects that a collection otherwise lands on whichever call comes next
    (single ratios swung 0.7x-1.8x without it, 0.93x-1.02x with it, at load average 6)."""
    times: list[list[float]] = [[] for _ in fns]
    walls: list[float] = []
    for run in range(repeat):
        order = range(len(fns)) if run % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            gc.collect()
            start, wall = clock(), time.perf_counter()
            fns[i](arg)
            times[i].append(clock() - start)
            if i == 0:
                walls.append(time.perf_counter() - wall)
    WALL[0] = statistics.median(walls)
    return [statistics.median(t) for t in times]


WALL = [0.0]  # wall seconds (median) of the first function of the last timed_in_turn: a converter
# run as a child process (LibreOffice for DOC/WPS/RTF) spends CPU this process's clock does not see


def bench_documents(repeat: int, dirs: list[Path]) -> None:
    parse = document_parser()
    files = sorted(p for d in dirs if d.is_dir() for p in d.iterdir() if p.suffix.lower() in DOC_KINDS)
    if not files:
        print("no document fixtures found; skipped\n")
        return
    print(f"Documents ({len(files)}), CPU ms per page (per document for flowing formats), median of {repeat} runs")
    print(f"{'file':34} {'kind':>5} {'pages':>5} {'status':>12} {'parse ms/p':>10} {'wall ms/p':>9} "
          f"{'pdfplumber ms/p':>15} {'ratio':>6}")
    by_kind: dict[str, list[float]] = {}
    ratios: list[float] = []
    for path in files:
        data, kind = path.read_bytes(), DOC_KINDS[path.suffix.lower()]
        status = parse(data, path.name).get("status")  # warm: imports, caches, LibreOffice start
        pages = page_count(data, kind)
        if kind == "pdf":
            pdfplumber_tables(data)
            ours, floor = timed_in_turn([lambda d, name=path.name: parse(d, name), pdfplumber_tables], data, repeat)
            ratios.append(ours / floor)
            extra = f"{floor / pages * 1000:15.1f} {ours / floor:6.2f}"
        else:
            ours = timed_in_turn([lambda d, name=path.name: parse(d, name)], data, repeat)[0]
            extra = f"{'':>15} {'':>6}"
        by_kind.setdefault(kind, []).append(ours / pages)
        print(f"{str(path.relative_to(REPO))[-34:]:34} {kind:>5} {pages:5d} {str(status):>12} "
              f"{ours / pages * 1000:10.1f} {WALL[0] / pages * 1000:9.1f} {extra}")
    for kind, times in sorted(by_kind.items()):
        print(f"  {kind:5} median {statistics.median(times) * 1000:7.1f} ms/{'page' if kind == 'pdf' else 'doc'} "
              f"over {len(times)} file(s)")
    if ratios:
        print(f"  PDF full parse / pdfplumber extract_tables alone: median {statistics.median(ratios):.2f}x, "
              f"max {max(ratios):.2f}x (target <= 1.3x)")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=int, default=2000, help="generated reports (default 2000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per real page (default 5)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--baseline", metavar="REV",
                        help="also time the parser of git revision REV, in turn with the current one")
    parser.add_argument("--no-documents", action="store_true", help="skip the PDF/DOCX/DOC/OFD documents")
    parser.add_argument("--documents-only", action="store_true", help="only the PDF/DOCX/DOC/OFD documents")
    parser.add_argument("--doc-dir", action="append", type=Path, default=[],
                        help="another directory of documents to time (repeatable)")
    args = parser.parse_args(argv)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"python {sys.version.split()[0]}, one process; {os.cpu_count()} CPUs, load average {load}\n")
    if not args.no_documents:
        bench_documents(args.repeat, DOC_DIRS + args.doc_dir)
    if args.documents_only:
        return 0
    if args.baseline:
        bench_baseline(args.baseline, args.corpus, args.seed, args.repeat)
    bench_real(args.repeat)
    bench_corpus(args.corpus, args.seed)
    bench_seeds(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
