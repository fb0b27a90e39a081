"""Benchmark the archive build: `python bench/build.py` (default sizes 10000 and 100000 reports).

For each size N it generates N reports with `parsers.render.random_report` (about seven years per
agency, both template editions), renders them to HTML with `render_report`, writes them as response
records into a WARC (as the crawler would; generation is not timed), then times `build_archive`
over that WARC on one core: read WARC + parse (`parsers.parse_report`) + insert + full-text index.
It prints build time, reports/s (target ≥ 200), the parse/insert split, database size, and the
latency of Chinese searches (1-, 2-, 3- and 6-character terms and a two-term query, as Datasette
runs them) — and how each figure grows from one size to the next.

    python bench/build.py                      # 10000 and 100000
    python bench/build.py --sizes 1000 5000    # quicker
    python bench/build.py --keep DIR           # keep the generated WARCs and databases in DIR
    python bench/build.py --pre-parsed         # payloads are canonical JSON: insert path only

Without the parser (`parsers.parse_report` missing) it falls back to --pre-parsed and says so.
"""

from __future__ import annotations

import argparse
import json
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

from archive.build import build_archive  # noqa: E402
from archive.search import cjk_query, register_functions  # noqa: E402
from parsers.render import random_report, render_report  # noqa: E402

SEARCH_TERMS = ["税", "复议", "收费", "行政复", "政府信息公开", "复议 公开"]
PROVINCES = ["河南省", "福建省", "江苏省", "湖北省", "辽宁省", "广东省"]
SUFFIXES = ["人民政府办公室", "发展和改革局", "财政局", "街道办事处", "人民政府", "教育局", "税务局"]


def agency_name(i: int) -> str:
    return f"{PROVINCES[i % len(PROVINCES)]}第{i // len(SUFFIXES)}县{SUFFIXES[i % len(SUFFIXES)]}"


def generate(n: int, warc: Path, pre_parsed: bool, seed: int = 1) -> None:
    rng = random.Random(seed)
    years = list(range(2019, 2026))
    with open(warc, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for i in range(n):
            agency, year = agency_name(i // len(years)), years[i % len(years)]
            edition = "2019" if year < 2021 else "2021"
            report = random_report(rng, year=year, agency=agency, edition=edition)
            if pre_parsed:
                payload = json.dumps(report, ensure_ascii=False).encode("utf-8")
            else:
                payload = render_report(report, edition=edition).encode("utf-8")
            url = f"https://www.bench{i % 97}.gov.cn/zfxxgk/nb/{year + 1}01/t{year + 1}0115_{i}.html"
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            rec = writer.create_warc_record(url, "response", payload=BytesIO(payload), http_headers=http,
                                            warc_headers_dict={"WARC-Nianbao-Source": f"bench{i % 97}",
                                                               "WARC-Nianbao-Role": "report"})
            writer.write_record(rec)


def search_latency(db_path: Path, repeat: int = 5) -> dict[str, tuple[float, int]]:
    """Median ms for Datasette's table-page search (first page of 50 + count) on sections."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    register_functions(conn)
    out = {}
    for term in SEARCH_TERMS:
        times, count = [], 0
        for _ in range(repeat):
            t = time.perf_counter()
            where = "rowid in (select rowid from sections_fts where sections_fts match cjk_query(?))"
            conn.execute(f"select * from sections where {where} order by id limit 51", [term]).fetchall()
            count = conn.execute(f"select count(*) from sections where {where}", [term]).fetchone()[0]
            times.append((time.perf_counter() - t) * 1000)
        out[term] = (statistics.median(times), count)
    conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--keep", type=Path, help="keep WARCs and databases in this folder")
    ap.add_argument("--pre-parsed", action="store_true", help="skip the parser: payloads are canonical JSON")
    args = ap.parse_args(argv)

    parse, parser_version, pre_parsed = None, None, args.pre_parsed
    if not pre_parsed:
        try:
            from parsers import PARSER_VERSION, parse_report  # type: ignore[attr-defined]
            parse, parser_version = parse_report, str(PARSER_VERSION)
        except ImportError:
            print("parsers.parse_report is not available: measuring the insert path only (--pre-parsed)")
            pre_parsed = True
    if pre_parsed:
        parse, parser_version = (lambda data, source="": json.loads(data)), "pre-parsed"

    work = args.keep or Path(tempfile.mkdtemp(prefix="nianbao-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for n in args.sizes:
            warc = work / f"bench-{n}.warc.gz"
            t = time.perf_counter()
            generate(n, warc, pre_parsed)
            gen = time.perf_counter() - t
            db = work / f"bench-{n}.db"
            t = time.perf_counter()
            run = build_archive(db, warcs=[warc], parse=parse, parser_version=parser_version,
                                registry_path=work / "no-registry.yaml")
            seconds = time.perf_counter() - t
            stats = json.loads(run["stats"])
            size = db.stat().st_size
            lat = search_latency(db)
            r = {"n": n, "seconds": seconds, "rps": n / seconds, "parse_s": stats["parse_seconds"],
                 "size": size, "warc": warc.stat().st_size, "cells": run["n_cells"], "search": lat, "gen": gen}
            results.append(r)
            print(f"\n== {n} reports ({'pre-parsed JSON' if pre_parsed else 'rendered HTML, parser ' + parser_version})")
            print(f"  generate (not timed): {gen:.1f}s, WARC {warc.stat().st_size / 1e6:.1f} MB")
            print(f"  build: {seconds:.1f}s = {n / seconds:.0f} reports/s (target >= 200); "
                  f"parse {stats['parse_seconds']:.1f}s, read+insert+index {seconds - stats['parse_seconds']:.1f}s")
            print(f"  database: {size / 1e6:.1f} MB ({size / n / 1024:.1f} KB/report), {run['n_cells']} cells")
            for term, (ms, count) in lat.items():
                print(f"  search {term!r:<16} {ms:7.1f} ms  ({count} sections)")
            if not args.keep:
                warc.unlink()
        if len(results) > 1:
            print("\n== growth")
            for a, b in zip(results, results[1:]):
                k = b["n"] / a["n"]
                print(f"  {a['n']} -> {b['n']} (x{k:.0f}): build time x{b['seconds'] / a['seconds']:.1f}, "
                      f"db size x{b['size'] / a['size']:.1f}, search "
                      + ", ".join(f"{t!r} x{b['search'][t][0] / max(a['search'][t][0], 1e-6):.1f}"
                                  for t in SEARCH_TERMS))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
