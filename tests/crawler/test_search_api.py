"""Columns that list half their reports through a JavaScript search API (TRS "动静结合", the Pingtan
column's shape): recognising the page's own API config, reading the service's answers, and crawling a
fixture column of 20 reports (10 static, the rest only through the API) with the real crawler."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime

import lxml.html
import pytest
from scrapy.http import HtmlResponse, Request

from nianbao.crawler.fixture_portal import FixturePortal, LoggedRequest, api_site
from nianbao.crawler.search_api import SearchApi, find_search_api, parse_search_page
from nianbao.crawler.spiders.column import ColumnSpider
from nianbao.crawler.state import state_key
from tests.crawler.helpers import Rec, records, run_crawl, summaries

PINGTAN = "https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/"
API_PATH = "/fjdzapp/search"


def scripts_of(html: bytes | str) -> str:
    return "\n".join(s.text or "" for s in lxml.html.fromstring(html).iter("script"))


# ----------------------------------------------------------------------------- recognition (pure)


def test_recognises_the_real_pingtan_column(shared_dir):
    page = (shared_dir / "real" / "pingtan_list_index.html").read_bytes()
    api = find_search_api(scripts_of(page), PINGTAN)
    assert api == SearchApi(
        model="list2.trsapi", endpoint="https://www.pingtan.gov.cn/fjdzapp/search", method="POST",
        args={"channelid": "200210", "classsql": "chnlid=1813", "sortfield": "-docorderpri,-docreltime"},
        per_page=10, record_count=20, static_pages=1, quick_mode="动静结合")
    assert api.pages == 2 and api.first_page() == 2
    assert api.form(2) == {"channelid": "200210", "classsql": "chnlid=1813",
                           "sortfield": "-docorderpri,-docreltime", "page": "2", "prepage": "10"}


def test_recognition_is_by_class_not_by_portal():
    # another site's ids, single quotes, a commented-out channel, a literal channel id, more static pages
    js = """var SiteInfo = { //searchId: 1,
              searchId: '300001' };
            require(['list.trsapi'], function (m) { m({quickMode: '动静结合', maxStaticIndex: 3,
              listArgs: {channelid: 300001, classsql: '' || 'chnlid=77', sortfield: '-docreltime'},
              pagebar: {prepage: 15, recordCount: '100'}}); });"""
    api = find_search_api(js, "http://www.example.gov.cn/xxgk/nb/index.html")
    assert api is not None and api.model == "list.trsapi" and api.method == "POST"
    assert api.endpoint == "http://www.example.gov.cn/fjdzapp/search"
    assert api.args == {"channelid": "300001", "classsql": "chnlid=77", "sortfield": "-docreltime"}
    assert (api.per_page, api.record_count, api.static_pages, api.pages, api.first_page()) == (15, 100, 3, 7, 4)
    # a registry entry may name where the site serves the model
    moved = find_search_api(js, "http://www.example.gov.cn/xxgk/nb/", {"url": "/search/api", "method": "get"})
    assert moved.endpoint == "http://www.example.gov.cn/search/api" and moved.method == "GET"


def test_was5_get_spelled_out_in_the_script():
    js = ("var recordCount = 35; function go(p){ $.get('/was5/web/search?channelid=290792&templet=docs.jsp"
          "&sortfield=-docorderpri%2C-docreltime&classsql=chnlid%3D5727&prepage=10&page=' + p); }")
    api = find_search_api(js, "http://www.fuzhou.gov.cn/zfxxgkzl/gkml/nb/")
    assert api.model == "was5" and api.method == "GET" and api.record_count == 35 and api.pages == 4
    assert api.url(2) == ("http://www.fuzhou.gov.cn/was5/web/search?channelid=290792&templet=docs.jsp"
                          "&sortfield=-docorderpri%2C-docreltime&classsql=chnlid%3D5727&page=2&prepage=10")


def test_plain_columns_have_no_api(tmp_path):
    assert find_search_api("var countPage = 3\ncreatePageHTML(countPage, 0, 'index', 'html');", PINGTAN) is None
    assert find_search_api('require(["tools"], function(t) { t.init(); });', PINGTAN) is None
    # a list model without a channel cannot be asked
    assert find_search_api('require(["list2.trsapi"], function(m){ m({listArgs: {classsql: "chnlid=1"}}); });',
                           PINGTAN) is None


def test_reads_the_services_answers():
    fj = json.dumps({"data": [
        {"doctitle": "平潭综合实验区2019年度政府信息公开工作年度报告", "docpuburl": "https://www.pingtan.gov.cn/zwgk/"
         "zfxxgk/zfxxgknb/202001/t20200120_80576.htm", "docreltime": "2020-01-20 10:12:00"},
        {"doctitle": "<em>平潭</em>2018年报", "chnldocurl": "./201901/t20190110_80529.htm",
         "docreltime": 1547078400000},
        {"doctitle": "no url"}], "pageCount": 2}, ensure_ascii=False)
    page = parse_search_page(fj.encode(), PINGTAN)
    assert page.items == [
        ("https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/202001/t20200120_80576.htm",
         "平潭综合实验区2019年度政府信息公开工作年度报告", "2020-01-20"),
        (PINGTAN + "201901/t20190110_80529.htm", "平潭2018年报", "2019-01-10")]
    assert page.page_count == 2 and page.total is None
    was5 = """{"count":"2","chnlname":"福建国税",
"pagenum":"1","py":'###pypy###',"dy":'###dydy###',
"docs":[{"title":"某局2023年度政府信息公开工作年度报告","url":"http://x.gov.cn/nb/202401/t20240107_1.htm",
"time":"2024-01-07","docid":"1"},
]}"""
    page = parse_search_page(was5, "http://x.gov.cn/nb/")
    assert page.items == [("http://x.gov.cn/nb/202401/t20240107_1.htm", "某局2023年度政府信息公开工作年度报告",
                           "2024-01-07")]
    assert page.total == 2
    for junk in (b"<html><body>500</body></html>", b"", b"{not json", b'{"error": "x"}', b"[1, 2]"[:0]):
        assert parse_search_page(junk, PINGTAN) is None
    assert parse_search_page(b'{"data": [], "pageCount": 0}', PINGTAN).items == []


def test_state_key_separates_the_pages_of_one_post_endpoint():
    url = "https://www.pingtan.gov.cn/fjdzapp/search"
    assert state_key(url) == url and state_key(url, "GET", b"") == url
    k2, k3 = state_key(url, "POST", b"page=2"), state_key(url, "POST", b"page=3")
    assert k2 != k3 and k2.startswith(url + "#POST:")


def test_api_request_is_the_scripts_request_in_the_portals_slot():
    spider = ColumnSpider(start_url=PINGTAN)
    spider.max_list_pages = 100
    api = SearchApi(model="list2.trsapi", endpoint="https://www.pingtan.gov.cn/fjdzapp/search", method="POST",
                    args={"channelid": "200210", "classsql": "chnlid=1813", "sortfield": "-docorderpri,-docreltime"},
                    per_page=10, record_count=20)
    req = spider.api_request(api, 2, PINGTAN)
    assert req.method == "POST" and req.url == api.endpoint
    assert req.body == b"channelid=200210&classsql=chnlid%3D1813&sortfield=-docorderpri%2C-docreltime&page=2&prepage=10"
    assert req.headers[b"Content-Type"] == b"application/x-www-form-urlencoded"
    assert req.headers[b"Referer"] == PINGTAN.encode()
    assert req.meta["download_slot"] == "www.pingtan.gov.cn" and req.meta["nianbao_role"] == "list"
    assert spider.api_request(api, 2, PINGTAN) is None  # asked once per crawl


def test_pingtan_list_page_starts_the_api_and_skips_index_probes(shared_dir):
    from nianbao.crawler.spiders.trs import TrsSpider

    spider = TrsSpider(start_url=PINGTAN)
    spider.max_list_pages = 100
    spider.crawl_db = _NullState()
    spider.policy = type("P", (), {"is_due": staticmethod(lambda row, now, target=None: True)})()
    spider.now, spider.run_id = datetime(2026, 1, 1, tzinfo=UTC), "20260101T000000Z"
    body = (shared_dir / "real" / "pingtan_list_index.html").read_bytes()
    response = HtmlResponse(PINGTAN, body=body, encoding="utf-8",
                            request=Request(PINGTAN, meta={"sub_depth": 0, "nianbao_role": "list"}))
    out = list(spider.parse_list(response))
    details = [r.url for r in out if r.meta.get("nianbao_role") == "report"]
    api = [r for r in out if r.meta.get("search_api")]
    assert len(details) == 10 and all(u.startswith(PINGTAN) for u in details)
    assert [(r.method, r.url, r.meta["api_page"]) for r in api] == [
        ("POST", "https://www.pingtan.gov.cn/fjdzapp/search", 2)]
    assert not [r for r in out if "index_1" in r.url]  # the API, not guessed index_N pages


class _NullState:
    def get(self, url):
        return None

    def update(self, url, **fields):
        pass


# ----------------------------------------------------------------------------- crawling the fixture column


@dataclass
class Crawl:
    proc: subprocess.CompletedProcess
    recs: list[Rec]
    log: list[LoggedRequest]
    withdrawn_in_state: list[str]  # crawl_state.db URLs with withdrawn_at, right after this crawl

    @property
    def summary(self) -> dict:
        return summaries(self.recs)["fixture-trsapi"]

    def api_log(self) -> list[LoggedRequest]:
        return [q for q in self.log if q.path == API_PATH]


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("apicrawl")
    data = tmp / "data"
    out: dict[str, Crawl] = {}
    with FixturePortal(tmp / "site", api_site()) as portal:
        registry = portal.write_registry(tmp / "sources.yaml")

        def crawl(name: str) -> None:
            before = set((data / "warcs").glob("*.warc.gz")) if (data / "warcs").exists() else set()
            portal.clear_log()
            proc = run_crawl(data, "--sources", str(registry), "--impolite")
            files = sorted(set((data / "warcs").glob("*.warc.gz")) - before)
            conn = sqlite3.connect(data / "crawl_state.db")
            gone = [u for (u,) in conn.execute("select url from urls where withdrawn_at is not null order by url")]
            conn.close()
            out[name] = Crawl(proc, records(data / "warcs", files), portal.requests(), gone)

        urls = {r.key: portal.report_url(r.key) for r in portal.site.portals[0].reports}
        crawl("first")
        crawl("unchanged")
        portal.fail(API_PATH, times=20, status=500)
        crawl("api_500")
        portal.fail(API_PATH, times=20, status=200)  # 200 with an HTML error page instead of JSON
        crawl("api_garbage")
        portal.fail(API_PATH, times=0)
        portal.site.robots_disallow.append("/fjdzapp/")
        portal.rebuild()
        crawl("robots")
        portal.site.robots_disallow.remove("/fjdzapp/")
        portal.remove("a15")  # listed only through the API
        crawl("removed")
        yield portal, out, urls, data


def test_all_twenty_reports_found(crawls):
    portal, out, urls, _ = crawls
    first = out["first"]
    assert first.proc.returncode == 0, first.proc.stderr[-3000:]
    s = first.summary
    assert s["complete"] is True
    assert s["report_urls"] == sorted(urls.values()) and len(s["report_urls"]) == 20
    assert s["stats"]["api_pages"] == 2 and s["stats"]["api_records"] == 11  # 10 reports + the 解读
    # every report fetched once; the 解读 the API lists is not a report
    fetched = [q.path for q in first.log if q.method == "GET" and q.path.endswith(".htm")]
    assert sorted(fetched) == sorted(u[len(portal.base_url):] for u in urls.values())
    assert "/trsapi/zwgk/zfxxgk/zfxxgknb/202503/t20250311_97990.htm" not in fetched
    # titles and dates recorded like a static list item's
    a19 = urls["a19"]
    assert s["titles"][a19] == "平川实验区财政金融局2016年度政府信息公开工作年度报告"
    assert s["dates"][a19] == "2017-02-11"


def test_api_called_as_the_pages_script_calls_it(crawls):
    portal, out, _, _ = crawls
    api = out["first"].api_log()
    assert [(q.method, q.status) for q in api] == [("POST", 200), ("POST", 200)]
    assert [q.form for q in api] == [
        {"channelid": "200210", "classsql": "chnlid=1813", "sortfield": "-docorderpri,-docreltime",
         "page": str(p), "prepage": "10"} for p in (2, 3)]
    assert all(q.user_agent.startswith("nianbao/") for q in api)
    # no guessed index_N pages on an API column
    assert not [q for q in out["first"].log if "index_" in q.path]


def test_api_exchanges_are_in_the_warc(crawls):
    portal, out, _, _ = crawls
    recs = out["first"].recs
    responses = [r for r in recs if r.type == "response" and r.url == portal.base_url + API_PATH]
    requests = [r for r in recs if r.type == "request" and r.url == portal.base_url + API_PATH]
    assert len(responses) == 2 and len(requests) == 2
    assert all(r.headers["WARC-Nianbao-Role"] == "list" for r in responses)
    assert all(r.http_headers["content-type"].startswith("application/json") for r in responses)
    bodies = sorted(r.body for r in requests)
    assert bodies == [b"channelid=200210&classsql=chnlid%3D1813&sortfield=-docorderpri%2C-docreltime"
                      + f"&page={p}&prepage=10".encode() for p in (2, 3)]
    assert all(r.status_line.startswith("POST /fjdzapp/search") for r in requests)
    ids = {r.headers["WARC-Record-ID"] for r in responses}
    assert {r.headers["WARC-Concurrent-To"] for r in requests} == ids
    pages = sorted((json.loads(r.content) for r in responses), key=lambda p: -len(p["data"]))
    assert [len(p["data"]) for p in pages] == [10, 1] and {p["pageCount"] for p in pages} == {3}


def test_unchanged_api_pages_become_revisits_of_their_own_page(crawls):
    portal, out, _, _ = crawls
    first = {json.loads(r.content)["data"][0]["docpuburl"]: r for r in out["first"].recs
             if r.type == "response" and r.url.endswith(API_PATH)}
    second = [r for r in out["unchanged"].recs if r.url.endswith(API_PATH) and r.type in ("response", "revisit")]
    assert [r.type for r in second] == ["revisit", "revisit"]
    first_ids = {r.headers["WARC-Record-ID"]: r.headers["WARC-Payload-Digest"] for r in first.values()}
    for r in second:  # each page refers to the first crawl's record of the same page
        assert first_ids[r.headers["WARC-Refers-To"]] == r.headers["WARC-Payload-Digest"]
    assert len({r.headers["WARC-Refers-To"] for r in second}) == 2
    assert out["unchanged"].summary["complete"] is True and len(out["unchanged"].summary["report_urls"]) == 20


def test_api_500_leaves_the_column_incomplete_and_withdraws_nothing(crawls):
    portal, out, urls, data = crawls
    c = out["api_500"]
    assert c.proc.returncode == 1  # a source incomplete
    s = c.summary
    assert s["complete"] is False and s["withdrawn"] == [] and s["moved"] == []
    assert len(s["report_urls"]) == 10  # only the static page was seen
    assert [q.status for q in c.api_log()] == [500, 500, 500, 500]  # retried, every attempt archived
    statuses = [r.http_status for r in c.recs if r.type == "response" and r.url.endswith(API_PATH)]
    assert statuses == [500, 500, 500, 500]
    assert {"url": portal.base_url + API_PATH, "status": 500, "class": "http_error", "role": "list",
            "api": True} in s["errors"]
    assert c.withdrawn_in_state == []


def test_api_answering_html_leaves_the_column_incomplete(crawls):
    _, out, _, _ = crawls
    s = out["api_garbage"].summary
    assert s["complete"] is False and s["withdrawn"] == [] and out["api_garbage"].withdrawn_in_state == []
    assert [e["class"] for e in s["errors"] if e["url"].endswith(API_PATH)] == ["bad_api_response"]
    assert s["stats"]["incomplete_cause"] == "search_api"


def test_robots_applies_to_the_api(crawls):
    _, out, _, _ = crawls
    c = out["robots"]
    assert c.api_log() == []  # never asked
    s = c.summary
    assert s["complete"] is False and s["withdrawn"] == [] and c.withdrawn_in_state == []
    assert [e["class"] for e in s["errors"] if e["url"].endswith(API_PATH)] == ["robots_forbidden"]
    assert s["stats"]["incomplete_cause"] == "search_api"


def test_a_report_gone_from_the_api_is_withdrawn_once_the_listing_is_whole(crawls):
    _, out, urls, _ = crawls
    s = out["removed"].summary
    assert s["complete"] is True and len(s["report_urls"]) == 19
    assert s["withdrawn"] == [urls["a15"]] and out["removed"].withdrawn_in_state == [urls["a15"]]


def test_an_interrupted_api_column_resumes_to_all_twenty(tmp_path):
    with FixturePortal(tmp_path / "site", api_site()) as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")
        first = run_crawl(tmp_path / "data", "--sources", str(registry), "--impolite", "--close-after", "4",
                          "--run-id", "r1")
        assert first.returncode == 1  # interrupted: incomplete
        second = run_crawl(tmp_path / "data", "--sources", str(registry), "--impolite", "--run-id", "r2")
        assert second.returncode == 0, second.stderr[-2000:]
    s = summaries(records(tmp_path / "data" / "warcs"))["fixture-trsapi"]
    assert s["complete"] is True and s["resumed_from"] == "r1" and len(s["report_urls"]) == 20
