"""Benchmark the archive build: `python bench/build.py` (default sizes 10000 and 100000 reports).

For each size N it generates N reports with `parsers.render.random_report` (about seven years per
agency, both template editions), renders them to HTML with `render_report`, writes them as response
records into a WARC (as the crawler would; generation is not timed), plus a second WARC, "one night":
N/100 new reports (the next year of the first agencies, so their carry chains are re-checked). Then,
each build in a fresh process (so its peak memory is its own):

- a full build of the N reports: wall, reports per CPU-second (all processes: the one-core rate;
  target >= 250), the parse/insert split, database size per report (target <= 45 KB), peak RSS of the
  build process and of its parse workers (target: independent of N), and Chinese search latency;
- an incremental build adding the night (1 % new reports) to that database: wall and CPU and their
  shares of the full build's (target < 10 %), and that it was incremental. The database is flushed
  to disk first (`os.sync()`, not timed): a nightly build copies a file written a day before.

    python bench/build.py                      # 10000 and 100000
    python bench/build.py --sizes 1000 5000    # quicker
    python bench/build.py --keep DIR           # keep WARCs and databases in DIR (a kept WARC is reused)
    python bench/build.py --pre-parsed         # payloads are canonical JSON: insert path only
    python bench/build.py --jobs 1             # only the single-process build (default: 1 and 2)
    python bench/build.py --cache-mb 256       # SQLite page cache of the builds (default: machine-sized)

Without the parser (`parsers.parse_report` missing) it falls back to --pre-parsed and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from nianbao.archive.build import build_archive  # noqa: E402
from nianbao.archive.search import register_functions  # noqa: E402
from nianbao.parsers.render import random_report, render_report  # noqa: E402

SEARCH_TERMS = ["税", "复议", "收费", "行政复", "政府信息公开", "复议 公开"]
PROVINCES = ["河南省", "福建省", "江苏省", "湖北省", "辽宁省", "广东省"]
SUFFIXES = ["人民政府办公室", "发展和改革局", "财政局", "街道办事处", "人民政府", "教育局", "税务局"]


def agency_name(i: int) -> str:
    return f"{PROVINCES[i % len(PROVINCES)]}第{i // len(SUFFIXES)}县{SUFFIXES[i % len(SUFFIXES)]}"


def generate(n: int, warc: Path, pre_parsed: bool, seed: int = 1, night: bool = False) -> None:
    """N reports, seven years per agency; `night`: year 2026 of agencies 0, 1, 2… (their next report)."""
    rng = random.Random(seed)
    years = list(range(2019, 2026))
    partial = warc.with_name(warc.name + ".partial")  # renamed when whole: --keep never reuses a cut-off WARC
    with open(partial, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for j in range(n):
            i = j * len(years) if night else j
            agency, year = agency_name(i // len(years)), (2026 if night else years[i % len(years)])
            edition = "2019" if year < 2021 else "2021"
            report = random_report(rng, year=year, agency=agency, edition=edition)
            if pre_parsed:
                payload = json.dumps(report, ensure_ascii=False).encode("utf-8")
            else:
                payload = render_report(report, edition=edition).encode("utf-8")
            url = f"https://www.bench{i % 97}.gov.cn/zfxxgk/nb/{year + 1}01/t{year + 1}0115_{i}_{year}.html"
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            rec = writer.create_warc_record(url, "response", payload=BytesIO(payload), http_headers=http,
                                            warc_headers_dict={"WARC-Nianbao-Source": f"bench{i % 97}",
                                                               "WARC-Nianbao-Role": "report"})
            writer.write_record(rec)
    partial.replace(warc)


def search_latency(db_path: Path, repeat: int = 5) -> dict[str, tuple[float, int]]:
    """Median ms for the search page's two statements (first page of 100 + count) on section_search,
    as Datasette runs them."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    register_functions(conn)
    out = {}
    for term in SEARCH_TERMS:
        times, count = [], 0
        for _ in range(repeat):
            t = time.perf_counter()
            where = "id in (select rowid from sections_fts where sections_fts match cjk_query(?))"
            conn.execute(f"select * from section_search where {where} order by id limit 101", [term]).fetchall()
            count = conn.execute(f"select count(*) from section_search where {where}", [term]).fetchone()[0]
            times.append((time.perf_counter() - t) * 1000)
        out[term] = (statistics.median(times), count)
    conn.close()
    return out


def child(spec: dict) -> dict:
    """One build in this (fresh) process: its figures and peak memory as a dict."""
    import resource

    parse = None
    if spec["pre_parsed"]:
        parse = lambda data, source="": json.loads(data)  # noqa: E731
    elif spec["jobs"] == 1:
        from nianbao.parsers import parse_report  # type: ignore[attr-defined]
        parse = parse_report
    rss_at = _sample_rss_by_records(spec["n_records"])
    cpu0, t = _cpu(), time.perf_counter()
    run = build_archive(Path(spec["db"]), warcs=[Path(w) for w in spec["warcs"]], parse=parse,
                        parser_version=spec["parser_version"], registry_path=Path(spec["registry"]),
                        jobs=spec["jobs"], incremental=spec["incremental"], cache_mb=spec["cache_mb"])
    seconds, cpu = time.perf_counter() - t, _cpu() - cpu0
    return {"seconds": seconds, "cpu": cpu, "stats": json.loads(run["stats"]), "n_cells": run["n_cells"],
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_at": rss_at,
            "workers_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


def _sample_rss_by_records(n: int) -> dict[int, float]:
    """RSS after each tenth of the records is read (filled during the build; the builder's `_pend` sees
    every record in order): a build whose memory grows with the archive shows a slope here."""
    from nianbao.archive.builder import ArchiveBuilder

    out: dict[int, float] = {}
    step, pend = max(1, n // 10), ArchiveBuilder._pend

    def sampling_pend(self, capture):
        pend(self, capture)
        if not self.order % step:
            out[self.order] = _rss_mb()

    ArchiveBuilder._pend = sampling_pend
    return out


def run_child(spec: dict) -> dict:
    import subprocess

    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"build failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--keep", type=Path, help="keep WARCs and databases in this folder")
    ap.add_argument("--pre-parsed", action="store_true", help="skip the parser: payloads are canonical JSON")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2],
                    help="worker processes for parsing; each size is built once per value (default 1 2)")
    ap.add_argument("--cache-mb", type=int, default=None, help="SQLite page cache (default: machine-sized)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    parser_version, pre_parsed = None, args.pre_parsed
    if not pre_parsed:
        try:
            from nianbao.parsers import PARSER_VERSION, parse_report  # type: ignore[attr-defined]  # noqa: F401
            parser_version = str(PARSER_VERSION)
        except ImportError:
            print("nianbao.parsers.parse_report is not available: measuring the insert path only (--pre-parsed)")
            pre_parsed = True
    if pre_parsed:
        parser_version = "pre-parsed"
        args.jobs = [1]  # a lambda parser cannot go to worker processes
    work = args.keep or Path(tempfile.mkdtemp(prefix="nianbao-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[int, list[dict]] = {}
    kind = "json" if pre_parsed else "html"
    try:
        for n in args.sizes:
            warc = work / f"bench-{n}-{kind}-a.warc.gz"
            night = work / f"bench-{n}-{kind}-b.warc.gz"  # sorts after: the next night's file
            t = time.perf_counter()
            for path, count, is_night in ((warc, n, False), (night, max(1, n // 100), True)):
                if args.keep and path.exists():
                    print(f"\n(reusing {path})")
                else:
                    generate(count, path, pre_parsed, seed=2 if is_night else 1, night=is_night)
            gen = time.perf_counter() - t
            what = "pre-parsed JSON" if pre_parsed else f"rendered HTML, parser {parser_version}"
            print(f"\n== {n} reports ({what})")
            print(f"  generate (not timed): {gen:.1f}s, WARC {warc.stat().st_size / 1e6:.1f} MB "
                  f"+ one night {night.stat().st_size / 1e6:.2f} MB ({max(1, n // 100)} reports)")
            for jobs in args.jobs:
                db = work / f"bench-{n}-j{jobs}.db"
                for stale in (db, db.with_name(db.name + ".building")):
                    stale.unlink(missing_ok=True)
                spec = {"db": str(db), "warcs": [str(warc)], "pre_parsed": pre_parsed, "jobs": jobs,
                        "parser_version": parser_version, "registry": str(work / "no-registry.yaml"),
                        "incremental": False, "cache_mb": args.cache_mb, "n_records": n}
                full = run_child(spec)
                seconds, cpu, stats = full["seconds"], full["cpu"], full["stats"]
                size = db.stat().st_size
                lat = search_latency(db)
                # A nightly build starts from a database written the night before, long since on disk;
                # copying a 4.8 GB file whose pages are still dirty (just written) costs 11-22 s of
                # kernel CPU instead of ~2.5 s here. Flush it first (not timed), as the day would.
                os.sync()
                inc = run_child({**spec, "warcs": [str(warc), str(night)], "incremental": True,
                                 "n_records": n + max(1, n // 100)})
                results.setdefault(jobs, []).append({"n": n, "seconds": seconds, "cpu": cpu, "size": size,
                                                     "search": lat, "rss": full["rss_mb"]})
                print(f"  jobs={jobs}: full build {seconds:.1f}s wall = {n / seconds:.0f} reports/s; "
                      f"CPU {cpu:.1f}s = {n / cpu:.0f} reports per CPU-second (one-core rate; target >= 250)")
                parse_cpu = stats["parse_seconds"]
                per = 1000 * parse_cpu / max(stats["parsed"], 1)
                print(f"    CPU split: parser {parse_cpu:.1f}s ({per:.2f} ms/report"
                      f"{' in workers' if jobs > 1 else ''}), archive (read WARC, insert, index, views) "
                      f"{cpu - parse_cpu:.1f}s ({1000 * (cpu - parse_cpu) / n:.2f} ms/report); "
                      f"load average {os.getloadavg()[0]:.1f}")
                print(f"    database: {size / 1e6:.1f} MB ({size / n / 1024:.1f} KB/report; target <= 45), "
                      f"{full['n_cells']} cells")
                print(f"    peak RSS: build process {full['rss_mb']:.0f} MB "
                      f"({1024 * full['rss_mb'] / n:.1f} KB/report), "
                      f"largest parse worker {full['workers_rss_mb']:.0f} MB")
                at = {int(k): v for k, v in full["rss_at"].items()}
                half, last = min(at, key=lambda k: abs(k - n // 2)), max(at)
                print("    RSS while reading the records (MB at each tenth): "
                      + " ".join(f"{v:.0f}" for _, v in sorted(at.items()))
                      + f"; second half {1024 * (at[last] - at[half]) / max(last - half, 1):+.2f} KB/report "
                      "(target: independent of N)")
                share, cpu_share = inc["seconds"] / seconds, inc["cpu"] / cpu
                how = "incremental" if inc["stats"]["incremental"] else f"FULL: {inc['stats']['full_because']}"
                print(f"    incremental build of one night ({inc['stats']['parsed']} new reports, {how}): "
                      f"{inc['seconds']:.1f}s wall = {100 * share:.1f} % of the full build's wall, CPU "
                      f"{inc['cpu']:.1f}s = {100 * cpu_share:.1f} % of its CPU (target < 10 %), "
                      f"peak RSS {inc['rss_mb']:.0f} MB")
                if inc["stats"].get("refreshed"):
                    r = inc["stats"]["refreshed"]
                    print(f"      derived tables refreshed for {r['dirty_agencies']} agencies, outcome years "
                          f"{r['outcome_years']}, all coverage rows: {r['all_coverage']}")
                for term, (ms, count) in lat.items():
                    print(f"    search {term!r:<16} {ms:7.1f} ms  ({count} sections)")
                if not args.keep:
                    db.unlink()
            if not args.keep:
                warc.unlink()
                night.unlink()
        for jobs, rows in results.items():
            for a, b in zip(rows, rows[1:]):
                k = b["n"] / a["n"]
                print(f"\n== growth jobs={jobs}: {a['n']} -> {b['n']} (x{k:.0f}): "
                      f"wall x{b['seconds'] / a['seconds']:.1f}, "
                      f"CPU x{b['cpu'] / a['cpu']:.1f}, db size x{b['size'] / a['size']:.1f}, "
                      f"peak RSS x{b['rss'] / a['rss']:.2f}, search "
                      + ", ".join(f"{t!r} x{b['search'][t][0] / max(a['search'][t][0], 1e-6):.1f}"
                                  for t in SEARCH_TERMS))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the parse workers)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    sys.exit(main())
