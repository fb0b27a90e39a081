"""Unit tests of the crawler's pure parts: junk classifier, registry, revalidation policy,
attachments → HTML, the fixture PDF writer, WARC naming."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import docx
import pytest

from nianbao.crawler.fixture_portal.pdf import make_pdf
from nianbao.crawler.registry import DEFAULT_REGISTRY, RegistryError, adhoc_source, load_sources
from nianbao.crawler.state import CrawlState, Policy, iso
from nianbao.parsers.attachments import attachment_to_html
from nianbao.parsers.junk import classify_junk


# -- junk ---------------------------------------------------------------------------------------
def test_real_report_pages_are_not_junk(shared_dir):
    for page in sorted((shared_dir / "real").glob("*.html")):
        assert classify_junk(page.read_bytes(), page.name) is None, page.name


@pytest.mark.parametrize("body, expected", [
    ("<html><head><title>安全验证</title></head><body><script>document.cookie='__jsl_clearance=1';"
     "location.href=location.href</script></body></html>", "challenge_page"),
    ("<html><body><noscript>Please enable JavaScript to continue</noscript></body></html>", "challenge_page"),
    ("<html><head><title>404</title></head><body><h1>抱歉，您访问的页面不存在！</h1>"
     "<a href='/'>返回首页</a></body></html>",
     "not_found_page"),
    ("<html><head><title>页面不存在</title></head><body>x</body></html>", "not_found_page"),
    ("<html><head><title>统一身份认证</title></head><body><form>用户名<input name=u>密码"
     "<input type='password' name=p><button>请登录</button></form></body></html>", "login_wall"),
    ("<html><body><h1>某区2023年政府信息公开工作年度报告</h1><table><tr><td>规章</td><td>0</td></tr></table></body></html>",
     None),
])
def test_junk_classes(body, expected):
    assert classify_junk(body.encode("utf-8"), "http://x.gov.cn/t.html") == expected


def test_junk_gbk_page():
    body = "<html><head><title>页面不存在</title></head><body>对不起，页面不存在</body></html>".encode("gbk")
    assert classify_junk(body, "") == "not_found_page"
    assert classify_junk(b"", "") is None


# -- registry -----------------------------------------------------------------------------------
def test_bundled_registry_has_the_real_columns_unverified():
    sources = {s.name: s for s in load_sources(DEFAULT_REGISTRY)}
    assert len(sources) == 12
    pingtan = sources["pingtan"]
    assert pingtan.start_urls == ("https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/",)
    assert pingtan.platform == "trs" and pingtan.division_code == "350128" and pingtan.agency == "平潭综合实验区"
    assert pingtan.domains == ("pingtan.gov.cn",)
    assert all(not s.verified and s.robots_obey for s in sources.values())
    assert sources["mva"].platform == "trs"


def test_registry_rejects_robots_override_without_reason(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n- name: x\n  start_urls: ['http://a.gov.cn/']\n  robots: {ignore: ''}\n",
                   encoding="utf-8")
    with pytest.raises(RegistryError, match="written reason"):
        load_sources(bad)
    good = tmp_path / "good.yaml"
    good.write_text("sources:\n- name: x\n  start_urls: ['http://a.gov.cn/']\n"
                    "  robots: {ignore: 'robots.txt disallows / for all agents; the agency asked us to archive'}\n",
                    encoding="utf-8")
    (src,) = load_sources(good)
    assert not src.robots_obey and src.robots_reason.startswith("robots.txt disallows")


@pytest.mark.parametrize("text, message", [
    ("sources:\n- name: x\n  start_urls: []\n", "start_urls"),
    ("sources:\n- name: 'a b'\n  start_urls: ['http://a/']\n", "name"),
    ("sources:\n- name: x\n  start_urls: ['http://a/']\n  platform: joomla\n", "platform"),
    ("sources:\n- name: x\n  start_urls: ['http://a/']\n- name: x\n  start_urls: ['http://b/']\n", "duplicate"),
    ("nothing: here\n", "sources"),
])
def test_registry_errors(tmp_path, text, message):
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError, match=message):
        load_sources(path)


def test_adhoc_source():
    s = adhoc_source("http://www.lianxi.gov.cn/zfxxgk/zfxxgknb/")
    assert s.name == "adhoc-www-lianxi-gov-cn" and s.domains == ("lianxi.gov.cn",) and s.platform == "generic"


# -- revalidation policy ------------------------------------------------------------------------
def test_policy_rotates_one_bucket_per_night():
    policy = Policy(cycle_days=30)
    t0 = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    rows = [{"url": f"http://x/{i}.html", "digest": "sha1:X", "last_fetch": iso(t0)} for i in range(3000)]
    assert sum(policy.is_due(r, t0 + timedelta(hours=1)) for r in rows) == 0  # just fetched
    next_night = t0 + timedelta(days=1)
    due = sum(policy.is_due(r, next_night) for r in rows)
    assert 60 <= due <= 140  # ~3000/30
    # over a full cycle every URL comes due exactly once (before the 30-day overdue rule kicks in)
    seen = {r["url"] for d in range(1, 30) for r in rows if policy.is_due(r, t0 + timedelta(days=d))}
    late = {r["url"] for r in rows if policy.is_due(r, t0 + timedelta(days=30))}
    assert seen | late == {r["url"] for r in rows}
    assert policy.is_due(None, t0) and policy.is_due({"url": "u", "digest": None}, t0)
    stored = {"url": "u", "digest": "sha1:X", "last_fetch": iso(t0)}
    assert not policy.is_due(stored, t0)
    assert policy.is_due(dict(stored, junk="challenge_page"), t0)  # a challenge hid the page last time
    assert policy.is_due(dict(stored, status=503), t0)
    assert Policy(mode="all").is_due(rows[0], t0) and not Policy(mode="none").is_due(rows[0], t0)


def test_crawl_state_roundtrip_and_redirect_resolution(tmp_path):
    st = CrawlState(tmp_path / "s.db")
    st.update("http://a/old", source="s", status=301, location="http://a/new")
    st.update("http://a/new", source="s", status=200, digest="sha1:Y", etag='"e"')
    assert st.resolve("http://a/old") == "http://a/new"
    assert st.get("http://a/new")["etag"] == '"e"'
    assert st.get("http://a/none") is None


# -- attachments --------------------------------------------------------------------------------
def test_pdf_attachment_text_and_table():
    pdf = make_pdf(["某区2022年度政府信息公开工作年度报告", "二、主动公开政府信息情况"],
                   [["信息内容", "本年制发件数"], ["规章", "0"], ["行政规范性文件", "12"]])
    html = attachment_to_html(pdf, "application/pdf")
    assert "<p>某区2022年度政府信息公开工作年度报告</p>" in html
    assert "<tr><td>行政规范性文件</td><td>12</td></tr>" in html
    assert html.index("二、主动公开") < html.index("<table>")


def test_image_only_pdf_has_no_text():
    html = attachment_to_html(make_pdf([], image_only=True), "application/pdf")
    assert html is not None and "<table>" not in html and "<p>" not in html


def test_docx_attachment_with_merged_cells():
    d = docx.Document()
    d.add_paragraph("某局2023年度政府信息公开工作年度报告")
    t = d.add_table(rows=3, cols=3)
    t.cell(0, 0).merge(t.cell(0, 1)).text = "第二十条第（一）项"
    t.cell(1, 0).merge(t.cell(2, 0)).text = "规章"
    t.cell(1, 1).text, t.cell(1, 2).text = "3", "4"
    buf = io.BytesIO()
    d.save(buf)
    html = attachment_to_html(buf.getvalue(), None)  # sniffed by magic, not by Content-Type
    assert "<p>某局2023年度政府信息公开工作年度报告</p>" in html
    assert '<td colspan="2">第二十条第（一）项</td>' in html
    assert '<td rowspan="2">规章</td><td>3</td><td>4</td>' in html


def test_unreadable_attachments_give_none():
    assert attachment_to_html(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old-doc", "application/msword") is None
    assert attachment_to_html(b"%PDF-1.4 broken", "application/pdf") is None
    assert attachment_to_html(b"", None) is None


# -- recovery: what is a good copy, Retry-After, a killed crawl's WARC -------------------------------------
def test_suspect_page_asks_does_it_look_like_the_real_thing():
    from nianbao.crawler.fixture_portal.server import UNKNOWN_WAF_PAGE
    from nianbao.parsers.junk import suspect_page

    assert suspect_page(b"", "text/html", "report") == "empty_response"
    assert suspect_page(b"  \r\n", "application/pdf", "attachment") == "empty_response"
    assert suspect_page(UNKNOWN_WAF_PAGE, "text/html", "report") == "unrecognised_page"
    assert suspect_page(b"<html><body><script>location.href='/x'</script></body></html>", "", "list") \
        == "unrecognised_page"
    assert suspect_page(b"<html><title>x</title>" + UNKNOWN_WAF_PAGE, "application/pdf", "attachment") \
        == "unrecognised_page"  # HTML served as a PDF
    assert suspect_page("<html><h1>某区2024年度政府信息公开工作年度报告</h1></html>".encode(), "text/html") is None
    assert suspect_page(b"<html><a href='/u/P0123.pdf'>x</a></html>", "text/html", "report") is None
    assert suspect_page(b"<html><table><tr><td>1</td></tr></table></html>", "text/html", "report") is None
    assert suspect_page(b"%PDF-1.4 ...", "application/pdf", "attachment") is None
    assert suspect_page(b"<html>{}</html>", "text/html", "api") is None  # the API's parser judges it


def test_retry_after_seconds_and_http_date():
    from nianbao.crawler.middlewares import retry_after_seconds

    now = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    assert retry_after_seconds(b"120", now) == 120.0
    assert retry_after_seconds("Thu, 01 Jan 2026 02:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Thu, 01 Jan 2026 01:00:00 GMT", now) == 0.0  # in the past
    assert retry_after_seconds(None, now) is None and retry_after_seconds(b"soon", now) is None


def test_policy_redirects_and_loops_are_no_copy(tmp_path):
    t0 = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    st = CrawlState(tmp_path / "s.db")
    policy = Policy()
    st.update("http://a/old", status=301, location="http://a/new", last_fetch=iso(t0))
    st.update("http://a/new", status=200, digest="sha1:Y", last_fetch=iso(t0))
    st.update("http://a/l1", status=302, location="http://a/l2", last_fetch=iso(t0))
    st.update("http://a/l2", status=302, location="http://a/l1", last_fetch=iso(t0))
    st.update("http://a/empty", status=200, digest="sha1:E", junk="empty_response", last_fetch=iso(t0))
    assert st.resolve("http://a/l1") == "http://a/l1" and st.target("http://a/l1") is None
    assert not policy.is_due(st.get("http://a/old"), t0, st.target("http://a/old"))  # moved, stored: not due
    assert policy.is_due(st.get("http://a/l1"), t0, st.target("http://a/l1"))  # a loop is due again
    assert policy.is_due(st.get("http://a/empty"), t0)
    st.update("http://a/new", junk="unrecognised_page")  # the target's last answer was a gateway page
    assert policy.is_due(st.get("http://a/old"), t0, st.target("http://a/old"))
    st.close()


def test_reconcile_records_what_a_killed_crawl_wrote(tmp_path):
    from scrapy.http import HtmlResponse, Request

    from nianbao.crawler.reconcile import reconcile
    from nianbao.crawler.warc import WarcRecorder, payload_digest

    warcs = tmp_path / "warcs"
    st = CrawlState(tmp_path / "s.db")
    assert reconcile(st, warcs, "src") == 0  # the table starts with the files already there
    body = "<html><title>甲区2024年度政府信息公开工作年度报告</title></html>".encode()
    rec = WarcRecorder(warcs, "killed", "src", {})
    for url, data, junk in (("http://a/good.html", body, None), ("http://a/empty.html", b"", None),
                            ("http://a/waf.html", body, "challenge_page")):
        resp = HtmlResponse(url, body=data, headers={"ETag": '"e1"', "Content-Type": "text/html"},
                            request=Request(url))
        rec.write_response(resp, "report", None, junk)
    rec.close()  # no crawl-summary: the process was killed before its state commits
    assert reconcile(st, warcs, "src") == 1
    row = st.get("http://a/good.html")
    assert (row["digest"], row["etag"], row["status"]) == (payload_digest(body), '"e1"', 200)
    assert st.get("http://a/empty.html") is None and st.get("http://a/waf.html") is None
    assert reconcile(st, warcs, "src") == 0  # each file is read once
    st.close()


def test_no_real_page_is_suspect(shared_dir):
    from nianbao.parsers.junk import suspect_page

    pages = sorted((shared_dir / "real").glob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        role = "list" if "list" in page.name else "report"
        assert suspect_page(page.read_bytes(), "text/html", role) is None, page.name


def test_a_failed_revalidation_leaves_the_page_due(tmp_path):
    from scrapy.http import Request
    from twisted.python.failure import Failure

    from nianbao.crawler.spiders.column import ColumnSpider

    t0 = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    spider = ColumnSpider(start_url="http://a.gov.cn/nb/")
    spider.crawl_db = CrawlState(tmp_path / "s.db")
    spider.run_id = "r"
    url = "http://a.gov.cn/nb/t1.html"
    spider.crawl_db.update(url, status=200, digest="sha1:X", record_date="2026-01-01T01:00:00Z",
                           last_fetch=iso(t0))
    assert not Policy().is_due(spider.crawl_db.get(url), t0 + timedelta(hours=1))  # just checked
    try:
        raise TimeoutError("took too long")
    except TimeoutError:
        failure = Failure()
    failure.request = Request(url, meta={"nianbao_role": "report"})
    spider.on_error(failure)
    row = spider.crawl_db.get(url)
    assert row["junk"] == "TimeoutError" and row["digest"] == "sha1:X"  # the stored copy is kept
    assert Policy().is_due(row, t0 + timedelta(hours=1))
    assert spider.state["errors"] == [{"url": url, "status": None, "class": "TimeoutError", "role": "report"}]
    spider.crawl_db.close()
