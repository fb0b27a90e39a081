"""A fixture portal: generated report columns served on 127.0.0.1, for tests, benchmarks and the demo.

    from nianbao.crawler.fixture_portal import FixturePortal, default_site
    with FixturePortal(tmp_path / "site", default_site()) as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")   # --sources for nianbao crawl
        ...crawl...
        portal.edit("s2024"); portal.remove("t2021"); portal.move("t2023", "202402/t20240201_90002.htm")
        portal.add("fixture-trs", Report(...))                         # then crawl again
        portal.requests()                                               # what the crawler fetched

Also runnable: `python -m nianbao.crawler.fixture_portal DIR` serves the default site until interrupted.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import yaml

from nianbao.crawler.fixture_portal.server import Fault, FixtureServer, LoggedRequest
from nianbao.crawler.fixture_portal.site import Extra, FileMeta, Portal, Report, Site, SiteBuilder, default_site

__all__ = ["FixturePortal", "Site", "Portal", "Report", "Extra", "default_site", "LoggedRequest", "big_site",
           "api_site"]


class FixturePortal:
    """Lays out a `Site` under `root`, serves it, and applies mutations between crawls."""

    def __init__(self, root: str | Path, site: Site | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.site = site or default_site()
        self.builder = SiteBuilder(self.site, self.root)
        self._lock = threading.Lock()
        self._meta: dict[str, FileMeta] = {}
        self.server = FixtureServer(self.root, self._routes, search=self._search)
        self.rebuild()

    def _search(self, form: dict[str, str]) -> tuple[int, bytes]:
        """The TRS search service of `trsapi` columns: the records of (channelid, classsql), one page
        of `prepage`, sorted as the index holds them (newest first), `{"data": [...], "pageCount": N}`."""
        import json

        with self._lock:
            records = self.builder.search_index.get((form.get("channelid", ""), form.get("classsql", "")), [])
        try:
            page, per = max(1, int(form.get("page") or 1)), max(1, int(form.get("prepage") or 10))
        except ValueError:
            return 400, b'{"error": "bad page"}'
        if not form.get("sortfield"):
            records = sorted(records, key=lambda r: r["docreltime"])  # unsorted: the index's own order
        chunk = records[(page - 1) * per: page * per]
        body = {"data": chunk, "pageCount": -(-len(records) // per)}
        return 200, json.dumps(body, ensure_ascii=False).encode("utf-8")

    def _routes(self) -> tuple[dict[str, str], dict[str, Any]]:
        with self._lock:
            return self.site.redirects, self._meta

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def start(self) -> FixturePortal:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FixturePortal:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def rebuild(self) -> None:
        with self._lock:
            self._meta = self.builder.build(self.server.port)

    # -- URLs -----------------------------------------------------------------------------------
    def column_url(self, name: str) -> str:
        return self.base_url + self.site.portal(name).column

    def report_url(self, key: str) -> str:
        """Where the report's page is served now (after redirects)."""
        portal, report = self.site.find(key)
        return self.base_url + portal.column + report.slug

    def listed_url(self, key: str) -> str:
        portal, report = self.site.find(key)
        return self.base_url + portal.column + (report.listed_slug or report.slug)

    def attachment_urls(self, key: str) -> list[str]:
        portal, report = self.site.find(key)
        path = portal.column + report.slug
        d, stem = path.rsplit("/", 1)[0], path.rsplit("/", 1)[1].rsplit(".", 1)[0]
        if report.kind == "both":
            return [f"{self.base_url}{d}/{stem}_qzb.pdf"]
        if report.kind in ("pdf", "image"):
            return [f"{self.base_url}{d}/P0{stem[-4:]}.pdf"]
        if report.kind == "docx":
            return [f"{self.base_url}{d}/P0{stem[-4:]}.docx"]
        return []

    # -- mutations (call between crawls) ----------------------------------------------------------
    def edit(self, key: str) -> None:
        """Change a report's content (a correction notice; its bytes and validators change)."""
        self.site.find(key)[1].revision += 1
        self.rebuild()

    def remove(self, key: str) -> None:
        """Take a report off its column and delete its page (→ 404): the crawler must call it withdrawn."""
        portal, report = self.site.find(key)
        portal.reports.remove(report)
        self.rebuild()

    def unlist(self, key: str) -> None:
        """Take a report off its column's list but keep serving its page."""
        self.site.find(key)[1].listed = False
        self.rebuild()

    def move(self, key: str, new_slug: str) -> None:
        """Serve a report at a new URL; the old URL answers 301 to it and the list links the new one."""
        portal, report = self.site.find(key)
        old = portal.column + report.slug
        report.slug, report.listed_slug = new_slug, None
        self.site.redirects[old] = portal.column + new_slug
        self.rebuild()

    def fail(self, key_or_path: str, times: int = 1, status: int = 503) -> None:
        """Answer the next `times` requests for a report (key) or path with `status` (a flaky server)."""
        try:
            path = self.report_url(key_or_path)[len(self.base_url):]
        except KeyError:
            path = key_or_path
        with self.server.lock:
            self.server.failures[path] = (times, status)

    def fault(self, key_or_path: str, mode: str, times: int = -1, status: int = 503,
              headers: dict[str, str] | None = None, retry_after_in: float | None = None,
              size: int = 200 * 1024 * 1024, interval: float = 1.0) -> str:
        """Make a report (key) or path misbehave (server.Fault: `empty`, `waf`, `loop`, `status` with
        `headers` such as Retry-After, `reset`, `truncate`, `charset`, `huge` (`size` bytes), `drip`
        (a byte every `interval` s), `trap` on a list page) for `times` answers, or until `recover()`.
        Returns the path."""
        try:
            path = self.report_url(key_or_path)[len(self.base_url):]
        except KeyError:
            path = key_or_path
        with self.server.lock:
            self.server.faults[path] = Fault(mode, times, status, headers, retry_after_in, size, interval)
        return path

    def recover(self) -> None:
        """The portal is fixed (the next night): every fault is gone."""
        with self.server.lock:
            self.server.faults.clear()
            self.server.failures.clear()

    def add(self, portal_name: str, report: Report) -> None:
        self.site.portal(portal_name).reports.insert(0, report)
        self.rebuild()

    # -- registry and logs --------------------------------------------------------------------------
    def registry(self) -> dict[str, Any]:
        entries = []
        for p in self.site.portals:
            entries.append({
                "name": p.name, "agency": p.agency, "region": "测试省测试市", "division_code": p.division_code,
                "start_urls": [self.column_url(p.name)], "platform": p.platform,
                "allowed_domains": ["127.0.0.1"], "enabled": True, "frozen": False, "verified": True,
                "note": f"fixture portal, {p.style} style, {p.encoding}",
            })
        return {"sources": entries}

    def write_registry(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(yaml.safe_dump(self.registry(), allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    def requests(self) -> list[LoggedRequest]:
        with self.server.lock:
            return list(self.server.log)

    def clear_log(self) -> None:
        with self.server.lock:
            self.server.log.clear()


def big_site(n_reports: int = 2000, per_page: int = 20) -> Site:
    """One static-pagination column of `n_reports` HTML reports (the crawl benchmark's portal)."""
    reports = []
    for i in range(n_reports):
        year = 2019 + i % 7
        unit = f"第{i // 7 + 1}号单位"
        reports.append(Report(f"b{i}", f"测试市{unit}", year, f"{year + 1}-01-{1 + i % 28:02d}",
                              f"{year + 1}01/t{year + 1}01{1 + i % 28:02d}_{100000 + i}.html"))
    portal = Portal(name="bench", style="static", column="/bench/zfxxgknb/", per_page=per_page, reports=reports)
    return Site(portals=[portal])


def api_site(n_reports: int = 20, per_page: int = 10) -> Site:
    """One TRS "动静结合" column (the Pingtan shape): `per_page` reports on the static page 1, the rest
    only through the search API its script calls; a 解读 among the API's records."""
    reports = []
    for i in range(n_reports):
        year = 2025 - i // 2
        unit = "平川实验区" if i % 2 == 0 else "平川实验区财政金融局"
        month = 3 - i % 2
        reports.append(Report(f"a{i}", unit, year, f"{year + 1}-{month:02d}-{10 + i % 9:02d}",
                              f"{year + 1}{month:02d}/t{year + 1}{month:02d}{10 + i % 9:02d}_{97000 + i}.htm"))
    portal = Portal(name="fixture-trsapi", style="trsapi", column="/trsapi/zwgk/zfxxgk/zfxxgknb/", agency="平川实验区",
                    per_page=per_page, platform="trs", division_code="990104", search_id=200210, chnlid=1813,
                    reports=reports,
                    extras=[Extra("《平川实验区2024年度政府信息公开工作年度报告》解读", "202503/t20250311_97990.htm")])
    return Site(portals=[portal])
