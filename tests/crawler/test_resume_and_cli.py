"""An interrupted crawl resumes from its JOBDIR and loses nothing; the `nianbao crawl` front door
(--source, --start-url, --sources, exit codes)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from nianbao.crawler.fixture_portal import FixturePortal
from tests.crawler.helpers import REPO, records, run_crawl, summaries
from tests.ports import unused_port

CLI = ("import argparse, sys\n"
       "from nianbao.commands import crawl\n"
       "p = argparse.ArgumentParser(prog='nianbao'); crawl.register(p.add_subparsers())\n"
       "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))\n")


def nianbao_crawl(*args: str) -> subprocess.CompletedProcess:
    """`nianbao crawl …` through the command module (the same code path as the console script)."""
    return subprocess.run([sys.executable, "-c", CLI, "crawl", *args], capture_output=True, text=True,
                          timeout=240, cwd=REPO)


@pytest.fixture()
def portal(tmp_path):
    with FixturePortal(tmp_path / "site") as p:
        yield p


def test_interrupted_crawl_resumes_without_losing_or_repeating(portal, tmp_path):
    registry = portal.write_registry(tmp_path / "sources.yaml")
    data = tmp_path / "data"
    first = run_crawl(data, "--sources", str(registry), "--source", "fixture-static", "--impolite",
                      "--run-id", "run-a", "--close-after", "4")
    assert first.returncode == 1, first.stderr[-2000:]
    assert "fixture-static: INCOMPLETE" in first.stdout
    assert (data / "jobs" / "fixture-static").is_dir()  # kept for the resume
    part1 = summaries(records(data / "warcs"))["fixture-static"]
    assert part1["complete"] is False and part1["close_reason"] == "closespider_pagecount"
    assert part1["withdrawn"] == []  # an incomplete crawl never withdraws anything
    done_before = len(portal.requests())

    second = run_crawl(data, "--sources", str(registry), "--source", "fixture-static", "--impolite",
                       "--run-id", "run-b")
    assert second.returncode == 0, second.stderr[-2000:]
    assert not (data / "jobs" / "fixture-static").exists()  # complete: the JOBDIR is gone
    assert len(portal.requests()) > done_before
    summary = summaries(records(data / "warcs", sorted((data / "warcs").glob("*run-b*"))))["fixture-static"]
    assert summary["complete"] is True and summary["resumed_from"] == "run-a" and summary["run_id"] == "run-b"
    expected = sorted(portal.report_url(k) for k in ("s2024", "s2023", "s2022", "s2021", "s2020", "s2019",
                                                    "s2018", "sprivate"))
    assert summary["report_urls"] == expected
    # every page the two runs needed was fetched exactly once across both (nothing lost, nothing repeated)
    counts = Counter(q.path for q in portal.requests() if q.path != "/robots.txt")
    # robots.txt still obeyed when the resumed queue releases many requests at once (see
    # crawler.middlewares.SharedRobotsTxtMiddleware: upstream let this one through)
    assert "/static/zfxxgknb/private/t20240110_0001.html" not in counts
    assert {p: n for p, n in counts.items() if n > 1} == {}
    stored = {r.url for r in records(data / "warcs") if r.type == "response"
              and r.headers.get("WARC-Nianbao-Role") in ("report", "attachment") and r.http_status == 200}
    assert stored == {portal.report_url(k) for k in ("s2024", "s2023", "s2022", "s2021", "s2020", "s2018")} \
        | set(portal.attachment_urls("s2023")) | set(portal.attachment_urls("s2022"))


def test_cli_source_and_registry(portal, tmp_path):
    registry = portal.write_registry(tmp_path / "sources.yaml")
    data = tmp_path / "data"
    proc = nianbao_crawl("--data-dir", str(data), "--sources", str(registry), "--source", "fixture-years", "--impolite")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("fixture-years: complete reports=4 fetched=7 unchanged=0 skipped=0 errors=0")
    (warc,) = (data / "warcs").glob("*.warc.gz")
    assert "-fixture-years-" in warc.name
    (log,) = (data / "logs").glob("crawl-*.json")
    health = json.loads(log.read_text(encoding="utf-8"))
    assert [(h["source"], h["complete"], h["stats"]["reports_listed"]) for h in health] == [("fixture-years", True, 4)]
    paths = {q.path for q in portal.requests()}
    assert not any(p.startswith(("/static/", "/trs/")) for p in paths)


def test_cli_start_url_uses_the_generic_spider(portal, tmp_path):
    data = tmp_path / "data"
    proc = nianbao_crawl("--data-dir", str(data), "--start-url", portal.column_url("fixture-trs"), "--impolite")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("adhoc-127-0-0-1: complete reports=5 ")
    s = summaries(records(data / "warcs"))["adhoc-127-0-0-1"]
    assert s["report_urls"] == sorted(portal.report_url(k) for k in ("t2024", "t2023", "t2022", "t2021", "t2020"))


def test_cli_errors(tmp_path, portal):
    registry = portal.write_registry(tmp_path / "sources.yaml")
    proc = nianbao_crawl("--data-dir", str(tmp_path / "d"), "--sources", str(registry), "--source", "nope")
    assert proc.returncode == 2 and "no such source(s): nope" in proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: 3\n", encoding="utf-8")
    proc = nianbao_crawl("--data-dir", str(tmp_path / "d"), "--sources", str(bad))
    assert proc.returncode == 2 and "expected a top-level 'sources:' list" in proc.stderr


def test_unreachable_column_is_incomplete(tmp_path):
    # a port nothing listens on: the list page fails, the source is reported incomplete (exit 1)
    port = unused_port()
    data = tmp_path / "data"
    proc = nianbao_crawl("--data-dir", str(data), "--start-url", f"http://127.0.0.1:{port}/zfxxgknb/", "--impolite")
    assert proc.returncode == 1
    summary = summaries(records(data / "warcs"))["adhoc-127-0-0-1"]
    assert summary["complete"] is False and summary["report_urls"] == []
    assert summary["errors"][0]["url"] == f"http://127.0.0.1:{port}/zfxxgknb/"
    assert summary["errors"][0]["class"] == "DownloadConnectionRefusedError"


def test_vanished_report_behind_a_challenge_is_not_withdrawn_yet(portal, tmp_path):
    registry = portal.write_registry(tmp_path / "sources.yaml")
    data = tmp_path / "data"
    assert run_crawl(data, "--sources", str(registry), "--source", "fixture-trs", "--impolite").returncode == 0
    gone, unlisted = portal.report_url("t2021"), portal.report_url("t2020")
    portal.remove("t2021")
    portal.fail("/trs/zwgk/zfxxgk/zfxxgknb/202201/t20220119_70001.htm", times=10, status=503)
    portal.unlist("t2020")  # leaves the list, its page stays online
    assert run_crawl(data, "--sources", str(registry), "--source", "fixture-trs", "--impolite").returncode == 0
    s = summaries(records(data / "warcs", sorted((data / "warcs").glob("*.warc.gz"))[-1:]))["fixture-trs"]
    assert s["withdrawn"] == [unlisted] and s["unlisted"] == [unlisted]  # 503s decide nothing
    portal.fail("/trs/zwgk/zfxxgk/zfxxgknb/202201/t20220119_70001.htm", times=0)
    assert run_crawl(data, "--sources", str(registry), "--source", "fixture-trs", "--impolite").returncode == 0
    s = summaries(records(data / "warcs", sorted((data / "warcs").glob("*.warc.gz"))[-1:]))["fixture-trs"]
    assert s["withdrawn"] == [gone]  # now the portal says 404
