"""`nianbao serve`: publish the archive with Datasette, read-only.

Runs `datasette serve -i <data>/nianbao.db --inspect-file … --metadata datasette-metadata.json`
(immutable mode: no writes, counts from the inspect file), with the WARC directory handed to the
nianbao Datasette plugin through $NIANBAO_WARCS so archived originals open. Before serving it adds
the publishing indexes (nianbao.publish.indexes) and refreshes the inspect file when the database
is newer than it. Leave it running across rebuilds: when `nianbao build`/`nightly` renames a new
nianbao.db over the served one, the plugin serves the new file within seconds, no request failing
(nianbao.publish.fresh); no restart is needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nianbao.config import DataDir, add_data_dir_argument
from nianbao.site import metadata_path

DEFAULT_PORT = 8001
# Settings for a large read-only archive: CSV of all rows; no suggested facets (they count every
# column of a 100k-row table); facets that take longer than 300 ms are left out (an unfiltered
# 600k-row table) and appear once a search or filter narrows the rows; whole-archive aggregates
# (outcome shares, the outcomes chart) need several seconds on 100,000 reports (bench/serve.py), so
# canned queries get 10 s. For a public server (issue 15, nianbao/publish/README.md "Limits"):
# ad-hoc SQL is held to 3 s and 2 of the 6 SQL threads by the plugin's guard (nianbao.publish.guard),
# so 4 threads always serve table and canned pages; a CSV stream ends at 100 MB (Datasette's own
# default, stated here because the guard applies it in bytes too).
SETTINGS: dict[str, str] = {
    "allow_csv_stream": "on",
    "suggest_facets": "off",
    "sql_time_limit_ms": "10000",
    "facet_time_limit_ms": "300",
    "default_cache_ttl": "3600",
    "max_returned_rows": "1000",
    "num_sql_threads": "6",
    "max_csv_mb": "100",
}


def default_metadata() -> Path:
    """datasette-metadata.json: the repository's (one copy), or the wheel's packaged copy of it."""
    return metadata_path()


def datasette_command(db_path: Path, inspect_file: Path, metadata: Path, host: str, port: int,
                      extra_settings: dict[str, str] | None = None) -> list[str]:
    """The datasette command line `nianbao serve` runs (also used by the browser tests)."""
    cmd = [sys.executable, "-m", "datasette", "serve", "-i", str(db_path),
           "--inspect-file", str(inspect_file), "--metadata", str(metadata),
           "--host", host, "--port", str(port)]
    for name, value in {**SETTINGS, **(extra_settings or {})}.items():
        cmd += ["--setting", name, value]
    return cmd


def prepare(db_path: Path, *, add_indexes: bool = True) -> Path:
    """Indexes then inspect file, so the served file is never written to afterwards."""
    from nianbao.publish.indexes import ensure_publish_indexes
    from nianbao.publish.inspect import inspect_is_fresh, inspect_path, write_inspect_file

    if add_indexes:
        ensure_publish_indexes(db_path)  # a new index changes the file: the inspect check below sees it
    if not inspect_is_fresh(db_path):
        write_inspect_file(db_path)
    return inspect_path(db_path)


def run(args: argparse.Namespace) -> int:
    data = DataDir.resolve(args.data_dir)
    db_path = data.database
    if not db_path.is_file():
        print(f"nianbao serve: no archive at {db_path}; run `nianbao build` first", file=sys.stderr)
        return 2
    metadata = Path(args.metadata) if args.metadata else default_metadata()
    if not metadata.is_file():
        print(f"nianbao serve: metadata file not found: {metadata}", file=sys.stderr)
        return 2
    inspect_file = prepare(db_path, add_indexes=not args.no_indexes)
    cmd = datasette_command(db_path, inspect_file, metadata, args.host, args.port, dict(args.setting or []))
    env = {**os.environ, "NIANBAO_WARCS": str(data.warcs), "NIANBAO_DATA": str(data.root)}
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    print(f"nianbao serve: http://{args.host}:{args.port}/  (WARCs from {data.warcs})", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)  # the server replaces this process: signals go straight to it
    return 0  # pragma: no cover


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="publish the archive with Datasette (read-only, immutable mode)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir_argument(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--metadata", default=None,
                        help="Datasette metadata file (default: datasette-metadata.json of the repository)")
    parser.add_argument("--setting", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="a Datasette setting over nianbao's defaults (repeatable), e.g. "
                             "--setting sql_time_limit_ms 20000")
    parser.add_argument("--no-indexes", action="store_true",
                        help="do not add the publishing indexes to the database before serving")
    parser.add_argument("--dry-run", action="store_true",
                        help="prepare the inspect file and print the datasette command instead of running it")
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    """`python -m nianbao.commands.serve …`: the same command without loading the other subcommands."""
    parser = argparse.ArgumentParser(prog="nianbao")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
