"""Hostile visitors against the published archive: what a 1-row page costs while slow ad-hoc queries
run, and how much memory oversized queries take — with the limits (nianbao.publish.limits/guard) and,
for comparison, with them lifted to what Datasette allowed before (issue 15).

    .venv/bin/python bench/hostile.py                    # both modes, 4 hostile queries
    .venv/bin/python bench/hostile.py --mode hardened --hostile 8 --data-dir data

The archive: --data-dir (any nianbao data dir), else a synthetic one (bench/synthetic.py,
--reports, cached in data/bench-hostile/<n>/). The server is the one `nianbao serve` runs, on
127.0.0.1. "before" serves the same with num_sql_threads 3 and the plugin's limits lifted through
plugins.nianbao.limits (SQLite's own maxima, no result budget or response cap, ad-hoc SQL under the
canned 10 s limit with no concurrency cap).

Measured, per mode:
- the 1-row page (/nianbao/agencies?_size=1, HTML with its facets) quiet: p50/p95 of --runs;
- the same page, fetched back to back while --hostile ad-hoc queries (a recursive count that never
  ends on its own) run: p50/p95/max and how many; the hostile queries' own times and statuses;
- memory probes: the server's peak RSS growth (VmHWM, reset before each probe), status, body size and
  time of oversized queries. In "before" mode the gigabyte blob is probed at 100 MB (the gigabyte
  took 7.6 GB peak in the issue's measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nianbao.commands.serve import datasette_command, default_metadata, prepare  # noqa: E402
from tests.ports import unused_port  # noqa: E402

PAGE = "/nianbao/agencies?_size=1"
HOSTILE = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
ROWS = "with recursive c(x) as (select 1 union all select x + 1 from c where x < {n}) "
PROBES = {
    "randomblob(1e9)": "select randomblob(1000000000)",
    "3 x randomblob(5e6)": "select randomblob(5000000), randomblob(5000000), randomblob(5000000)",
    "1000 rows x randomblob(9e5)": ROWS.format(n=1000) + "select randomblob(900000) from c",
    "sort 1e5 x randomblob(9e5)": ROWS.format(n=100000) + "select randomblob(900000) b from c order by b",
}
BEFORE_PROBES = {"randomblob(1e8) (1e9 took 7.6 GB)": "select randomblob(100000000)",
                 "3 x randomblob(5e6)": PROBES["3 x randomblob(5e6)"],
                 "1000 rows x randomblob(9e5)": PROBES["1000 rows x randomblob(9e5)"]}
LIFTED = {"value_max_bytes": 1_000_000_000, "columns_max": 2000, "sql_max_chars": 1_000_000_000,
          "result_max_bytes": 10**15, "response_max_mb": 10**6, "adhoc_time_limit_ms": 10_000,
          "adhoc_concurrency": 1000, "adhoc_queue": 1000}


def fetch(base: str, path: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, timeout=300) as resp:
            size, status = len(resp.read()), resp.status
    except urllib.error.HTTPError as err:
        size, status = len(err.read()), err.code
    return time.perf_counter() - started, status, size


def sql_path(query: str) -> str:
    return "/nianbao.json?" + urllib.parse.urlencode({"sql": query})


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[q // 5 - 1] if len(values) > 1 else values[0]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.0f}"


class Proc:
    def __init__(self, pid: int):
        self.pid = pid

    def kb(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def reset_peak(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")


def archive(args) -> Path:
    if args.data_dir:
        return Path(args.data_dir) / "nianbao.db"
    db = REPO / "data" / "bench-hostile" / str(args.reports) / "nianbao.db"
    if not db.is_file():
        from bench import synthetic

        print(f"generating {args.reports:,} synthetic reports into {db} …", flush=True)
        synthetic.build(db, args.reports)
    return db


def run_mode(mode: str, db: Path, args) -> None:
    metadata_path = default_metadata()
    settings: dict[str, str] = {}
    tmp = None
    if mode == "before":
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        metadata.setdefault("plugins", {}).setdefault("nianbao", {})["limits"] = LIFTED
        tmp = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8")
        json.dump(metadata, tmp, ensure_ascii=False)
        tmp.close()
        metadata_path = Path(tmp.name)
        settings = {"num_sql_threads": "3"}
    inspect_file = prepare(db)
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(datasette_command(db, inspect_file, metadata_path, "127.0.0.1", port, settings),
                            env={**os.environ, "NIANBAO_WARCS": str(db.parent / "warcs")}, stdout=log,
                            stderr=subprocess.STDOUT)
    server = Proc(proc.pid)
    try:
        for _ in range(600):
            try:
                fetch(base, "/-/versions.json")
                break
            except OSError:
                time.sleep(0.1)
        print(f"\n== {mode}: {fetch(base, '/-/limits.json')[1] == 200 and 'limits ' or ''}"
              f"num_sql_threads {settings.get('num_sql_threads', 6)}, "
              f"{'ad-hoc SQL 10 s, no cap' if mode == 'before' else 'ad-hoc SQL 3 s, 2 at once'} ==")
        fetch(base, PAGE)
        quiet = [fetch(base, PAGE)[0] for _ in range(args.runs)]
        print(f"1-row page quiet          p50 {ms(statistics.median(quiet))} ms  p95 {ms(pct(quiet, 95))} ms"
              f"  ({args.runs} runs)")

        hostile: list[tuple[float, int]] = []
        threads = [threading.Thread(target=lambda: hostile.append(fetch(base, sql_path(HOSTILE))[:2]))
                   for _ in range(args.hostile)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        loaded: list[float] = []
        statuses: set[int] = set()
        while any(thread.is_alive() for thread in threads):
            elapsed, status, _ = fetch(base, PAGE)
            loaded.append(elapsed)
            statuses.add(status)
        for thread in threads:
            thread.join()
        total = time.perf_counter() - started
        print(f"1-row page, {args.hostile} hostile   p50 {ms(statistics.median(loaded))} ms  "
              f"p95 {ms(pct(loaded, 95))} ms  max {ms(max(loaded))} ms  ({len(loaded)} pages, status "
              f"{sorted(statuses)}, over {total:.1f} s)")
        print("hostile queries           " + ", ".join(f"{t:.1f} s {s}" for t, s in sorted(hostile)))

        for name, query in (BEFORE_PROBES if mode == "before" else PROBES).items():
            server.reset_peak()
            rss = server.kb("VmRSS")
            elapsed, status, size = fetch(base, sql_path(query))
            grown = (server.kb("VmHWM") - rss) / 1024
            print(f"probe {name:34} {status}  {size / 1e6:9.2f} MB body  {elapsed:6.2f} s  "
                  f"peak RSS +{grown:6.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        if tmp:
            os.unlink(tmp.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("hardened", "before", "both"), default="both")
    parser.add_argument("--hostile", type=int, default=4, help="concurrent hostile ad-hoc queries (default 4)")
    parser.add_argument("--runs", type=int, default=20, help="quiet page fetches (default 20)")
    parser.add_argument("--data-dir", default=None, help="serve this data dir's nianbao.db")
    parser.add_argument("--reports", type=int, default=2000, help="synthetic archive size (default 2000)")
    args = parser.parse_args()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the server on `kill`
    db = archive(args)
    print(f"archive {db} ({db.stat().st_size / 1e6:.0f} MB); {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    for mode in (("hardened", "before") if args.mode == "both" else (args.mode,)):
        run_mode(mode, db, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
