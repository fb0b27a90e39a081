"""The host spider: every registry source on one host, crawled by one Scrapy crawler.

Why: politeness is owed to a host, not to a column. Five sources on one portal crawled by five
crawlers got five download slots, five robots.txt fetches and five AutoThrottles: 4 requests/s under
"1 request/s" settings. One crawler per host gives the host one download slot (DOWNLOAD_DELAY and
AutoThrottle apply to all its sources together), one robots.txt and one JOBDIR, while each source
keeps its own bookkeeping: its *walk* is a platform spider (`column`, `trs`) that is not run by a
crawler of its own but driven from here. Every request a walk makes is adopted: it carries its
source in `meta["nianbao_source"]` (the WARC capture files it in that source's WARC, crawler/extensions.py)
and its callback becomes this spider's method of the same name, which hands the response back to the
walk. Callbacks stay methods of the running spider, so Scrapy's JOBDIR queue can still serialise
them and an interrupted host resumes. Summaries, withdrawals and moves are each walk's own, exactly
as when a source is crawled alone (`scrapy crawl column -a source=NAME`).

Per-source request figures (`stats.requests`, `responses`, `bytes`, `retries` in the crawl summary)
are counted here from the downloader's signals as Scrapy's DownloaderStats counts them for a whole
crawler; robots.txt, which no source asked for, counts for the host's first source (whose WARC also
keeps it, the capture's default).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any

import scrapy
from scrapy import signals
from scrapy.downloadermiddlewares.stats import get_header_size, get_status_size
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request, Response

from nianbao.crawler.extensions import capture_error
from nianbao.crawler.registry import Source, load_sources, source_host, sources_by_host
from nianbao.crawler.spiders.column import ERROR_STATUSES, ColumnSpider
from nianbao.crawler.state import CrawlState

# The callbacks a walk gives its requests; each is routed back to the walk that made the request.
ROUTED = ("parse_list", "parse_search_api", "parse_report", "parse_attachment", "on_error")


def walk_class(source: Source) -> type[ColumnSpider]:
    """The platform spider that walks `source` (the generic one for an unknown platform)."""
    from nianbao.crawler.spiders import SPIDERS_BY_PLATFORM

    return SPIDERS_BY_PLATFORM.get(source.platform, SPIDERS_BY_PLATFORM["generic"])


def host_sources(host: str, registry: str | None = None) -> list[Source]:
    """`scrapy crawl host -a host=H`: the enabled, unfrozen registry sources on host H."""
    sources = [s for s in load_sources(registry) if s.enabled and not s.frozen]
    groups = sources_by_host(sources)
    if host.lower() not in groups:
        raise ValueError(f"no enabled registry source on host {host!r} (hosts: {', '.join(groups)})")
    return groups[host.lower()]


class HostSpider(scrapy.Spider):
    """One host's sources in one crawler: `sources` (what the WARC capture reads), one walk each."""

    name = "host"
    handle_httpstatus_list = ERROR_STATUSES

    def __init__(self, sources: Iterable[Source] | None = None, host: str | None = None,
                 registry: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if sources is None:
            if not host:
                raise ValueError("HostSpider needs sources= (registry entries on one host) or host=")
            sources = host_sources(host, registry)
        self.sources = list(sources)
        if not self.sources:
            raise ValueError("HostSpider needs at least one source")
        hosts = {source_host(s) for s in self.sources}
        if len(hosts) != 1:
            raise ValueError(f"HostSpider crawls one host; got {', '.join(sorted(hosts))}")
        self.host = hosts.pop()
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"HostSpider: a source name twice on {self.host}: {', '.join(names)}")
        self.walks: dict[str, ColumnSpider] = {s.name: walk_class(s)(source=s) for s in self.sources}
        self.start_urls = [u for s in self.sources for u in s.start_urls]
        self.allowed_domains = sorted({d for s in self.sources for d in s.domains})
        self.state: dict[str, Any] = {}
        self.counts: dict[str, Counter[str]] = {name: Counter() for name in self.walks}
        self.crawl_db: CrawlState | None = None
        self.crawl_summaries: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> HostSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if not any(s.robots_obey for s in spider.sources):  # else per request: adopt() marks those that ignore
            crawler.settings.set("ROBOTSTXT_OBEY", False, priority="spider")
        spider.crawl_db = CrawlState(crawler.settings.get("NIANBAO_STATE_DB"))  # one connection for the host
        for name, walk in spider.walks.items():
            # not walk._set_crawler(): its spider_closed hook would close this spider once per walk
            walk.crawler, walk.settings = crawler, crawler.settings
            walk.bind(crawler.settings, spider.crawl_db)
            walk.adopt = lambda request, name=name: spider.adopt(name, request)  # type: ignore[method-assign]
            walk.request_stats = lambda name=name: spider.source_stats(name)  # type: ignore[method-assign]
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._on_capture_error, signal=capture_error)
        crawler.signals.connect(spider._on_request, signal=signals.request_reached_downloader)
        crawler.signals.connect(spider._on_response, signal=signals.response_downloaded)
        crawler.signals.connect(spider._on_scheduled, signal=signals.request_scheduled)
        return spider

    # -- routing ----------------------------------------------------------------------------------
    def adopt(self, name: str, request: Request) -> Request:
        """Make a walk's request this spider's: its source in meta, its callbacks routed back here."""
        request.meta["nianbao_source"] = name
        if not self.walks[name].source.robots_obey:
            request.meta["dont_obey_robotstxt"] = True  # the registry's written reason is for this source only
        for attr in ("callback", "errback"):
            fn = getattr(request, attr)
            if fn is not None and getattr(fn, "__name__", "") in ROUTED and getattr(fn, "__self__", None) is not self:
                setattr(request, attr, getattr(self, fn.__name__))
        return request

    def _walk_of(self, request: Request | Response) -> tuple[str, ColumnSpider]:
        """The walk a request (or a response, by its request's meta) belongs to; robots.txt: the first."""
        name = request.meta.get("nianbao_source") or next(iter(self.walks))
        return name, self.walks[name]

    def _route(self, method: str, response: Response) -> Any:
        name, walk = self._walk_of(response)
        out = getattr(walk, method)(response)
        if out is None:
            return None
        return (self.adopt(name, r) if isinstance(r, Request) else r for r in out)

    def parse_list(self, response: Response) -> Any:
        return self._route("parse_list", response)

    def parse_search_api(self, response: Response) -> Any:
        return self._route("parse_search_api", response)

    def parse_report(self, response: Response) -> Any:
        return self._route("parse_report", response)

    def parse_attachment(self, response: Response) -> Any:
        return self._route("parse_attachment", response)

    def on_error(self, failure: Any) -> None:
        _, walk = self._walk_of(failure.request)
        walk.on_error(failure)

    async def start(self) -> AsyncIterator[Any]:
        for name, walk in self.walks.items():
            # SpiderState (JOBDIR) restored self.state on spider_opened: each walk's part of it
            walk.state = self.state.setdefault(name, {})
            async for request in walk.start():
                yield self.adopt(name, request) if isinstance(request, Request) else request

    # -- signals ----------------------------------------------------------------------------------
    def _on_idle(self, spider: Any) -> None:
        """The host is idle, so every column is exhausted: each walk checks its vanished reports."""
        if spider is not self:
            return
        busy = False
        for walk in self.walks.values():
            try:
                walk._on_idle(walk)
            except DontCloseSpider:
                busy = True
        if busy:
            raise DontCloseSpider

    def _on_capture_error(self, url: str, status: int | None, cls: str, role: str | None, source: str) -> None:
        walk = self.walks.get(source)
        if walk is not None:
            walk.note_error(url, status, cls, role)

    def _count_for(self, request: Request) -> Counter[str]:
        return self.counts[self._walk_of(request)[0]]

    def _on_request(self, request: Request, spider: Any) -> None:
        if spider is self:
            self._count_for(request)["requests"] += 1

    def _on_response(self, response: Response, request: Request, spider: Any) -> None:
        if spider is self:
            c = self._count_for(request)
            c["responses"] += 1
            c["bytes"] += (len(response.body) + get_header_size(response.headers)
                           + get_status_size(response.status) + 4)  # as DownloaderStats counts

    def _on_scheduled(self, request: Request, spider: Any) -> None:
        n = request.meta.get("retry_times", 0)
        if spider is self and n and request.meta.get("nianbao_retry_counted") != n:
            request.meta["nianbao_retry_counted"] = n  # a redirect of a retried request copies meta
            self._count_for(request)["retries"] += 1

    def source_stats(self, name: str) -> dict[str, int]:
        """A walk's share of the crawler's figures, under DownloaderStats' and RetryMiddleware's names."""
        c = self.counts[name]
        return {"downloader/request_count": c["requests"], "downloader/response_count": c["responses"],
                "downloader/response_bytes": c["bytes"], "retry/count": c["retries"]}

    def closed(self, reason: str) -> None:
        for name, walk in self.walks.items():
            walk.closed(reason)
            summary = getattr(walk, "crawl_summary", None)
            if summary is not None:
                self.crawl_summaries[name] = summary
        if self.crawl_db is not None:
            self.crawl_db.close()
            self.crawl_db = None
