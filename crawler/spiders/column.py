"""The generic column spider: from a 政府信息公开年报 column, find every report and keep every byte.

List pages are fetched on every crawl (digest-compared, so unchanged ones become `revisit`
records); detail pages and attachments only when new or due (crawler/state.py's policy), with
conditional GETs. When the crawl goes idle, reports that vanished from the column since the last
complete crawl are fetched once to tell moved (redirect) from withdrawn; the per-source
`crawl-summary` metadata record is written on close.

Why one module of ~500 lines: it is one column's walk, and every part of it (requests, callbacks,
the vanished check, the summary) reads and writes the same per-source bookkeeping in `self.state`,
which Scrapy persists in JOBDIR; the pure rules it applies live apart (links.py, search_api.py,
state.py), and so does running several columns of one host together (host.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import FormRequest, Request, Response
from scrapy.spidermiddlewares.httperror import HttpError

from nianbao.crawler.extensions import capture_error, crawl_summary, run_clock
from nianbao.crawler.links import (
    attachment_links,
    column_prefix,
    is_attachment_url,
    is_report_title,
    parse_list_page,
    strip_fragment,
)
from nianbao.crawler.registry import Source, adhoc_source, load_sources
from nianbao.crawler.search_api import SearchApi, find_search_api, parse_search_page
from nianbao.crawler.state import CrawlState, Policy, iso, utcnow

MAX_SUBCOLUMN_DEPTH = 3
ERROR_STATUSES = [304, 400, 401, 403, 404, 410, 500, 502, 503, 504]


def registry_source(name: str, registry: str | None = None) -> Source:
    """A registry entry by name (`-a source=NAME [-a registry=FILE]`), with the known names when absent."""
    by_name = {s.name: s for s in load_sources(registry)}
    if name not in by_name:
        raise ValueError(f"no such source {name!r} in the registry (known: {', '.join(sorted(by_name))})")
    return by_name[name]


class ColumnSpider(scrapy.Spider):
    name = "column"
    handle_httpstatus_list = ERROR_STATUSES

    def __init__(self, source: Source | str | None = None, start_url: str | None = None,
                 registry: str | None = None, **kwargs: Any):
        """`source` is a registry entry, or its name (`scrapy crawl column -a source=NAME`, read from
        `registry` or the bundled registry); `start_url` an ad-hoc column."""
        super().__init__(**kwargs)
        if isinstance(source, str):
            source = registry_source(source, registry)
        if source is None:
            if not start_url:
                raise ValueError("ColumnSpider needs source= (a registry entry) or start_url=")
            source = adhoc_source(start_url)
        self.source = source
        self.start_urls = list(source.start_urls)
        self.allowed_domains = list(source.domains)
        self.columns = [column_prefix(u) for u in source.start_urls]
        self.state: dict[str, Any] = {}
        self.crawl_db: CrawlState | None = None
        self._owns_db = False
        self._vanished_checked = False
        self._lists_seen: set[str] = set()

    # -- set-up -------------------------------------------------------------------------------
    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ColumnSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if not spider.source.robots_obey:  # the registry's written reason (settings are not frozen yet)
            crawler.settings.set("ROBOTSTXT_OBEY", False, priority="spider")
        spider.bind(crawler.settings)
        # the WARC files are the WarcCapture extension's (crawler/extensions.py): it tells us what only it saw
        crawler.signals.connect(spider.note_error, signal=capture_error)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        return spider

    def bind(self, settings: Any, crawl_db: CrawlState | None = None) -> None:
        """What a walk of this column takes from the crawl: its settings and the crawl state (its own
        connection, or the host spider's shared one, which the host closes)."""
        if not self.source.robots_obey:
            self.logger.warning("robots.txt ignored for %s: %s", self.source.name, self.source.robots_reason)
        self._owns_db = crawl_db is None
        self.crawl_db = crawl_db or CrawlState(settings.get("NIANBAO_STATE_DB"))
        self.max_list_pages = settings.getint("NIANBAO_MAX_LIST_PAGES", 2000)
        self.policy = Policy(mode=settings.get("NIANBAO_REVALIDATE", "policy"),
                             cycle_days=settings.getint("NIANBAO_CYCLE_DAYS", 30))
        self.now, self.run_id = run_clock(settings)

    def adopt(self, request: Request) -> Request:
        """A request this walk schedules itself (the idle check); the host spider routes it (spiders/host.py)."""
        return request

    def request_stats(self) -> dict[str, Any]:
        """The crawler's download figures for the summary; a host spider gives each walk its own share."""
        return self.crawler.stats.get_stats() if self.crawler and self.crawler.stats else {}

    def _st(self) -> dict[str, Any]:
        """Run bookkeeping kept in `self.state`, which Scrapy persists in JOBDIR across a resume."""
        st = self.state
        if "run_id" not in st:
            st.update(run_id=self.run_id, started=iso(utcnow()), listed={}, fetched=[], not_modified=[],
                      errors=[], moved=[], withdrawn=[], unlisted=[], list_errors=0, list_pages=0,
                      skipped=0, detail_requests=0)
        return st

    # -- requests -----------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        self._st()
        for url in self.start_urls:
            req = self.list_request(url, depth=0)
            if req is not None:
                yield req

    def list_request(self, url: str, depth: int, probe: bool = False) -> Request | None:
        """A list page request; `probe` marks a guessed page whose failure proves nothing."""
        key = self._page_key(url)
        if key in self._lists_seen:  # '…/', '…/index.html' are one page
            return None
        if self._list_cap_hit(url):
            return None
        self._lists_seen.add(key)
        return Request(url, callback=self.parse_list, errback=self.on_error,
                       meta={"nianbao_role": "list", "sub_depth": depth, "probe": probe}, priority=10)

    def _list_cap_hit(self, url: str) -> bool:
        if len(self._lists_seen) < self.max_list_pages:
            return False
        # a pagination trap (a 下一页 that never ends): stop, and call the listing incomplete
        # so that nothing is declared withdrawn from a partial view
        if not self._st().get("list_cap_hit"):
            self.logger.warning("%s: more than %d list pages; not following %s",
                                self.source.name, self.max_list_pages, url)
        self._st()["list_cap_hit"] = True
        return True

    def api_request(self, api: SearchApi, page: int, list_url: str) -> Request | None:
        """One page of a column's search API, asked the way the list page's own script asks it
        (its method, endpoint and parameters), in the list page's download slot (same delay,
        concurrency and AutoThrottle as the rest of the portal; robots.txt applies as to any URL)."""
        form = api.form(page)
        key = f"{api.endpoint}#{api.method}?{urlencode(form)}"
        if key in self._lists_seen or self._list_cap_hit(api.endpoint):
            return None
        self._lists_seen.add(key)
        meta = {"nianbao_role": "list", "search_api": asdict(api), "api_page": page, "list_url": list_url,
                "download_slot": urlsplit(list_url).hostname}
        headers = {"Referer": list_url, "X-Requested-With": "XMLHttpRequest",
                   "Accept": "application/json, text/javascript, */*; q=0.01"}
        if api.method == "POST":
            return FormRequest(api.endpoint, formdata=form, headers=headers, callback=self.parse_search_api,
                               errback=self.on_error, meta=meta, priority=10)
        return Request(api.url(page), headers=headers, callback=self.parse_search_api, errback=self.on_error,
                       meta=meta, priority=10)

    def detail_request(self, url: str, role: str, parent: str | None = None) -> Request | None:
        """A request for a report page or attachment when new or due; else None (not fetched)."""
        assert self.crawl_db is not None
        row = self.crawl_db.get(url)
        st = self._st()
        target = self.crawl_db.target(url) if row and row.get("location") else None
        if not self.policy.is_due(row, self.now, target):
            st["skipped"] += 1
            return None
        headers = {}
        if row and row.get("digest") and not row.get("junk"):
            if row.get("etag"):
                headers["If-None-Match"] = row["etag"]
            if row.get("last_modified"):
                headers["If-Modified-Since"] = row["last_modified"]
        st["detail_requests"] += 1
        meta = {"nianbao_role": role}
        if parent:
            meta["nianbao_parent"] = parent
        callback = self.parse_attachment if role == "attachment" or is_attachment_url(url) else self.parse_report
        return Request(url, headers=headers, callback=callback, errback=self.on_error, meta=meta)

    # -- callbacks ----------------------------------------------------------------------------
    def _record_outcome(self, response: Response) -> str:
        st = self._st()
        outcome = response.meta.get("nianbao_outcome", "")
        junk = response.meta.get("nianbao_junk")
        url = response.url
        if response.status == 304 or outcome == "unchanged":
            st["not_modified"].append(url)
            return "not_modified"
        role = response.meta.get("nianbao_role")
        if junk:
            self.note_error(url, response.status, junk, role, api="search_api" in response.meta)
            return "junk"
        if response.status != 200:
            self.note_error(url, response.status, "http_error", role, api="search_api" in response.meta)
            return "error"
        st["fetched"].append(url)
        return "fetched"

    def note_error(self, url: str, status: int | None, cls: str, role: str | None = None,
                   api: bool = False) -> None:
        """One entry of the summary's `errors`: `{url, status, class}` plus the request's `role`
        (and `api` for a search-API page), so `nianbao status` can tell what made a crawl incomplete."""
        entry: dict[str, Any] = {"url": url, "status": status, "class": cls}
        if role:
            entry["role"] = role
        if api:
            entry["api"] = True
        self._st()["errors"].append(entry)

    def parse_list(self, response: Response) -> Any:
        st = self._st()
        st["list_pages"] += 1
        outcome = self._record_outcome(response)
        if outcome in ("junk", "error"):
            if not response.meta.get("probe"):
                st["list_errors"] += 1
            return
        column = next((c for c in self.columns if response.url.startswith(c)), column_prefix(response.url))
        depth = response.meta.get("sub_depth", 0)
        page = parse_list_page(response.text, response.url, column, depth < MAX_SUBCOLUMN_DEPTH, nested=depth > 0)
        for url, title in page.reports:
            if self._allowed(url):
                yield from self._listed(url, title)
        api = find_search_api(page.scripts, response.url, self.source.extra.get("search_api"))
        if api is not None:
            yield from self._start_search_api(api, response.url)
        probes = set() if api is not None else set(self.probe_list_pages(response, page.pages))
        for url in [*page.pages, *sorted(probes - set(page.pages))]:
            if self._allowed(url):
                req = self.list_request(url, depth, probe=url in probes and url not in page.pages)
                if req is not None:
                    yield req
        for url in page.subcolumns:
            if self._allowed(url):
                req = self.list_request(url, depth + 1)
                if req is not None:
                    yield req

    def _listed(self, url: str, title: str, date: str | None = None) -> Any:
        """A report the column lists (static HTML or search API alike): remember it, fetch it when due."""
        st = self._st()
        when = iso(self.now)
        st["listed"].setdefault(url, title)
        if date:
            st.setdefault("dates", {}).setdefault(url, date)
        first = {} if self.crawl_db.get(url) else {"first_seen": when}
        self.crawl_db.update(url, source=self.source.name, role="report", last_seen_listed=when,
                             withdrawn_at=None, **first)
        req = self.detail_request(url, "report")
        if req is not None:
            yield req
            return
        # the page is not due, but an attachment of it may be (last time an error or junk came back)
        page = self.crawl_db.resolve(url)
        for row in self.crawl_db.attachments_of(page):
            target = self.crawl_db.target(row["url"]) if row.get("location") else None
            if self.policy.is_due(row, self.now, target):
                req = self.detail_request(row["url"], "attachment", parent=page)
                if req is not None:
                    yield req

    def _start_search_api(self, api: SearchApi, list_url: str) -> Any:
        """Pages past the static ones come from the API; static pages 2..maxStaticIndex are HTML."""
        suffix = urlsplit(list_url).path.rsplit(".", 1)[-1] if "." in urlsplit(list_url).path.rsplit("/", 1)[-1] \
            else "html"
        for k in range(2, api.static_pages + 1):
            req = self.list_request(urljoin(column_prefix(list_url), f"index_{k - 1}.{suffix}"), 0)
            if req is not None:
                yield req
        if api.pages >= api.first_page():
            req = self.api_request(api, api.first_page(), list_url)
            if req is not None:
                yield req

    def parse_search_api(self, response: Response) -> Any:
        """One answer of a column's search API: its records are listed reports like a static page's
        links; the next page is asked for while the service (or the page's recordCount) says there
        is one. An error, a junk page or an answer that is not the service's JSON makes the listing
        incomplete, so nothing is withdrawn from a partial view."""
        st = self._st()
        st["list_pages"] += 1
        st["api_pages"] = st.get("api_pages", 0) + 1
        outcome = self._record_outcome(response)
        if outcome in ("junk", "error"):
            st["list_errors"] += 1
            return
        meta = response.meta
        list_url = meta["list_url"]
        page = parse_search_page(response.body, list_url)
        if page is None:
            self.note_error(response.url, response.status, "bad_api_response", "list", api=True)
            st["list_errors"] += 1
            return
        st["api_records"] = st.get("api_records", 0) + len(page.items)
        for url, title, date in page.items:
            if self._allowed(url) and is_report_title(title):
                yield from self._listed(url, title, date)
        api = SearchApi(**meta["search_api"])
        n = meta["api_page"]
        known = max(api.pages, page.page_count or 0, -(-page.total // max(1, api.per_page)) if page.total else 0)
        if page.items and n < min(known, api.first_page() + 500):
            req = self.api_request(api, n + 1, list_url)
            if req is not None:
                yield req

    def probe_list_pages(self, response: Response, pages: list[str]) -> list[str]:
        """Hook for platform spiders: guessed list pages the generic rules cannot see (a 404 on
        one of these does not make the crawl incomplete)."""
        return []

    def parse_report(self, response: Response) -> Any:
        outcome = self._record_outcome(response)
        listed_as = (response.meta.get("redirect_urls") or [response.url])[0]
        if response.meta.get("vanished_check"):
            self._classify_vanished(listed_as, response)
            return
        if listed_as != response.url:
            self.crawl_db.update(response.url, source=self.source.name, role="report",
                                 last_seen_listed=iso(self.now))
        if outcome == "fetched" and not self._is_binary(response):
            for url, _label in attachment_links(response.text, response.url):
                if self._allowed(url):
                    req = self.detail_request(url, "attachment", parent=response.url)
                    if req is not None:
                        yield req
        elif outcome == "not_modified":
            for row in self.crawl_db.attachments_of(response.url):
                req = self.detail_request(row["url"], "attachment", parent=response.url)
                if req is not None:
                    yield req

    def parse_attachment(self, response: Response) -> None:
        if response.meta.get("vanished_check"):
            self._classify_vanished((response.meta.get("redirect_urls") or [response.url])[0], response)
            return
        self._record_outcome(response)

    def on_error(self, failure: Any) -> None:
        st = self._st()
        request = failure.request
        status = None
        if failure.check(HttpError):
            status = failure.value.response.status
        if request.meta.get("vanished_check"):
            return  # unreachable is not withdrawn: ask again next crawl
        cls = failure.type.__name__
        if failure.check(IgnoreRequest) and "robots" in str(failure.value).lower():
            cls = "robots_forbidden"
        elif failure.check(IgnoreRequest) and "redirection" in str(failure.value).lower():
            cls = "redirect_loop"  # Scrapy's "max redirections reached": a chain too long to be a page
        self.note_error(request.url, status, cls, request.meta.get("nianbao_role"), api="search_api" in request.meta)
        role = request.meta.get("nianbao_role")
        if status is None and cls != "robots_forbidden" and role in ("report", "attachment") \
                and self.crawl_db is not None and self.crawl_db.get(request.url):
            # a timeout or reset never reached the WARC middleware: mark the row so that the page is
            # due again next crawl (a revalidation that failed is not a check that passed)
            self.crawl_db.update(request.url, junk=cls)
        if request.meta.get("nianbao_role") == "list" and not request.meta.get("probe"):
            st["list_errors"] += 1

    # -- moved / withdrawn ----------------------------------------------------------------------
    def _previously_listed(self) -> list[str]:
        rows = self.crawl_db.table.rows_where(
            "source = ? and role = 'report' and last_seen_listed is not null and last_seen_listed < ?",
            [self.source.name, iso(self.now)])
        return [r["url"] for r in rows if r.get("status") not in (301, 302, 303, 307, 308)]

    def _on_idle(self, spider: Any) -> None:
        """Once the column is exhausted: fetch each vanished report once (moved or withdrawn?)."""
        if spider is not self or self._vanished_checked:
            return
        self._vanished_checked = True
        st = self._st()
        if st["list_errors"] or not st["list_pages"] or st.get("list_cap_hit"):
            return  # an incomplete listing proves nothing about absence
        current = {self.crawl_db.resolve(u) for u in st["listed"]} | set(st["listed"])
        vanished = [u for u in self._previously_listed() if u not in current and u not in st["withdrawn"]]
        vanished = [u for u in vanished if not (self.crawl_db.get(u) or {}).get("withdrawn_at")]
        if not vanished:
            return
        for url in vanished:
            self.crawler.engine.crawl(self.adopt(Request(
                url, callback=self.parse_report, errback=self.on_error, dont_filter=True,
                meta={"nianbao_role": "report", "vanished_check": True})))
        raise DontCloseSpider

    def _classify_vanished(self, url: str, response: Response) -> None:
        st = self._st()
        current = {self.crawl_db.resolve(u) for u in st["listed"]} | set(st["listed"])
        if response.url != url and response.url in current:
            st["moved"].append({"from": url, "to": response.url})
        elif response.meta.get("nianbao_junk") in ("challenge_page", "login_wall", "empty_response",
                                                   "unrecognised_page", "redirect_loop") \
                or response.status >= 500 or response.status in (401, 403, 429):
            return  # the portal would not say: ask again next crawl, withdraw nothing now
        elif response.status == 200 and not response.meta.get("nianbao_junk"):
            st["unlisted"].append(url)  # still online, no longer in the column
            st["withdrawn"].append(url)
        else:  # 404, 410, a soft 404 page, a redirect elsewhere
            st["withdrawn"].append(url)

    # -- helpers -------------------------------------------------------------------------------
    def _allowed(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)

    @staticmethod
    def _page_key(url: str) -> str:
        u = strip_fragment(url)
        for idx in ("index.html", "index.htm", "index.shtml"):
            if u.endswith("/" + idx):
                return u[: -len(idx)]
        return u

    @staticmethod
    def _is_binary(response: Response) -> bool:
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
        return bool(ctype) and "html" not in ctype and "text" not in ctype

    # -- summary -------------------------------------------------------------------------------
    def summary(self, reason: str) -> dict[str, Any]:
        st = self._st()
        finished = iso(utcnow())
        complete = (reason == "finished" and not st["list_errors"] and st["list_pages"] > 0
                    and not st.get("list_cap_hit"))
        report_urls = sorted({self.crawl_db.resolve(u) for u in st["listed"]})
        stats = self.request_stats()
        cause = None if complete else self.incomplete_cause(reason)
        return {
            "source": self.source.name,
            "run_id": self.run_id,
            "resumed_from": st["run_id"] if st["run_id"] != self.run_id else None,
            "started": st["started"],
            "finished": finished,
            "complete": complete,
            "close_reason": reason,
            "report_urls": report_urls,
            "titles": {self.crawl_db.resolve(u): t for u, t in st["listed"].items()},
            "dates": {self.crawl_db.resolve(u): d for u, d in st.get("dates", {}).items()},
            "fetched": sorted(set(st["fetched"])),
            "not_modified": sorted(set(st["not_modified"])),
            "errors": st["errors"],
            "moved": st["moved"],
            "withdrawn": sorted(set(st["withdrawn"])) if complete else [],
            "unlisted": sorted(set(st["unlisted"])) if complete else [],
            "stats": {
                "list_pages": st["list_pages"], "list_errors": st["list_errors"],
                "list_page_cap_hit": bool(st.get("list_cap_hit")),
                "api_pages": st.get("api_pages", 0), "api_records": st.get("api_records", 0),
                "reports_listed": len(report_urls), "detail_requests": st["detail_requests"],
                "skipped_not_due": st["skipped"],
                "requests": stats.get("downloader/request_count", 0),
                "responses": stats.get("downloader/response_count", 0),
                "bytes": stats.get("downloader/response_bytes", 0),
                "revalidate": self.policy.mode,
                "incomplete_cause": cause,
                "retries": stats.get("retry/count", 0),
            },
        }

    def incomplete_cause(self, reason: str) -> str:
        """Why this crawl's listing is not complete, most decisive first: `interrupted` (closed before
        the column was exhausted: Ctrl-C, --close-after), `list_page_cap` (a pagination trap hit
        NIANBAO_MAX_LIST_PAGES), `search_api` (the column's search API failed or answered junk),
        `list_errors` (a list page failed: the `errors` with role `list` say how: robots, timeout,
        5xx…), `no_list_page` (nothing listed was ever fetched)."""
        st = self._st()
        if reason != "finished":
            return "interrupted"
        if st.get("list_cap_hit"):
            return "list_page_cap"
        list_errors = [e for e in st["errors"] if e.get("role") == "list"]
        if any(e.get("api") for e in list_errors):
            return "search_api"
        if st["list_errors"]:
            return "list_errors"
        return "no_list_page"

    def closed(self, reason: str) -> None:
        if self.crawl_db is None:
            return
        summary = self.summary(reason)
        # the capture writes it as the file's last record and closes the file
        self.crawler.signals.send_catch_log(crawl_summary, source=self.source.name, summary=summary)
        if summary["complete"]:
            for url in summary["withdrawn"]:
                self.crawl_db.update(url, withdrawn_at=summary["finished"])
        self.crawl_summary = summary
        if self._owns_db:
            self.crawl_db.close()
