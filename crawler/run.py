"""Run crawls in this process: `python -m nianbao.crawler.run [--source NAME | --start-url URL] …`.

The Twisted reactor cannot restart inside one process, so `nianbao crawl` and the tests run this
module as a subprocess. One Scrapy crawler per source, all in one CrawlerProcess; each source has
its own JOBDIR under DataDir.jobs (an interrupted crawl resumes from it, and it is removed once
the source's crawl completes) and its own WARC file.

Exit status: 0 every source complete; 1 some source incomplete (list page unreachable, junk
list page, interrupted); 2 bad arguments or registry.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nianbao.config import DataDir, add_data_dir_argument
from nianbao.crawler.registry import RegistryError, Source, adhoc_source, load_sources, sources_by_host


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nianbao crawl", description="Crawl report columns into WARC files.")
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The crawl options, shared by `python -m nianbao.crawler.run` and `nianbao crawl`."""
    add_data_dir_argument(p)
    p.add_argument("--sources", default=None, help="registry file (default: the bundled crawler/sources.yaml)")
    p.add_argument("--source", action="append", default=[], metavar="NAME",
                   help="crawl this registry entry (repeatable); default: every enabled, unfrozen entry")
    p.add_argument("--host", action="append", default=[], metavar="HOST",
                   help="crawl only the registry sources on this host (hostname[:port], repeatable)")
    p.add_argument("--worker-id", default=None, metavar="ID",
                   help="this crawl machine's id, carried in WARC file names (distributed crawls)")
    p.add_argument("--start-url", action="append", default=[], metavar="URL",
                   help="crawl an ad-hoc column with the generic spider (repeatable)")
    p.add_argument("--revalidate", choices=("policy", "all", "none"), default="policy",
                   help="which already-fetched detail pages to re-check (default: the rotating policy)")
    p.add_argument("--now", default=None, help="ISO time to use as 'now' for the revalidation policy (testing)")
    p.add_argument("--run-id", default=None, help="run id used in WARC file names (default: UTC time)")
    p.add_argument("--impolite", action="store_true",
                   help="loopback benchmarks only: no delay, no AutoThrottle, 16 requests per domain")
    p.add_argument("--close-after", type=int, default=0, metavar="N",
                   help="stop after N responses (simulates an interrupted crawl; resume by re-running)")
    p.add_argument("--max-list-pages", type=int, default=0, metavar="N",
                   help="per source, stop following list pages after N (a pagination trap; default 2000)")
    p.add_argument("--log-level", default="WARNING")


def to_argv(args: argparse.Namespace) -> list[str]:
    """The options in `args` as command-line words (to re-run them in a fresh process)."""
    argv: list[str] = []
    for flag, value in (("--data-dir", args.data_dir), ("--sources", args.sources), ("--revalidate", args.revalidate),
                        ("--now", args.now), ("--run-id", args.run_id), ("--log-level", args.log_level),
                        ("--worker-id", args.worker_id)):
        if value:
            argv += [flag, str(value)]
    for name in args.source:
        argv += ["--source", name]
    for host in args.host:
        argv += ["--host", host]
    for url in args.start_url:
        argv += ["--start-url", url]
    if args.impolite:
        argv.append("--impolite")
    if args.close_after:
        argv += ["--close-after", str(args.close_after)]
    if args.max_list_pages:
        argv += ["--max-list-pages", str(args.max_list_pages)]
    return argv


def select_sources(args: argparse.Namespace) -> list[Source]:
    if args.start_url:
        return [adhoc_source(u) for u in args.start_url]
    sources = load_sources(args.sources)
    if args.source:
        by_name = {s.name: s for s in sources}
        missing = [n for n in args.source if n not in by_name]
        if missing:
            raise RegistryError(f"no such source(s): {', '.join(missing)} (known: {', '.join(sorted(by_name))})")
        sources = [by_name[n] for n in args.source]
    else:
        sources = [s for s in sources if s.enabled and not s.frozen]
    hosts = getattr(args, "host", None)  # callers building a Namespace by hand may not set it
    if hosts:
        wanted = {h.lower() for h in hosts}
        sources = [s for host, group in sources_by_host(sources).items() if host in wanted for s in group]
    return sources


def crawl(args: argparse.Namespace) -> int:
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from nianbao.crawler.spiders import SPIDERS_BY_PLATFORM

    try:
        sources = select_sources(args)
    except RegistryError as exc:
        print(f"nianbao crawl: {exc}", file=sys.stderr)
        return 2
    if not sources:
        print("nianbao crawl: no enabled sources to crawl", file=sys.stderr)
        return 0
    data = DataDir.resolve(args.data_dir).ensure()
    run_id = args.run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")

    base = Settings()
    base.setmodule("nianbao.crawler.settings", priority="project")
    base.set("LOG_LEVEL", args.log_level, priority="cmdline")
    base.set("NIANBAO_WARC_DIR", str(data.warcs), priority="cmdline")
    base.set("NIANBAO_STATE_DB", str(data.crawl_state), priority="cmdline")
    base.set("NIANBAO_RUN_ID", run_id, priority="cmdline")
    base.set("NIANBAO_REVALIDATE", args.revalidate, priority="cmdline")
    if args.now:
        base.set("NIANBAO_NOW", args.now, priority="cmdline")
    if args.worker_id:
        base.set("NIANBAO_WORKER_ID", args.worker_id, priority="cmdline")
    if args.impolite:
        for key, value in {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "CONCURRENT_REQUESTS": 32,
                           "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "NIANBAO_RETRY_BACKOFF_BASE": 0}.items():
            base.set(key, value, priority="cmdline")
    if args.close_after:
        base.set("CLOSESPIDER_PAGECOUNT", args.close_after, priority="cmdline")
    if args.max_list_pages:
        base.set("NIANBAO_MAX_LIST_PAGES", args.max_list_pages, priority="cmdline")

    process = CrawlerProcess(base)
    crawlers: list[tuple[Source, Any, Path]] = []
    for source in sources:
        jobdir = data.jobs / source.name
        if jobdir.exists() and not (jobdir / "spider.state").exists():
            # Left by a crawl that was killed, not stopped: Scrapy saves spider.state only on a
            # clean close, and its request-seen file would now hide every page from the resume.
            # Start over: the crawl state still knows what was fetched, so little is re-fetched.
            print(f"{source.name}: discarding the JOBDIR of a killed crawl ({jobdir})", file=sys.stderr)
            shutil.rmtree(jobdir, ignore_errors=True)
        per_source: dict[str, Any] = {"JOBDIR": str(jobdir)}
        if not source.robots_obey:
            per_source["ROBOTSTXT_OBEY"] = False
        base_cls = SPIDERS_BY_PLATFORM.get(source.platform, SPIDERS_BY_PLATFORM["generic"])
        # Per-source settings ride on a per-source subclass (custom_settings is per class).
        cls = type(f"{base_cls.__name__}_{source.name.replace('-', '_')}", (base_cls,),
                   {"custom_settings": per_source})
        crawler = process.create_crawler(cls)
        process.crawl(crawler, source=source)
        crawlers.append((source, crawler, jobdir))
    process.start()

    status = 0
    health = []
    for source, crawler, jobdir in crawlers:
        summary = getattr(crawler.spider, "crawl_summary", None) if crawler.spider else None
        if not summary:
            health.append({"source": source.name, "complete": False, "error": "spider did not close cleanly"})
            status = 1
            continue
        s = summary["stats"]
        print(f"{source.name}: {'complete' if summary['complete'] else 'INCOMPLETE'} "
              f"reports={s['reports_listed']} fetched={len(summary['fetched'])} "
              f"unchanged={len(summary['not_modified'])} skipped={s['skipped_not_due']} "
              f"errors={len(summary['errors'])} moved={len(summary['moved'])} "
              f"withdrawn={len(summary['withdrawn'])} requests={s['requests']}")
        health.append({k: summary[k] for k in ("source", "run_id", "started", "finished", "complete",
                                                "close_reason", "stats")} |
                      {"errors": len(summary["errors"]), "withdrawn": summary["withdrawn"]})
        if summary["complete"] or summary["close_reason"] == "finished":
            shutil.rmtree(jobdir, ignore_errors=True)  # nothing pending: the next run starts fresh
        if not summary["complete"]:
            status = 1
    log = data.logs / f"crawl-{run_id}.json"
    log.write_text(json.dumps(health, ensure_ascii=False, indent=1), encoding="utf-8")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    return crawl(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
