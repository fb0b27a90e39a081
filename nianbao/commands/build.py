"""`nianbao build`: derive the archive database from the WARCs (or from report files), offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nianbao.config import DataDir, add_data_dir_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("build", help="rebuild the SQLite archive from the WARCs (or report files)",
                              description=__doc__)
    add_data_dir_argument(p)
    p.add_argument("--from-files", nargs="+", metavar="DIR", type=Path,
                   help="build from report files (folders or files) instead of <data>/warcs")
    p.add_argument("--with-warcs", action="store_true", help="with --from-files: read the WARCs too")
    p.add_argument("--db", type=Path, help="output database (default <data>/nianbao.db)")
    p.add_argument("--registry", type=Path, help="source registry (default crawler/sources.yaml)")
    p.add_argument("--jobs", type=int, default=1,
                   help="parse in this many worker processes (same result; default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from archive.build import build_archive
    from nianbao.runlock import RunLocked, run_lock

    data = DataDir.resolve(args.data_dir)
    warcs: list[Path] = []
    if not args.from_files or args.with_warcs:
        warcs = sorted(data.warcs.glob("*.warc.gz")) + sorted(data.warcs.glob("*.warc"))
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
    try:
        with run_lock(out.parent / ".build.lock"):
            run_row = build_archive(out, warcs=warcs, files=files, registry_path=args.registry,
                                    jobs=max(1, args.jobs))
    except RunLocked as exc:
        print(f"nianbao build: {exc}", file=sys.stderr)
        return 75
    except RuntimeError as exc:
        print(f"nianbao build: {exc}", file=sys.stderr)
        return 1
    print(f"built {out}: {run_row['n_documents']} documents, {run_row['n_versions']} versions, "
          f"{run_row['n_cells']} cells, {run_row['n_rule_failures']} rule failures "
          f"from {run_row['n_warc_files']} WARC files / {run_row['n_records']} records "
          f"in {run_row['seconds']:.1f}s (parser {run_row['parser_version']})")
    return 0
