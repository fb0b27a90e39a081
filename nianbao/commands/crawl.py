"""`nianbao crawl`: fetch report columns into WARC files (incremental, polite, resumable).

Runs the Scrapy crawl (`python -m nianbao.crawler.run`) in a child process, because the Twisted reactor
cannot restart inside one process (so `nianbao demo` can crawl twice). It holds the data lock a build
takes too (a build never reads a WARC being written) and checks the free space first. Exit status:
0 every source complete, 1 some source incomplete, 2 bad arguments or registry, 73 not enough free
space (nothing fetched), 75 another crawl or a build running.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from nianbao.config import EXIT_NO_SPACE, DataDir, free_space_problem


def register(subparsers) -> None:
    from nianbao.crawler.run import add_arguments

    p = subparsers.add_parser("crawl", help="crawl report columns into WARC files", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nianbao.archive.build import remove_partial
    from nianbao.crawler.run import to_argv
    from nianbao.runlock import RunLocked, run_lock

    data = DataDir.resolve(args.data_dir).ensure()
    args.data_dir = str(data.root)
    try:
        with run_lock(data.lock):
            # no build runs while the lock is held: a partial database is a killed build's, free its space
            for stale in remove_partial(data.database):
                print(f"nianbao crawl: removed {stale.name}, left by an interrupted build", file=sys.stderr)
            problem = free_space_problem(data.root, data.database, "a crawl and the build after it")
            if problem:
                print(f"nianbao crawl: {problem}", file=sys.stderr)
                return EXIT_NO_SPACE
            record_registry(data, args.sources, args.source, args.start_url)
            return subprocess.call([sys.executable, "-m", "nianbao.crawler.run", *to_argv(args)])
    except RunLocked as exc:
        print(f"nianbao crawl: {exc} (a crawl or build is running)", file=sys.stderr)
        return 75


def record_registry(data: DataDir, sources: str | None, names: list[str] | tuple[str, ...],
                    start_urls: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Store the registry entries this crawl fetches in <data>/registry.yaml (archive.sources.record_crawled):
    the named sources, else every enabled, unfrozen one of the registry, plus ad-hoc --start-url
    columns. A registry the crawler will refuse records nothing (the crawl says why)."""
    from nianbao.archive.sources import record_crawled
    from nianbao.registry import RegistryError, adhoc_source, load_sources

    try:
        if start_urls:
            adhoc = [adhoc_source(u) for u in start_urls]
            return record_crawled(data.registry, None, [], [
                {"name": s.name, "start_urls": list(s.start_urls), "note": s.note} for s in adhoc])
        registry = load_sources(sources)
        chosen = list(names) or [s.name for s in registry if s.enabled and not s.frozen]
        return record_crawled(data.registry, sources, chosen)
    except (RegistryError, OSError) as exc:
        print(f"nianbao crawl: registry not recorded in {data.registry}: {exc}", file=sys.stderr)
        return []
