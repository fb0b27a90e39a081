"""Politeness and robustness: settings, per-source robots override (with its reason), retries of a
flaky server (every failed attempt archived), frozen/disabled sources, TRS page probing, the
`nianbao crawl` console script."""

from __future__ import annotations

import argparse
import subprocess
import sys

import yaml
from scrapy.http import HtmlResponse, Request
from scrapy.settings import Settings

from nianbao.crawler.fixture_portal import FixturePortal, default_site
from nianbao.crawler.registry import load_sources
from nianbao.crawler.run import select_sources
from nianbao.crawler.spiders.trs import TrsSpider
from nianbao.health import failure_class
from tests.crawler.helpers import REPO, records, run_crawl, summaries


def test_polite_defaults():
    s = Settings()
    s.setmodule("nianbao.crawler.settings")
    assert s.getbool("ROBOTSTXT_OBEY") and s.getbool("AUTOTHROTTLE_ENABLED")
    assert 1 <= s.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 2
    assert s.getfloat("DOWNLOAD_DELAY") >= 1
    assert s["USER_AGENT"].startswith("nianbao/") and "+https://" in s["USER_AGENT"]
    assert s.getint("RETRY_TIMES") == 3 and s.getfloat("NIANBAO_RETRY_BACKOFF_BASE") == 2.0
    assert s.getint("DOWNLOAD_TIMEOUT") == 60 and s.getint("DOWNLOAD_MAXSIZE") == 64 * 1024 * 1024
    mws = s.getdict("DOWNLOADER_MIDDLEWARES")
    # on the downloader side of HttpCompression (590) and Redirect (600): raw bodies, every hop
    assert mws["nianbao.crawler.middlewares.WarcCaptureMiddleware"] > 600
    assert mws["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] is None
    assert mws["nianbao.crawler.middlewares.SharedRobotsTxtMiddleware"] == 100


def test_robots_override_and_flaky_server(tmp_path):
    with FixturePortal(tmp_path / "site") as portal:
        registry = portal.registry()
        static = next(e for e in registry["sources"] if e["name"] == "fixture-static")
        static["robots"] = {"ignore": "the agency confirmed by letter that /private/ reports are public"}
        path = tmp_path / "sources.yaml"
        path.write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
        portal.fail("s2021", times=2, status=503)
        proc = run_crawl(tmp_path / "data", "--sources", str(path), "--source", "fixture-static", "--impolite")
        assert proc.returncode == 0, proc.stderr[-2000:]
        log = [(q.path, q.status) for q in portal.requests()]
        private = portal.report_url("sprivate")[len(portal.base_url):]
        flaky = portal.report_url("s2021")[len(portal.base_url):]
        assert (private, 200) in log and ("/robots.txt", 200) not in log
        assert [st for p, st in log if p == flaky] == [503, 503, 200]
    recs = records(tmp_path / "data" / "warcs")
    assert "robots: ignore" in recs[0].content.decode()
    statuses = [r.http_status for r in recs if r.type == "response" and r.url == portal.report_url("s2021")]
    assert statuses == [503, 503, 200]  # every attempt kept
    s = summaries(recs)["fixture-static"]
    assert portal.report_url("sprivate") in s["fetched"] and s["complete"] is True


def test_frozen_and_disabled_sources_are_skipped_unless_named(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"sources": [
        {"name": "live", "start_urls": ["http://a.gov.cn/nb/"]},
        {"name": "closed", "start_urls": ["http://b.gov.cn/nb/"], "frozen": True},
        {"name": "off", "start_urls": ["http://c.gov.cn/nb/"], "enabled": False},
    ]}), encoding="utf-8")

    def pick(*names: str) -> list[str]:
        ns = argparse.Namespace(start_url=[], sources=str(path), source=list(names))
        return [s.name for s in select_sources(ns)]

    assert pick() == ["live"]
    assert pick("closed", "off") == ["closed", "off"]
    assert [s.name for s in load_sources(path)] == ["live", "closed", "off"]


def test_trs_probes_pages_behind_a_record_count():
    spider = TrsSpider(start_url="https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/")
    body = b"<script>var x = {pagebar: {prepage: 10, recordCount: '20'}};</script>"
    response = HtmlResponse("https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/", body=body, encoding="utf-8",
                            request=Request("https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/", meta={"sub_depth": 0}))
    assert spider.probe_list_pages(response, []) == ["https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/index_1.html"]
    assert spider.probe_list_pages(response, ["https://x/index_1.html"]) == []  # the script already said


def test_probed_page_that_404s_keeps_the_crawl_complete(tmp_path):
    with FixturePortal(tmp_path / "site") as portal:
        page = portal.column_url("fixture-trs")
        # a TRS column whose script was stripped but whose recordCount says 8 records of 2 per page
        (tmp_path / "site" / "trs/zwgk/zfxxgk/zfxxgknb/index.html").write_text(
            (tmp_path / "site" / "trs/zwgk/zfxxgk/zfxxgknb/index.html").read_text(encoding="utf-8")
            .replace("createPageHTML(countPage, 0, \"index\", \"html\");", "")
            .replace("var countPage = 3//共多少页", "var pagebar = {prepage: 2, recordCount: '8'};"),
            encoding="utf-8")
        proc = run_crawl(tmp_path / "data", "--start-url", page, "--impolite")  # generic: no probing
        assert proc.returncode == 0
        generic = summaries(records(tmp_path / "data" / "warcs"))["adhoc-127-0-0-1"]
        assert len(generic["report_urls"]) == 2 and generic["stats"]["list_pages"] == 1
        path = tmp_path / "trs.yaml"
        path.write_text(yaml.safe_dump({"sources": [{"name": "t", "start_urls": [page], "platform": "trs"}]}),
                        encoding="utf-8")
        portal.clear_log()
        proc = run_crawl(tmp_path / "data2", "--sources", str(path), "--impolite")
        assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
        lists = sorted(q.path for q in portal.requests() if q.path.endswith((".html", "/")) and "/20" not in q.path)
        assert lists == ["/trs/zwgk/zfxxgk/zfxxgknb/", "/trs/zwgk/zfxxgk/zfxxgknb/index_1.html",
                         "/trs/zwgk/zfxxgk/zfxxgknb/index_2.html", "/trs/zwgk/zfxxgk/zfxxgknb/index_3.html"]
    s = summaries(records(tmp_path / "data2" / "warcs"))["t"]
    assert s["complete"] is True and len(s["report_urls"]) == 5  # index_3 (404) was only a probe


def test_nianbao_console_script(tmp_path):
    with FixturePortal(tmp_path / "site") as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")
        proc = subprocess.run([sys.executable, "-m", "nianbao.cli", "crawl", "--data-dir", str(tmp_path / "data"),
                               "--sources", str(registry), "--source", "fixture-trs", "--impolite"],
                              capture_output=True, text=True, timeout=240, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("fixture-trs: complete reports=5 fetched=10 ")


def test_pagination_trap_cap_makes_the_crawl_incomplete(tmp_path):
    with FixturePortal(tmp_path / "site") as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")
        proc = run_crawl(tmp_path / "data", "--sources", str(registry), "--source", "fixture-static",
                         "--impolite", "--max-list-pages", "2")
        assert proc.returncode == 1 and "fixture-static: INCOMPLETE" in proc.stdout
        lists = [q.path for q in portal.requests() if q.path.endswith("/") or "/index_" in q.path]
        assert sorted(lists) == ["/static/zfxxgknb/", "/static/zfxxgknb/index_1.html"]
    s = summaries(records(tmp_path / "data" / "warcs"))["fixture-static"]
    assert s["complete"] is False and s["stats"]["list_page_cap_hit"] is True and s["withdrawn"] == []
    assert s["stats"]["incomplete_cause"] == "list_page_cap"
    assert failure_class(s["errors"], [portal.column_url("fixture-static")], s["stats"]) == "list_page_cap"


def _incomplete(tmp_path, site=None, fail: tuple[str, int] | None = None) -> dict:
    with FixturePortal(tmp_path / "site", site) as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")
        if fail:
            portal.fail(fail[0], times=20, status=fail[1])
        proc = run_crawl(tmp_path / "data", "--sources", str(registry), "--source", "fixture-trs", "--impolite")
        assert proc.returncode == 1 and "fixture-trs: INCOMPLETE" in proc.stdout, proc.stderr[-2000:]
        start = portal.column_url("fixture-trs")
    s = summaries(records(tmp_path / "data" / "warcs"))["fixture-trs"]
    assert s["complete"] is False and s["stats"]["incomplete_cause"] == "list_errors"
    return {"summary": s, "class": failure_class(s["errors"], [start], s["stats"])}


def test_robots_disallowed_list_page_is_named(tmp_path):
    site = default_site()
    site.robots_disallow.append("/trs/zwgk/zfxxgk/zfxxgknb/index_1.html")
    out = _incomplete(tmp_path, site)
    assert [(e["class"], e["role"]) for e in out["summary"]["errors"]] == [("robots_forbidden", "list")]
    assert out["class"] == "robots"


def test_5xx_list_page_is_named(tmp_path):
    out = _incomplete(tmp_path, fail=("/trs/zwgk/zfxxgk/zfxxgknb/index_1.html", 503))
    assert [(e["class"], e["status"], e["role"]) for e in out["summary"]["errors"]] == [("http_error", 503, "list")]
    assert out["class"] == "5xx"
