"""Recovery (issue 15 pt 3): what was not a real report is fetched again on the next crawl, and the
portal's Retry-After is honoured. Real crawls of a fixture portal whose faults are switched on for
night 1 and off for night 2 (`FixturePortal.fault` / `recover`)."""

from __future__ import annotations

import os
import subprocess
import sys
from email.utils import parsedate_to_datetime

import pytest

from nianbao.crawler.fixture_portal import FixturePortal, Portal, Report, Site
from nianbao.crawler.state import CrawlState, good_copy
from tests.crawler.helpers import REPO, records, run_crawl, summaries

TITLE = "年度政府信息公开工作年度报告"


def _site() -> Site:
    reports = [Report(f"r{i}", f"测试区第{i}局", 2024, "2025-01-20", f"202501/t202501{20 + i}_{5000 + i}.html")
               for i in range(4)]
    reports.append(Report("rpdf", "测试区第9局", 2024, "2025-01-29", "202501/t20250129_5009.html", kind="pdf"))
    return Site(portals=[Portal(name="rec", style="static", column="/rec/zfxxgknb/", per_page=10, reports=reports)])


def _details(portal: FixturePortal, since: int = 0) -> list[str]:
    return [q.path for q in portal.requests()[since:] if "/t2025" in q.path or q.path.endswith(".pdf")]


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("recovery")
    with FixturePortal(root / "site", _site()) as portal:
        registry = portal.write_registry(root / "sources.yaml")
        data = root / "data"
        paths = {
            "empty": portal.fault("r0", "empty"),
            "waf": portal.fault("r1", "waf"),
            "loop": portal.fault("r2", "loop"),
            "attachment": portal.fault(portal.attachment_urls("rpdf")[0][len(portal.base_url):], "empty"),
        }
        first = run_crawl(data, "--sources", str(registry), "--impolite", "--run-id", "night1")
        n1 = len(portal.requests())
        portal.recover()
        second = run_crawl(data, "--sources", str(registry), "--impolite", "--run-id", "night2")
        n2 = len(portal.requests())
        third = run_crawl(data, "--sources", str(registry), "--impolite", "--run-id", "night3")
        night2 = [p for p in _details(portal, n1)][: len(_details(portal, n1)) - len(_details(portal, n2))]
        yield {"portal": portal, "data": data, "paths": paths, "first": first, "second": second, "third": third,
               "night2": night2, "night3": _details(portal, n2)}


def _summary(data, run):
    return summaries(records(data / "warcs", sorted((data / "warcs").glob(f"*{run}*"))))["rec"]


def test_night1_archives_the_faulty_answers_but_records_no_good_copy(nights):
    data, paths, base = nights["data"], nights["paths"], nights["portal"].base_url
    assert nights["first"].returncode == 0, nights["first"].stderr[-2000:]
    s = _summary(data, "night1")
    errors = {e["url"]: e["class"] for e in s["errors"]}
    assert errors == {base + paths["empty"]: "empty_response", base + paths["waf"]: "unrecognised_page",
                      base + paths["loop"]: "redirect_loop", base + paths["attachment"]: "empty_response"}
    recs = records(data / "warcs", sorted((data / "warcs").glob("*night1*")))
    kept = {r.url: r for r in recs if r.type == "response"}
    # nothing archived is lost: the empty body and the gateway page are response records
    assert kept[base + paths["empty"]].content == b"" and kept[base + paths["empty"]].http_status == 200
    assert b"gw-root" in kept[base + paths["waf"]].content
    assert kept[base + paths["loop"]].http_status == 302
    assert kept[base + paths["loop"] + "_loop"].http_status == 302
    assert kept[base + paths["attachment"]].content == b""


def test_night2_fetches_and_stores_each_report_once_recovered(nights):
    data, paths, base, portal = nights["data"], nights["paths"], nights["portal"].base_url, nights["portal"]
    assert nights["second"].returncode == 0, nights["second"].stderr[-2000:]
    # exactly the faulty pages are asked again; the good copies are not due
    assert sorted(nights["night2"]) == sorted([paths["empty"], paths["waf"], paths["loop"], paths["attachment"]])
    s = _summary(data, "night2")
    assert s["errors"] == [] and s["complete"] is True
    assert sorted(s["fetched"]) == sorted(base + p for p in paths.values())
    recs = records(data / "warcs", sorted((data / "warcs").glob("*night2*")))
    stored = {r.url: r for r in recs if r.type == "response"}
    for key in ("r0", "r1", "r2"):
        r = stored[portal.report_url(key)]
        assert r.http_status == 200 and TITLE in r.content.decode("utf-8")
    assert stored[base + paths["attachment"]].content.startswith(b"%PDF")
    state = CrawlState(data / "crawl_state.db")
    try:
        for url in [*(base + p for p in paths.values()), portal.report_url("r3")]:
            row = state.get(url)
            assert good_copy(row), row
    finally:
        state.close()


def test_night3_asks_for_nothing_recovered(nights):
    assert nights["third"].returncode == 0, nights["third"].stderr[-2000:]
    assert nights["night3"] == []  # recovered copies set the cycle like any good copy


# -- Retry-After --------------------------------------------------------------------------------------
def _one_report_site() -> Site:
    return Site(portals=[Portal(name="ra", style="static", column="/ra/zfxxgknb/", per_page=10, reports=[
        Report("q0", "测试区甲局", 2024, "2025-01-20", "202501/t20250120_6000.html"),
        Report("q1", "测试区乙局", 2024, "2025-01-21", "202501/t20250121_6001.html")])])


def _crawl_with_fault(tmp_path, env: dict[str, str] | None = None, **fault) -> tuple[list, subprocess.CompletedProcess]:
    with FixturePortal(tmp_path / "site", _one_report_site()) as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")
        path = portal.fault("q0", "status", times=1, **fault)
        proc = subprocess.run([sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(tmp_path / "data"),
                               "--sources", str(registry), "--impolite", "--run-id", "ra"],
                              capture_output=True, text=True, timeout=240, cwd=REPO,
                              env={**os.environ, **(env or {})})
        return [q for q in portal.requests() if q.path == path], proc


def test_retry_after_seconds_on_429(tmp_path):
    asked, proc = _crawl_with_fault(tmp_path, status=429, headers={"Retry-After": "2"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [q.status for q in asked] == [429, 200]
    assert asked[1].time - asked[0].time >= 2.0


def test_retry_after_http_date_on_503(tmp_path):
    asked, proc = _crawl_with_fault(tmp_path, status=503, retry_after_in=3)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [q.status for q in asked] == [503, 200]
    recs = records(tmp_path / "data" / "warcs")
    first = next(r for r in recs if r.type == "response" and r.http_status == 503)
    not_before = parsedate_to_datetime(first.http_headers["retry-after"]).timestamp()
    assert asked[1].wall >= not_before


def test_retry_after_is_capped(tmp_path):
    asked, proc = _crawl_with_fault(tmp_path, env={"NIANBAO_RETRY_AFTER_MAX": "1.5"}, status=429,
                                    headers={"Retry-After": "3600"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [q.status for q in asked] == [429, 200]
    assert 1.5 <= asked[1].time - asked[0].time < 60
