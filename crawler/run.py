"""Run crawls in this process: `python -m nianbao.crawler.run [--source NAME | --host HOST | --start-url URL] …`.

The Twisted reactor cannot restart inside one process, so `nianbao crawl` and the tests run this
module as a subprocess. Sources are grouped by host (`sources_by_host`) and each host is crawled by
one Scrapy crawler (spiders/host.py: one download slot, one robots.txt, one AutoThrottle for all its
sources), at most `--max-hosts` at once in one CrawlerProcess; beyond `--hosts-per-process` hosts, child
processes take them in batches. Each host has its own JOBDIR under DataDir.jobs (an interrupted crawl
resumes from it, and it is removed once the host's crawl finishes); each source its own WARC file and
crawl summary.

Exit status: 0 every source complete; 1 some source incomplete (list page unreachable, junk
list page, interrupted); 2 bad arguments or registry.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from nianbao import stamps
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
    p.add_argument("--max-hosts", type=int, default=8, metavar="N",
                   help="hosts crawled at once in one process (one Scrapy crawler each; default 8)")
    p.add_argument("--hosts-per-process", type=int, default=64, metavar="N",
                   help="more hosts than this are crawled by child processes, N hosts each, one after "
                        "the other (default 64; 0: all in this process)")
    p.add_argument("--batch", type=int, default=None, help=argparse.SUPPRESS)  # a child of --hosts-per-process
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
    for flag, value, default in (("--max-hosts", args.max_hosts, 8),
                                 ("--hosts-per-process", args.hosts_per_process, 64)):
        if value != default:
            argv += [flag, str(value)]
    return argv


def select_sources(args: argparse.Namespace) -> list[Source]:
    if args.start_url:
        # one ad-hoc source per name (adhoc-<host>): several columns of one host are its start URLs
        adhoc: dict[str, Source] = {}
        for url in args.start_url:
            source = adhoc_source(url)
            known = adhoc.get(source.name)
            adhoc[source.name] = replace(known, start_urls=(*known.start_urls, url)) if known else source
        return list(adhoc.values())
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

    try:
        sources = select_sources(args)
    except RegistryError as exc:
        print(f"nianbao crawl: {exc}", file=sys.stderr)
        return 2
    if not sources:
        print("nianbao crawl: no enabled sources to crawl", file=sys.stderr)
        return 0
    data = DataDir.resolve(args.data_dir).ensure()
    run_id = args.run_id or stamps.run_id()
    groups = sources_by_host(sources)
    if args.batch is None and not args.start_url and 0 < args.hosts_per_process < len(groups):
        return crawl_in_batches(args, list(groups), data, run_id)

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

    crawled = HostCrawls(CrawlerProcess(base), data, max(1, args.max_hosts))
    crawled.run(groups)
    status = 0
    health = []
    for source in sources:  # in the order asked for, whatever order the hosts ran in
        summary = crawled.summaries.get(source.name)
        if not summary:
            health.append({"source": source.name, "complete": False,
                           "error": crawled.errors.get(source.name, "spider did not close cleanly")})
            status = 1
            continue
        s = summary["stats"]
        print(f"{source.name}: {'complete' if summary['complete'] else 'INCOMPLETE'} "
              f"reports={s['reports_listed']} fetched={summary['fetched']} "
              f"unchanged={summary['not_modified']} skipped={s['skipped_not_due']} "
              f"errors={summary['errors']} moved={summary['moved']} "
              f"withdrawn={len(summary['withdrawn'])} requests={s['requests']}")
        health.append({k: summary[k] for k in HEALTH_KEYS} | {"errors": summary["errors"],
                                                              "withdrawn": summary["withdrawn"]})
        if not summary["complete"]:
            status = 1
    log = data.logs / (f"crawl-{run_id}.json" if args.batch is None else f"crawl-{run_id}.part{args.batch}.json")
    log.write_text(json.dumps(health, ensure_ascii=False, indent=1), encoding="utf-8")
    return status


def crawl_in_batches(args: argparse.Namespace, hosts: list[str], data: DataDir, run_id: str) -> int:
    """More hosts than one process should hold: child processes of `--hosts-per-process` hosts each, one
    after the other, under one run id; their health logs are merged into the run's one log. Exit status:
    the worst child's (a killed child counts as an incomplete crawl)."""
    n = args.hosts_per_process
    status = 0
    parts = []
    for k in range(0, len(hosts), n):
        child = argparse.Namespace(**vars(args))
        child.host, child.run_id, child.data_dir = hosts[k: k + n], run_id, str(data.root)
        code = subprocess.call([sys.executable, "-m", "nianbao.crawler.run", *to_argv(child), "--batch", str(k // n)])
        status = max(status, code if code >= 0 else 1)
        parts.append(data.logs / f"crawl-{run_id}.part{k // n}.json")
    health = [entry for part in parts if part.exists() for entry in json.loads(part.read_text(encoding="utf-8"))]
    (data.logs / f"crawl-{run_id}.json").write_text(json.dumps(health, ensure_ascii=False, indent=1),
                                                      encoding="utf-8")
    for part in parts:
        part.unlink(missing_ok=True)
    return status


HEALTH_KEYS = ("source", "run_id", "started", "finished", "complete", "close_reason", "stats")


def health_entry(summary: dict[str, Any]) -> dict[str, Any]:
    """What the run keeps of a source's crawl summary once its crawler is gone: the health fields and
    the counts (the URL lists stay in the WARC's summary record, so memory does not grow with them)."""
    return {k: summary[k] for k in HEALTH_KEYS} | {
        "fetched": len(summary["fetched"]), "not_modified": len(summary["not_modified"]),
        "errors": len(summary["errors"]), "moved": len(summary["moved"]), "withdrawn": summary["withdrawn"]}


def jobdir_name(host: str, group: list[Source]) -> str:
    """A host's JOBDIR under DataDir.jobs: its source's name when it has one (as when crawls were per
    source), else `host-<host>` (a port's colon made safe)."""
    return group[0].name if len(group) == 1 else "host-" + host.replace(":", "_")


class HostCrawls:
    """Crawl hosts in one process: one Scrapy crawler per host (HostSpider: one download slot, one
    robots.txt, one AutoThrottle for all the host's sources), at most `max_hosts` at once; the next
    host starts as one finishes, so memory follows `max_hosts`, not the number of sources or hosts.
    A Ctrl-C stops the running hosts (their JOBDIRs resume next run) and starts no new one."""

    def __init__(self, process: Any, data: DataDir, max_hosts: int):
        self.process, self.data, self.max_hosts = process, data, max_hosts
        self.summaries: dict[str, dict[str, Any]] = {}  # source → health_entry
        self.errors: dict[str, str] = {}  # source → why it has no summary
        self.pending: deque[tuple[str, list[Source]]] = deque()
        self.running = 0
        self.stopping = False

    def run(self, groups: dict[str, list[Source]]) -> None:
        self.pending.extend(groups.items())
        self._launch()
        if self.running:
            self.process.start(stop_after_crawl=False)  # stopped by _finished when the last host is done
        for _, group in self.pending:  # never started (interrupted)
            for source in group:
                self.errors[source.name] = "not started: the crawl was interrupted"

    def _launch(self) -> None:
        while self.pending and self.running < self.max_hosts and not self.stopping:
            host, group = self.pending.popleft()
            self._start(host, group)

    def _start(self, host: str, group: list[Source]) -> None:
        from nianbao.crawler.spiders.host import HostSpider

        jobdir = self.data.jobs / jobdir_name(host, group)
        if jobdir.exists() and not (jobdir / "spider.state").exists():
            # Left by a crawl that was killed, not stopped: Scrapy saves spider.state only on a
            # clean close, and its request-seen file would now hide every page from the resume.
            # Start over: the crawl state still knows what was fetched, so little is re-fetched.
            print(f"{jobdir.name}: discarding the JOBDIR of a killed crawl ({jobdir})", file=sys.stderr)
            shutil.rmtree(jobdir, ignore_errors=True)
        # per-host settings ride on a per-host subclass (custom_settings is per class)
        cls = type(f"HostSpider_{jobdir.name.replace('-', '_').replace('.', '_')}", (HostSpider,),
                   {"custom_settings": {"JOBDIR": str(jobdir)}})
        crawler = self.process.create_crawler(cls)
        self.running += 1
        d = self.process.crawl(crawler, sources=group)
        d.addBoth(self._finished, crawler, group, jobdir)

    def _finished(self, result: Any, crawler: Any, group: list[Source], jobdir: Path) -> None:
        self.running -= 1
        spider = crawler.spider
        done = getattr(spider, "crawl_summaries", None) or {}
        reasons = set()
        for source in group:
            if source.name in done:
                summary = done[source.name]
                self.summaries[source.name] = health_entry(summary)
                reasons.add(summary["close_reason"])
            else:
                self.errors[source.name] = f"spider did not close cleanly: {getattr(result, 'value', '')!r}"
        if reasons == {"finished"}:
            shutil.rmtree(jobdir, ignore_errors=True)  # nothing pending: the next run starts fresh
        if reasons - {"finished"} and "shutdown" in reasons:
            self.stopping = True  # Ctrl-C: Scrapy is stopping every crawler
        self._launch()
        if not self.running:
            from twisted.internet import reactor

            with contextlib.suppress(RuntimeError):  # already stopping (Ctrl-C)
                reactor.stop()


def main(argv: Sequence[str] | None = None) -> int:
    return crawl(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
