"""Crawl the fixture portal (three CMS styles, served on 127.0.0.1) twice — with edits, a removal,
a move and a new report in between — then a third time with the default revalidation policy, and
check what was found, fetched, versioned and withdrawn by reading the WARCs back with warcio."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from nianbao.crawler.fixture_portal import FixturePortal, LoggedRequest, Report
from tests.crawler.helpers import Rec, records, run_crawl, summaries


@dataclass
class Crawl:
    proc: subprocess.CompletedProcess
    files: list[Path]
    recs: list[Rec]
    log: list[LoggedRequest]

    def summary(self, source: str) -> dict:
        return summaries(self.recs)[source]

    def responses(self, role: str | None = None) -> dict[str, Rec]:
        return {r.url: r for r in self.recs if r.type == "response"
                and (role is None or r.headers.get("WARC-Nianbao-Role") == role)}

    def revisits(self) -> dict[str, Rec]:
        return {r.url: r for r in self.recs if r.type == "revisit"}

    def requested(self) -> list[str]:
        return [q.path for q in self.log]


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crawl")
    data = tmp / "data"
    out: dict[str, Crawl] = {}
    with FixturePortal(tmp / "site") as portal:
        registry = portal.write_registry(tmp / "sources.yaml")

        def crawl(name: str, *args: str) -> None:
            before = set((data / "warcs").glob("*.warc.gz")) if (data / "warcs").exists() else set()
            portal.clear_log()
            proc = run_crawl(data, "--sources", str(registry), "--impolite", *args)
            files = sorted(set((data / "warcs").glob("*.warc.gz")) - before)
            out[name] = Crawl(proc, files, records(data / "warcs", files), portal.requests())

        crawl("first")
        keys = [r.key for p in portal.site.portals for r in p.reports]
        before = {k: portal.report_url(k) for k in keys}
        before_att = {k: portal.attachment_urls(k) for k in keys}
        before_listed = {k: portal.listed_url(k) for k in keys}
        portal.edit("s2024")  # static column: ETag changes → 200 → new response record
        portal.edit("y2023a")  # year column without validators: only the digest tells
        portal.remove("t2021")
        portal.move("t2023", "202402/t20240201_90002.htm")
        portal.add("fixture-trs", Report("t2025", "丙实验区", 2025, "2026-01-10", "202601/t20260110_110001.htm"))
        crawl("second", "--revalidate", "all")
        crawl("third")  # default policy, same night: only pages never stored are retried
        yield portal, out, data, (before, before_att, before_listed)


def url(portal, path):
    return portal.base_url + path


def test_crawls_exit_zero(crawls):
    _, out, _, _ = crawls
    for name, c in out.items():
        assert c.proc.returncode == 0, (name, c.proc.stderr[-3000:])
        assert len(c.files) == 3  # one WARC per source per crawl


def test_first_crawl_finds_exactly_the_reports(crawls):
    portal, out, _, (U, A, L) = crawls
    first = out["first"]
    s = first.summary("fixture-static")
    assert s["complete"] is True
    assert s["report_urls"] == sorted(
        [U[k] for k in ("s2024", "s2023", "s2022", "s2021", "s2020", "s2019", "s2018", "sprivate")])
    assert U["s2018"] != L["s2018"]  # listed at an old URL, 301 to this one
    t = first.summary("fixture-trs")
    assert t["report_urls"] == sorted(U[k] for k in ("t2024", "t2023", "t2022", "t2021", "t2020"))
    y = first.summary("fixture-years")
    assert y["report_urls"] == sorted(U[k] for k in ("y2024a", "y2024b", "y2023a", "y2023b"))
    assert y["titles"][U["y2024b"]] == "丁区白沙街道办事处2024年度政府信息公开工作年度报告"
    assert s["titles"][U["s2021"]] == "甲区文物局2021年政府信息公开工作度报告"


def test_first_crawl_archives_reports_and_attachments(crawls):
    portal, out, _, (U, A, L) = crawls
    first = out["first"]
    reports = {u for u, r in first.responses("report").items() if r.http_status == 200}
    expected = {U[k] for k in ("s2024", "s2023", "s2022", "s2021", "s2020", "s2018",
                                               "t2024", "t2023", "t2022", "t2021", "t2020",
                                               "y2024a", "y2024b", "y2023a", "y2023b")}
    assert reports == expected
    attachments = first.responses("attachment")
    assert set(attachments) == {a for k in ("s2023", "s2022", "t2024", "t2022") for a in A[k]}
    docx_url = A["s2023"][0]
    assert attachments[docx_url].headers["WARC-Nianbao-Parent"] == U["s2023"]
    assert attachments[docx_url].body[:4] == b"PK\x03\x04"
    pdf = attachments[A["t2024"][0]]
    assert pdf.body.startswith(b"%PDF-") and pdf.http_headers["content-type"] == "application/pdf"
    from nianbao.parsers.attachments import attachment_to_html
    assert "丙实验区2024年度政府信息公开工作年度报告" in attachment_to_html(pdf.content, "application/pdf")
    assert "<table>" in attachment_to_html(attachments[docx_url].content, None)
    # list pages: static 3, TRS 3 (index, index_1, index_2 from createPageHTML), years 3 (root + 2 sub-columns)
    lists = sorted(first.responses("list"))
    assert lists == sorted([portal.column_url("fixture-static") + p for p in ("", "index_1.html", "index_2.html")]
                           + [portal.column_url("fixture-trs") + p for p in ("", "index_1.html", "index_2.html")]
                           + [portal.column_url("fixture-years") + p for p in ("", "2023n/", "2024n/")])


def test_bodies_are_stored_as_received(crawls):
    portal, out, _, (U, A, L) = crawls
    rec = out["first"].responses("report")[U["s2024"]]
    assert rec.http_headers["content-encoding"] == "gzip"
    assert rec.body[:2] == b"\x1f\x8b"  # still gzip in the WARC
    assert "甲区人民政府办公室2024年度政府信息公开工作年度报告".encode() in rec.content
    gbk = out["first"].responses("report")[U["y2024a"]]
    assert "charset=gbk" in gbk.http_headers["content-type"].lower()
    assert "丁区人民政府办公室2024年度".encode("gbk") in gbk.body
    years_list = out["first"].responses("list")[portal.column_url("fixture-years")]
    assert years_list.http_headers["content-type"] == "text/html"  # charset only in <meta>


def test_warc_records_follow_the_conventions(crawls):
    portal, out, _, (U, A, L) = crawls
    for c in out.values():
        for f in c.files:
            recs = [r for r in c.recs if r.file == f.name]
            assert recs[0].type == "warcinfo"
            info = recs[0].content.decode()
            assert "software: nianbao-crawler/" in info and "robots: obey" in info and "nianbao-settings:" in info
            assert sum(1 for r in recs if r.type == "metadata") == 1
            assert recs[-1].headers["WARC-Nianbao-Kind"] == "crawl-summary"
            assert recs[-1].headers["Content-Type"] == "application/json"
            source = recs[-1].headers["WARC-Nianbao-Source"]
            assert recs[-1].url == f"urn:nianbao:crawl-summary:{source}:{json.loads(recs[-1].content)['run_id']}"
            ids = {r.headers["WARC-Record-ID"] for r in recs if r.type in ("response", "revisit")}
            requests = [r for r in recs if r.type == "request"]
            assert requests and {r.headers["WARC-Concurrent-To"] for r in requests} == ids
            for r in recs:
                if r.type in ("response", "revisit"):
                    assert r.headers["WARC-Nianbao-Source"] in f.name
                    assert r.headers["WARC-Nianbao-Role"] in ("list", "report", "attachment", "robots", "other")
    robots = [r for r in out["first"].recs if r.type == "response" and r.url.endswith("/robots.txt")]
    assert robots and robots[0].headers["WARC-Nianbao-Role"] == "robots"
    names = [f.name for c in out.values() for f in c.files]
    assert len(set(names)) == 9


def test_warcio_check_passes(crawls):
    _, _, data, _ = crawls
    files = sorted(str(f) for f in (data / "warcs").glob("*.warc.gz"))
    proc = subprocess.run([sys.executable, "-c", "import sys; from warcio.cli import main; sys.exit(main())",
                           "check", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_politeness_robots_offsite_user_agent(crawls):
    portal, out, _, (U, A, L) = crawls
    paths = out["first"].requested()
    assert "/static/zfxxgknb/private/t20240110_0001.html" not in paths  # robots.txt Disallow
    assert "/spam/2024.html" not in paths  # localhost ≠ 127.0.0.1: offsite
    assert "/static/zfxxgknb/202503/t20250314_2002.html" not in paths  # 解读
    assert "/static/zfxxgknb/202501/t20250105_1999.html" not in paths  # 通知
    assert paths.count("/robots.txt") == 1  # one per host: its three sources share one crawler (issue 16)
    assert all(q.user_agent.startswith("nianbao/") and "+https://" in q.user_agent for q in out["first"].log)
    errors = out["first"].summary("fixture-static")["errors"]
    assert {"url": U["sprivate"], "status": None, "class": "robots_forbidden", "role": "report"} in errors


def test_junk_404_and_redirect_are_archived_not_parsed(crawls):
    portal, out, _, (U, A, L) = crawls
    first = out["first"]
    errors = {e["url"]: e for e in first.summary("fixture-static")["errors"]}
    assert errors[U["s2020"]] == {"url": U["s2020"], "status": 200, "class": "challenge_page",
                                  "role": "report"}
    assert errors[U["s2019"]]["status"] == 404
    challenge = first.responses("report")[U["s2020"]]
    assert challenge.headers["WARC-Nianbao-Junk"] == "challenge_page"
    assert first.responses("report")[U["s2019"]].http_status == 404
    moved = first.responses("report")[L["s2018"]]
    assert moved.http_status == 301 and moved.http_headers["location"] == "/static/zfxxgknb/201901/t20190130_0901.html"
    assert U["s2020"] not in first.summary("fixture-static")["fetched"]


def test_second_crawl_conditional_gets_and_revisits(crawls):
    portal, out, _, (U, A, L) = crawls
    second = out["second"]
    log = {q.path: q for q in second.log}
    unchanged_static = U["s2021"].replace(portal.base_url, "")
    assert log[unchanged_static].conditional and log[unchanged_static].status == 304
    revisits = second.revisits()
    rv = revisits[U["s2021"]]
    assert rv.headers["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
    first_rec = out["first"].responses("report")[U["s2021"]]
    assert rv.headers["WARC-Refers-To"] == first_rec.headers["WARC-Record-ID"]
    assert rv.headers["WARC-Refers-To-Date"] == first_rec.headers["WARC-Date"]
    assert rv.headers["WARC-Refers-To-Target-URI"] == U["s2021"] and "WARC-Payload-Digest" not in rv.headers
    assert rv.headers["WARC-Nianbao-Refers-To-Digest"] == first_rec.headers["WARC-Payload-Digest"]
    assert rv.http_status == 304
    # year column: no validators, so a full 200 whose digest matches → revisit with status 200
    y = revisits[U["y2024a"]]
    assert y.http_status == 200 and not log[U["y2024a"].replace(portal.base_url, "")].conditional
    assert y.headers["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    # unchanged attachments revalidated too
    assert set(A["s2022"]) <= set(revisits)


def test_second_crawl_versions_only_changed_and_new_reports(crawls):
    portal, out, _, (U, A, L) = crawls
    second = out["second"]
    new_reports = {u for u, r in second.responses("report").items()
                   if r.http_status == 200 and "WARC-Nianbao-Junk" not in r.headers}
    assert new_reports == {portal.report_url("s2024"), portal.report_url("y2023a"),
                           portal.report_url("t2025"), portal.report_url("t2023")}
    edited = second.responses("report")[portal.report_url("s2024")]
    assert "本报告于第1次更正".encode() in edited.content
    fetched = set(second.summary("fixture-static")["fetched"]) | set(second.summary("fixture-trs")["fetched"]) \
        | set(second.summary("fixture-years")["fetched"])
    assert new_reports <= fetched
    assert second.responses("attachment") == {}


def test_second_crawl_moved_and_withdrawn(crawls):
    portal, out, _, (U, A, L) = crawls
    trs = out["second"].summary("fixture-trs")
    assert trs["complete"] is True
    old_t2023 = portal.base_url + "/trs/zwgk/zfxxgk/zfxxgknb/202401/t20240120_90001.htm"
    old_t2021 = portal.base_url + "/trs/zwgk/zfxxgk/zfxxgknb/202201/t20220119_70001.htm"
    assert trs["report_urls"] == sorted(portal.report_url(k) for k in ("t2025", "t2024", "t2023", "t2022", "t2020"))
    assert trs["moved"] == [{"from": old_t2023, "to": portal.report_url("t2023")}]
    assert trs["withdrawn"] == [old_t2021]
    assert out["second"].summary("fixture-static")["withdrawn"] == []
    assert out["second"].summary("fixture-years")["withdrawn"] == []
    # the archive's rule (present in an earlier complete summary, absent from a later one) agrees
    before = set(out["first"].summary("fixture-trs")["report_urls"])
    assert before - set(trs["report_urls"]) == {old_t2021, old_t2023}


def test_third_crawl_fetches_only_what_was_never_stored(crawls):
    portal, out, _, (U, A, L) = crawls
    third = out["third"]
    details = {q.path for q in third.log if q.path != "/robots.txt"
               and not q.path.endswith("/") and "/index_" not in q.path}
    # the challenge page and the 404 have no stored copy yet: retried; every stored report is not due
    assert details == {U["s2020"].replace(portal.base_url, ""),
                       U["s2019"].replace(portal.base_url, "")}
    s = third.summary("fixture-static")
    # s2024, s2023, s2022, s2021 and s2018's listed URL (a stored 301); sprivate is re-tried and
    # refused by robots.txt again; attachments are only revisited with their parent page
    assert s["stats"]["skipped_not_due"] == 5 and s["withdrawn"] == []
    assert third.summary("fixture-trs")["stats"]["skipped_not_due"] == 5
    assert third.summary("fixture-years")["stats"]["skipped_not_due"] == 4
    assert third.summary("fixture-trs")["withdrawn"] == []  # already reported by the second crawl


def test_crawl_state_db(crawls):
    portal, _, data, (U, A, L) = crawls
    db = sqlite3.connect(data / "crawl_state.db")
    db.row_factory = sqlite3.Row
    row = db.execute("select * from urls where url = ?", [U["s2021"]]).fetchone()
    assert row["etag"].startswith('"') and row["last_modified"].endswith("GMT")
    assert row["digest"].startswith("sha1:") and row["source"] == "fixture-static" and row["role"] == "report"
    assert row["fetch_count"] == 2
    gone = db.execute("select withdrawn_at from urls where url like '%t20220119_70001.htm'").fetchone()
    assert gone["withdrawn_at"]
    y = db.execute("select etag, digest from urls where url = ?", [U["y2023a"]]).fetchone()
    assert y["etag"] is None and y["digest"]
