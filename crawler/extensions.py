"""WARC capture as a Scrapy extension that owns its files (Kingfisher Collect's FilesStore pattern).

`WarcCapture.from_crawler` builds everything from settings (NIANBAO_WARC_DIR, NIANBAO_STATE_DB,
NIANBAO_RUN_ID/NIANBAO_NOW, NIANBAO_WORKER_ID) and Scrapy's signals open and close it: on
`spider_opened` it opens its own connection to the crawl state, and for each source the spider crawls
it first reconciles a killed crawl's files (crawler/reconcile.py) and then opens one `WarcRecorder`
(`….warc.gz.open` until closed); on the `crawl_summary` signal, which the spider sends when it has
summed up a source, it writes the summary record, closes that file (rename to `….warc.gz`) and marks it
checked; on `spider_closed` it closes whatever is still open (without a summary: the next crawl of the
source reconciles it like a killed crawl's). The downloader middleware
(crawler/middlewares.WarcCaptureMiddleware) asks it for the recorder of each request.

What it reads of the spider is its identity, as Kingfisher's extensions read `spider.name`: `source`
(a registry `Source`), or `sources` for a spider that walks several; a request names its source in
`meta["nianbao_source"]` when the spider has several (otherwise, and for requests Scrapy makes itself —
robots.txt — the first source's file). Nothing the spider builds is reached into.

Signals (module-level objects, as Scrapy's own): `crawl_summary(source, summary)` spider → capture;
`capture_error(url, status, cls, role, source)` capture → spider, for what the spider never sees (a redirect
loop, which Scrapy's dupefilter drops silently).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import scrapy
from scrapy import signals

from nianbao import __version__, stamps
from nianbao.crawler.reconcile import mark_checked, reconcile
from nianbao.crawler.state import CrawlState, parse_iso, utcnow
from nianbao.crawler.warc import WarcRecorder, safe_worker_id

log = logging.getLogger(__name__)

crawl_summary = object()  # spider → capture: a source is summed up (kwargs source: str, summary: dict)
capture_error = object()  # capture → spider: an error only the capture saw (url, status, cls, role, source)

# Settings recorded in every warcinfo record (how the pages were asked for).
RECORDED_SETTINGS = ("ROBOTSTXT_OBEY", "AUTOTHROTTLE_ENABLED", "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_DELAY",
                     "RETRY_TIMES", "DOWNLOAD_TIMEOUT", "DOWNLOAD_MAXSIZE", "NIANBAO_REVALIDATE",
                     "NIANBAO_CYCLE_DAYS", "JOBDIR")


def run_clock(settings: Any) -> tuple[datetime, str]:
    """The crawl's "now" (NIANBAO_NOW, for tests and the benchmark's next night) and run id (NIANBAO_RUN_ID,
    else that time): one derivation for the spider's bookkeeping and the capture's file names."""
    text = settings.get("NIANBAO_NOW")
    now = parse_iso(text) if text else utcnow()
    return now, settings.get("NIANBAO_RUN_ID") or stamps.run_id(now)


def spider_sources(spider: Any) -> list[Any]:
    """The registry sources a spider crawls (its identity): `sources` when it walks several, else `source`."""
    several = getattr(spider, "sources", None)
    if several:
        return list(several)
    one = getattr(spider, "source", None)
    return [one] if one is not None else []


class WarcCapture:
    """Owner of the crawl's WARC files and of the capture's connection to the crawl state."""

    def __init__(self, crawler: Any):
        s = crawler.settings
        self.crawler = crawler
        self.directory = Path(s.get("NIANBAO_WARC_DIR"))
        self.state_path = s.get("NIANBAO_STATE_DB")
        self.worker_id = safe_worker_id(s.get("NIANBAO_WORKER_ID"))
        self.run_id = run_clock(s)[1]
        self.state: CrawlState | None = None
        self.recorders: dict[str, WarcRecorder] = {}
        self.default: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarcCapture:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.source_summed_up, signal=crawl_summary)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    @classmethod
    def of(cls, crawler: Any) -> WarcCapture | None:
        """The crawler's capture extension (None when EXTENSIONS disables it)."""
        return next((m for m in crawler.extensions.middlewares if isinstance(m, cls)), None)

    def info(self, source: Any) -> dict[str, Any]:
        """The warcinfo fields of one source's file: software, who we are, politeness, settings."""
        s = self.crawler.settings
        info = {
            "software": f"nianbao-crawler/{__version__} (Scrapy {scrapy.__version__})",
            "format": "WARC File Format 1.1",
            "isPartOf": f"nianbao run {self.run_id}",
            "description": f"source {source.name}: {', '.join(source.start_urls)}",
            "http-header-user-agent": s.get("USER_AGENT"),
            "robots": "obey" if s.getbool("ROBOTSTXT_OBEY") and source.robots_obey
            else f"ignore ({source.robots_reason})",
            "nianbao-settings": json.dumps({k: s.get(k) for k in RECORDED_SETTINGS}, default=str, sort_keys=True),
        }
        if self.worker_id:
            info["nianbao-worker"] = self.worker_id
        return info

    # -- signals ----------------------------------------------------------------------------------
    def spider_opened(self, spider: Any) -> None:
        self.state = CrawlState(self.state_path)
        for source in spider_sources(spider):
            self.open_source(source)

    def open_source(self, source: Any) -> WarcRecorder:
        """Reconcile a killed crawl's files of `source`, then open its file for this crawl."""
        if source.name in self.recorders:
            return self.recorders[source.name]
        assert self.state is not None, "the capture opens on spider_opened"
        # a killed crawl's WARC may hold copies its crawl state never recorded: record them first
        reconcile(self.state, self.directory, source.name)
        recorder = WarcRecorder(self.directory, self.run_id, source.name, self.info(source), self.worker_id)
        self.recorders[source.name] = recorder
        self.default = self.default or source.name
        return recorder

    def source_summed_up(self, source: str, summary: dict[str, Any]) -> None:
        """Write the summary record, close the file (its final name) and mark it checked."""
        recorder = self.recorders.pop(source, None)
        if recorder is None:
            log.warning("crawl summary of %s: no WARC file open for it", source)
            return
        recorder.write_summary(summary)
        recorder.close()
        assert self.state is not None
        mark_checked(self.state, recorder.directory, recorder.filename, source, True)

    def spider_closed(self, spider: Any) -> None:
        for name, recorder in list(self.recorders.items()):
            log.warning("%s: closed without a crawl summary (%s); the next crawl reconciles it",
                        name, recorder.filename)
            recorder.close()
        self.recorders.clear()
        if self.state is not None:
            self.state.close()
            self.state = None

    # -- for the middleware -----------------------------------------------------------------------
    def recorder_for(self, request: Any) -> WarcRecorder | None:
        """The open file a request's exchange goes to: its source's (meta `nianbao_source`), else the first's."""
        name = request.meta.get("nianbao_source")
        if name in self.recorders:
            return self.recorders[name]
        return self.recorders.get(self.default or "") or next(iter(self.recorders.values()), None)

    def note_error(self, url: str, status: int | None, cls: str, role: str, source: str) -> None:
        self.crawler.signals.send_catch_log(capture_error, url=url, status=status, cls=cls, role=role, source=source)
