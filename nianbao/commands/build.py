"""`nianbao build`: derive the archive database from the WARCs (or from report files), offline.

By default a build adds the WARC files written since the last build to the database (the same rows a
full build gives: archive/incremental.py); it builds in full when it must (another parser, schema
or registry, a file read before changed, report files) and says why. `--full` always rebuilds.

A build takes the data lock (the one a crawl holds: it never reads a WARC being written; WARC files
named *.open or *.partial are skipped too) and checks the free space first. Exit status: 0 built,
1 failed (one line says why; the partial database is removed and nianbao.db left as it was),
2 bad arguments, 73 not enough free space (nothing written), 75 a crawl or another build holds the
lock (--wait to wait for it instead).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from nianbao.config import EXIT_NO_SPACE, DataDir, add_data_dir_argument, free_space_problem, write_problem


def register(subparsers) -> None:
    p = subparsers.add_parser("build",
                              help="add new WARCs to the SQLite archive (--full: rebuild it; or from report files)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir_argument(p)
    p.add_argument("--from-files", nargs="+", metavar="DIR", type=Path,
                   help="build from report files (folders or files) instead of <data>/warcs")
    p.add_argument("--with-warcs", action="store_true", help="with --from-files: read the WARCs too")
    p.add_argument("--db", type=Path, help="output database (default <data>/nianbao.db)")
    p.add_argument("--registry", type=Path,
                   help="source registry (default: <data>/registry.yaml, the entries this data dir's crawls used; "
                        "else crawler/sources.yaml, counting only sources a crawl summary names)")
    p.add_argument("--jobs", type=int, default=None,
                   help="parse in this many worker processes (same result; default: the machine's cores, at most 4)")
    p.add_argument("--full", action="store_true", help="rebuild from every WARC instead of adding the new ones")
    p.add_argument("--cache-mb", type=int, default=None, metavar="MB",
                   help="SQLite page cache of the build (default: 256 MB, or a quarter of a smaller machine's memory; "
                        "fixed so the build's memory does not grow with the archive)")
    p.add_argument("--wait", nargs="?", type=float, const=float("inf"), default=None, metavar="SECONDS",
                   help="wait for a running crawl or build to finish (for ever, or at most SECONDS) "
                        "instead of exiting 75")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nianbao.archive.build import build_archive, partial_path
    from nianbao.archive.sources import registry_for_build
    from nianbao.cli import describe_error
    from nianbao.runlock import RunLocked, run_lock

    data = DataDir.resolve(args.data_dir)
    warcs: list[Path] = []
    if not args.from_files or args.with_warcs:
        warcs = data.warc_files()
    files = list(args.from_files or [])
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        print(f"nianbao build: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not warcs and not files:
        print(f"nianbao build: nothing to build from: no WARC files in {data.warcs} "
              "(run `nianbao crawl`, or pass --from-files DIR)", file=sys.stderr)
        return 1
    out = args.db or data.database
    started = False
    try:
        with ExitStack() as locks:
            if warcs:  # the WARCs are not being written while they are read
                locks.enter_context(run_lock(data.lock, wait=args.wait))
            locks.enter_context(run_lock(out.parent / ".build.lock", wait=args.wait))
            problem = write_problem(out.parent)
            if problem:
                print(f"nianbao build: {problem}", file=sys.stderr)
                return 1
            problem = free_space_problem(out.parent, out, "a build")
            if problem:
                print(f"nianbao build: {problem}", file=sys.stderr)
                return EXIT_NO_SPACE
            started = True
            # the registry this data dir's crawls used (<data>/registry.yaml), unless one is given
            registry = registry_for_build(data.registry, args.registry)
            jobs = args.jobs if args.jobs is not None else min(4, os.cpu_count() or 1)
            run_row = build_archive(out, warcs=warcs, files=files, registry_path=registry, jobs=max(1, jobs),
                                    ocr_cache=data.root / "ocr_cache.db", incremental=not args.full,
                                    cache_mb=args.cache_mb)
    except RunLocked as exc:
        print(f"nianbao build: {exc} (a crawl or build is running; --wait to wait for it)", file=sys.stderr)
        return 75
    except KeyboardInterrupt:
        print(f"nianbao build: interrupted; {partial_path(out).name} removed, {out.name} left as it was",
              file=sys.stderr)
        return 130
    except Exception as exc:
        after = f"; {partial_path(out).name} removed, {out.name} left as it was" if started else ""
        print(f"nianbao build: failed: {describe_error(exc)}{after}", file=sys.stderr)
        return 1
    stats = json.loads(run_row["stats"])
    how = (f"added {run_row['n_warc_files']} new WARC files" if stats.get("incremental")
           else f"full build ({stats.get('full_because')})")
    print(f"built {out}: {run_row['n_documents']} documents, {run_row['n_versions']} versions, "
          f"{run_row['n_cells']} cells, {run_row['n_rule_failures']} rule failures "
          f"from {run_row['n_warc_files']} WARC files / {run_row['n_records']} records "
          f"in {run_row['seconds']:.1f}s (parser {run_row['parser_version']}); {how}")
    return 0
