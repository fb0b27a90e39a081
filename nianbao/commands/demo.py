"""`nianbao demo`: the whole pipeline on a bundled demo portal, on this machine, offline.

Serves the demo portal (three fictitious government columns in three CMS styles, shipped in the
package: nianbao/demo/content.yaml) on 127.0.0.1, crawls it into WARCs with its own registry,
builds the archive, prints what was found (reports per agency and year, rule failures, overdue
reports), then publishes it with Datasette until Ctrl-C.

The demo's data directory is scratch: `--data-dir`, else `<$NIANBAO_DATA or ./data>/demo`. It is
marked with a `.nianbao-demo` file and reset on every run; a non-empty directory without the
mark is refused, so the demo never touches a real archive.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import date

from nianbao.commands.nightly import _date
from nianbao.config import DATA_ENV, DataDir

MARK = ".nianbao-demo"
DEFAULT_PORT = 8001


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="serve the bundled demo portal, crawl it, build, and publish",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None,
                   help=f"scratch data directory for the demo (default: <${DATA_ENV} or ./data>/demo)")
    p.add_argument("--no-serve", action="store_true", help="stop after the build (do not start Datasette)")
    p.add_argument("--serve-check", action="store_true",
                   help="start Datasette, check that its home page answers, then stop (for scripts)")
    p.add_argument("--host", default="127.0.0.1", help="Datasette address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"Datasette port (default {DEFAULT_PORT})")
    p.add_argument("--today", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="calendar date for overdue reports (default: today)")
    p.set_defaults(func=run)


def demo_dir(flag: str | None) -> DataDir:
    if flag:
        return DataDir.resolve(flag)
    return DataDir(DataDir.resolve(None).root / "demo")


def reset(data: DataDir) -> str | None:
    """Empty a demo data directory (error message when it is not one)."""
    root = data.root
    if root.exists() and any(root.iterdir()) and not (root / MARK).exists():
        return (f"{root} is not empty and was not made by `nianbao demo` (no {MARK} file); "
                "choose an empty or new --data-dir")
    for name in ("warcs", "jobs", "portal", "export"):
        shutil.rmtree(root / name, ignore_errors=True)
    for path in list(root.glob("nianbao.db*")) + list(root.glob("crawl_state.db*")) + [root / "demo-sources.yaml"]:
        if path.is_file():
            path.unlink()
    data.ensure()
    (root / MARK).write_text("scratch data directory of `nianbao demo`: reset on every run\n", encoding="utf-8")
    return None


def run(args: argparse.Namespace) -> int:
    from nianbao.archive.build import build_archive
    from nianbao.demo.portal import DemoPortal

    data = demo_dir(args.data_dir)
    problem = reset(data)
    if problem:
        print(f"nianbao demo: {problem}", file=sys.stderr)
        return 2
    from nianbao.logs import configure_logging, progress_steps

    configure_logging(data.logs / f"demo-{time.strftime('%Y%m%dT%H%M%S')}.log")
    today = args.today or date.today()
    registry = data.root / "demo-sources.yaml"
    interactive = sys.stdout.isatty()
    portal = DemoPortal(data.root / "portal").start()
    try:
        with progress_steps(interactive) as step:
            print(f"demo portal: {portal.base_url}/ (3 columns: {', '.join(portal.specs)})", flush=True)
            portal.write_registry(registry)
            done = step("crawling the demo portal into WARC files")
            # Loopback only, so no politeness delays (--impolite); every page fetched (--revalidate all).
            crawl = subprocess.run([sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(data.root),
                                    "--sources", str(registry), "--impolite", "--revalidate", "all"],
                                   capture_output=True, text=True)
            done()
            if crawl.returncode != 0:
                print(f"nianbao demo: the crawl failed (exit {crawl.returncode}):\n"
                      f"{crawl.stdout}{crawl.stderr[-3000:]}", file=sys.stderr)
                return 1
            done = step("building the archive from the WARCs")
            warcs = sorted(data.warcs.glob("*.warc.gz"))
            try:
                built = build_archive(data.database, warcs=warcs, registry_path=registry)
            except Exception as exc:  # a clear message, the WARCs stay for `nianbao build`
                print(f"nianbao demo: the build failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
            done()
        print(crawl.stdout.rstrip())
        print(f"built {data.database}: {built['n_documents']} documents, {built['n_versions']} versions, "
              f"{built['n_cells']} cells, {built['n_rule_failures']} rule failures")
        print_summary(data, today)
    finally:
        portal.stop()
    if args.no_serve:
        print(f"not serving (--no-serve); publish later with: nianbao serve --data-dir {data.root}")
        return 0
    return serve(data, args.host, args.port, check_only=args.serve_check)


def print_summary(data: DataDir, today: date) -> None:
    """Reports per agency and year, rule failures and overdue reports, as rich tables."""
    import sqlite3

    from rich.console import Console
    from rich.table import Table

    from nianbao.health import overdue_reports

    console = Console(width=None if sys.stdout.isatty() else 160)
    conn = sqlite3.connect(f"file:{data.database}?mode=ro", uri=True)
    try:
        rows = conn.execute("""select agency, year, status from reports where year is not null
                               and agency is not null order by agency, year""").fetchall()
        failures = conn.execute("""select agency, year, rule, scope, expected, printed from rule_failures
                                   where is_latest = 1 order by agency, year, rule, scope""").fetchall()
        overdue = overdue_reports(conn, today)
    finally:
        conn.close()
    years = sorted({r[1] for r in rows})
    grid: dict[str, dict[int, str]] = {}
    for agency, year, status in rows:
        grid.setdefault(agency, {})[year] = "✓" if status == "parsed" else status
    table = Table(title=f"reports found: {len(rows)} (✓ = parsed into tables)")
    table.add_column("agency")
    for y in years:
        table.add_column(str(y), justify="center")
    for agency in sorted(grid):
        table.add_row(agency, *[grid[agency].get(y, "·") for y in years])
    console.print(table)
    if failures:
        ft = Table(title=f"rule failures: {len(failures)} (reports whose numbers don't add up)")
        for col in ("agency", "year", "rule", "scope", "expected", "actual"):
            ft.add_column(col)
        for f in failures:
            ft.add_row(*[str(x) for x in f])
        console.print(ft)
    else:
        console.print("rule failures: 0")
    for o in overdue:
        console.print(f"overdue: {o['agency']} has no {o['year']} report (deadline {o['deadline']})")


def serve(data: DataDir, host: str, port: int, *, check_only: bool = False) -> int:
    """Datasette over the demo archive (the publishing engineer's command line), until Ctrl-C."""
    from nianbao.commands.serve import datasette_command, default_metadata, prepare

    metadata = default_metadata()
    inspect_file = prepare(data.database)
    cmd = datasette_command(data.database, inspect_file, metadata, host, port)
    env = {**os.environ, "NIANBAO_WARCS": str(data.warcs), "NIANBAO_DATA": str(data.root)}
    url = f"http://{host}:{port}/"
    proc = subprocess.Popen(cmd, env=env)
    try:
        ok = _wait_for(url, proc, timeout=90)
        if not ok:
            print(f"nianbao demo: Datasette did not answer at {url} (port in use? try --port)", file=sys.stderr)
            return 1
        if check_only:
            count = _count_reports(url, data.database.stem)
            print(f"Datasette answered at {url}: {count} reports in its `reports` view (--serve-check: stopping)")
            return 0 if count else 1
        print(f"\nopen {url}  (Ctrl-C to stop)", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _count_reports(url: str, database: str) -> int | None:
    """The number of reports Datasette serves (its JSON API), to check more than a home page."""
    import json
    from urllib.parse import quote

    query = f"{url}{database}.json?_shape=array&sql=" + quote("select count(*) as n from reports")
    try:
        with urllib.request.urlopen(query, timeout=10) as response:
            return int(json.loads(response.read())[0]["n"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def _wait_for(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False
