"""Latency of the published archive on 100,000 reports: search, faceted table pages, canned queries.

One command:

    .venv/bin/python bench/serve.py            # --reports 100000 --runs 20 by default

The archive is synthetic and inserted directly with sqlite3 (nianbao.publish.synthetic: rows that
follow docs/schema.md, created by archive.schema, CJK-tokenised FTS by archive.search), because
parsing 100,000 rendered pages would take far longer than the thing being measured. It is cached
in data/bench-serve/<n>/ (≈ 0.55 GB per 10,000 reports) and rebuilt with --rebuild. The server
is the one `nianbao serve` runs (immutable, inspect file, the repository's metadata), on
127.0.0.1; each URL is fetched once to warm up and then --runs times in sequence. Prints p50/p95
per URL and checks the target: p95 ≤ 300 ms for search and table pages.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nianbao.commands.serve import datasette_command, default_metadata, prepare  # noqa: E402

TARGET_MS = 300


def url(path: str, **params: str) -> str:
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


def targets(metadata: dict, sample_document: str) -> list[tuple[str, str, str]]:
    """(kind, label, path): search and table pages carry the 300 ms target."""
    out = [
        ("search", "section_search 复议 (HTML)", url("/nianbao/section_search", _search="复议")),
        ("search", "section_search 收费 (JSON)", url("/nianbao/section_search.json", _search="收费")),
        ("search", "section_search 费 (1 char)", url("/nianbao/section_search", _search="费")),
        ("search", "section_search 行政复议 + facet year=2022",
         url("/nianbao/section_search", _search="行政复议", year="2022")),
        ("search", "section_search 复议 + facet level=county",
         url("/nianbao/section_search", _search="复议", level="county")),
        # The same search on the full sections rows, for comparison (no target: section_search is
        # the search page because of this).
        ("compare", "sections 复议 (full rows)", url("/nianbao/sections", _search="复议")),
        # A facet asked for from the column menu: one more pass over every hit.
        ("compare", "section_search 复议 + _facet=year", url("/nianbao/section_search", _search="复议", _facet="year")),
        ("search", "document_versions 教育局", url("/nianbao/document_versions", _search="教育局")),
        ("table", "document_versions (facets)", "/nianbao/document_versions"),
        ("table", "document_versions year=2022&edition=2021", url("/nianbao/document_versions", year="2022", edition="2021")),
        ("table", "agencies (facets)", "/nianbao/agencies"),
        ("table", "agencies province=浙江省", url("/nianbao/agencies", province="浙江省")),
        ("table", "sections (facets)", "/nianbao/sections"),
        ("table", "captures (facets)", "/nianbao/captures"),
        ("table", "rule_results (facets)", "/nianbao/rule_results"),
        ("table", "requests (one report's cells)", url("/nianbao/requests", version_id="__VERSION__")),
        ("view", "reports (view)", "/nianbao/reports"),
        ("view", "rule_failures (view)", "/nianbao/rule_failures"),
        ("view", "coverage (view)", "/nianbao/coverage"),
    ]
    queries = metadata["databases"]["nianbao"]["queries"]
    params = {"year": "", "agency": "", "rule": "", "level": "", "q": "复议", "document_id": sample_document}
    for name, q in queries.items():
        import re

        names = sorted(set(re.findall(r":(\w+)", q["sql"])))
        out.append(("canned", name, url(f"/nianbao/{name}.json", _shape="array",
                                        **{n: params.get(n, "") for n in names})))
    for name, chart in metadata["plugins"]["datasette-dashboards"]["trends"]["charts"].items():
        import re

        sql = re.sub(r"\[\[.*?\]\]", "", chart["query"])
        out.append(("chart", f"chart {name}", url("/nianbao.json", sql=sql, _shape="array")))
    return out


def materialise_derived(db_path: Path) -> list[str]:
    """A cached archive generated before a derived table existed (report_totals and outcome_totals,
    section_search) gets it now, as a build would have (tables, indexes, the views reading them);
    regenerating 100,000 reports takes far longer. Returns the tables added."""
    import sqlite_utils

    from archive.lookups import write_lookups
    from archive.schema import create_tables
    from archive.search import SEARCH_TABLE, fill_section_search
    from archive.totals import OUTCOME_TABLE, TABLE, fill_report_totals

    db = sqlite_utils.Database(db_path)
    added: list[str] = []
    try:
        def search_table(db: sqlite_utils.Database) -> None:
            write_lookups(db)
            fill_section_search(db)

        for names, fill in (((TABLE, OUTCOME_TABLE), fill_report_totals),
                            (("section_numbers", SEARCH_TABLE), search_table)):
            if all(name in db.table_names() for name in names):
                continue
            create_tables(db, names=list(names))
            fill(db)
            db.conn.commit()
            added += names
        return added
    finally:
        db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(base: str, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, timeout=120) as resp:
            resp.read()
            status = resp.status
    except urllib.error.HTTPError as err:
        err.read()
        status = err.code
    return (time.perf_counter() - started) * 1000, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--dir", default=None, help="where to keep the generated archive")
    parser.add_argument("--kinds", default="search,compare,table,view,canned,chart",
                        help="which kinds of URL to time (comma-separated; default all)")
    parser.add_argument("--metadata", default=None,
                        help="a metadata file to serve instead of the repository's (to time a variant)")
    args = parser.parse_args()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the server on `kill`

    data = Path(args.dir) if args.dir else REPO / "data" / "bench-serve" / str(args.reports)
    db = data / "nianbao.db"
    if args.rebuild or not db.is_file():
        from nianbao.publish import synthetic

        print(f"generating {args.reports:,} synthetic reports into {db} …", flush=True)
        started = time.perf_counter()
        planted = synthetic.build(db, args.reports)
        print(f"  {planted.n_reports:,} reports in {time.perf_counter() - started:.0f} s, "
              f"{db.stat().st_size / 1e9:.2f} GB", flush=True)
    added = materialise_derived(db)
    if added:
        print(f"  cached archive predates {', '.join(added)}: added (and the views reading them)", flush=True)
    started = time.perf_counter()
    inspect_file = prepare(db)
    print(f"indexes + inspect file: {time.perf_counter() - started:.1f} s")

    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        doc = conn.execute("select id from documents where n_versions > 1 limit 1").fetchone()
        version = conn.execute("select id from document_versions where is_latest = 1 limit 1").fetchone()[0]
        n_reports = conn.execute("select count(*) from document_versions where is_latest = 1").fetchone()[0]
    metadata_path = Path(args.metadata) if args.metadata else default_metadata()
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    port = free_port()
    env = {**os.environ, "NIANBAO_WARCS": str(data / "warcs")}
    log = (data / "datasette.log").open("wb")
    proc = subprocess.Popen(datasette_command(db, inspect_file, metadata_path, "127.0.0.1", port),
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                fetch(base, "/-/versions.json")
                break
            except OSError:
                time.sleep(0.1)
        print(f"\n{n_reports:,} reports; {args.runs} sequential runs per URL after one warm-up; "
              f"target p95 ≤ {TARGET_MS} ms for search and table pages\n")
        print(f"{'kind':7} {'what':48} {'cold':>8} {'p50':>8} {'p95':>8}  status")
        failures = []
        kinds = set(args.kinds.split(","))
        for kind, label, path in targets(metadata, doc[0] if doc else ""):
            if kind not in kinds:
                continue
            path = path.replace("__VERSION__", version)
            cold, status = fetch(base, path)
            times = []
            for _ in range(args.runs):
                ms, status = fetch(base, path)
                times.append(ms)
            p50 = statistics.median(times)
            p95 = statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) > 1 else times[0]
            flag = ""
            if kind in ("search", "table"):
                ok = p95 <= TARGET_MS
                flag = "ok" if ok else "SLOW"
                if not ok:
                    failures.append(label)
            print(f"{kind:7} {label[:48]:48} {cold:7.0f}ms {p50:7.0f}ms {p95:7.0f}ms  {status} {flag}", flush=True)
        print("\nall search and table pages within target" if not failures
              else f"\nover target: {', '.join(failures)}")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
