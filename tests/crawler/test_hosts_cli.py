"""Hosts as the unit of a crawl: `sources_by_host`, `--host`, `--worker-id`, `--max-hosts` and
`--hosts-per-process` (several child processes, one merged health log)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack

import yaml

from nianbao.crawler.fixture_portal import FixturePortal, Portal, Report, Site
from nianbao.crawler.registry import Source, source_host, sources_by_host
from tests.crawler.helpers import REPO, records, run_crawl, summaries


def test_sources_by_host_groups_by_hostname_and_port_in_a_stable_order():
    def src(name: str, url: str) -> Source:
        return Source(name=name, start_urls=(url,))

    got = sources_by_host([src("b", "https://WWW.X.gov.cn/a/"), src("a", "http://127.0.0.1:8081/nb/"),
                           src("c", "http://www.x.gov.cn/b/"), src("d", "http://127.0.0.1:8080/nb/"),
                           src("e", "http://www.x.gov.cn:8443/c/")])
    assert list(got) == ["127.0.0.1:8080", "127.0.0.1:8081", "www.x.gov.cn", "www.x.gov.cn:8443"]
    assert [s.name for s in got["www.x.gov.cn"]] == ["b", "c"]  # registry order within a host
    assert source_host(src("f", "https://Yangling.gov.cn/zwgk/")) == "yangling.gov.cn"


def two_columns(tag: str) -> Site:
    return Site(portals=[
        Portal(name=f"{tag}-{d}", style="static", column=f"/c{d}/zfxxgknb/", per_page=10, reports=[
            Report(f"{tag}{d}r{y}", f"第{d}局", y, f"{y + 1}-01-20",
                   f"{y + 1}01/t{y + 1}0120_{700 + 10 * d + y % 10}.html")
            for y in (2024, 2023)])
        for d in range(2)])


def test_three_hosts_in_batches_of_two_processes_one_health_log(tmp_path):
    with ExitStack() as stack:
        portals = [stack.enter_context(FixturePortal(tmp_path / f"site{h}", two_columns(f"h{h}"))) for h in range(3)]
        registry = tmp_path / "sources.yaml"
        registry.write_text(yaml.safe_dump({"sources": [e for p in portals for e in p.registry()["sources"]]},
                                           allow_unicode=True), encoding="utf-8")
        data = tmp_path / "data"
        proc = run_crawl(data, "--sources", str(registry), "--impolite", "--run-id", "b",
                         "--hosts-per-process", "2", "--max-hosts", "1", "--worker-id", "box/1")
        logs = [p.requests() for p in portals]
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    names = [f"h{h}-{d}" for h in range(3) for d in range(2)]
    health = json.loads((data / "logs" / "crawl-b.json").read_text(encoding="utf-8"))
    assert sorted(e["source"] for e in health) == names and all(e["complete"] for e in health)
    assert sorted(p.name for p in (data / "logs").iterdir()) == ["crawl-b.json"]  # the batches' parts merged
    for log in logs:
        paths = Counter(q.path for q in log)
        assert paths["/robots.txt"] == 1 and max(paths.values()) == 1 and len(log) == 1 + 2 * 3
    files = sorted(f.name for f in (data / "warcs").iterdir())
    assert len(files) == 6 and all("-box_1-" in f and f.endswith(".warc.gz") for f in files)
    pids = {f.rsplit("-", 1)[1] for f in files}
    assert len(pids) == 2  # two child processes
    got = summaries(records(data / "warcs"))
    assert sorted(got) == names and all(s["complete"] and len(s["report_urls"]) == 2 for s in got.values())
    assert not list((data / "jobs").iterdir())  # every host finished: no JOBDIR kept


def test_host_option_crawls_only_that_hosts_sources(tmp_path):
    with FixturePortal(tmp_path / "a", two_columns("a")) as a, FixturePortal(tmp_path / "b", two_columns("b")) as b:
        registry = tmp_path / "sources.yaml"
        registry.write_text(yaml.safe_dump({"sources": a.registry()["sources"] + b.registry()["sources"]},
                                           allow_unicode=True), encoding="utf-8")
        proc = run_crawl(tmp_path / "data", "--sources", str(registry), "--impolite",
                         "--host", f"127.0.0.1:{b.server.port}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert a.requests() == [] and len(b.requests()) == 7
    assert sorted(summaries(records(tmp_path / "data" / "warcs"))) == ["b-0", "b-1"]


def test_ctrl_c_keeps_the_running_hosts_jobdir_and_starts_no_other_host(tmp_path):
    with ExitStack() as stack:
        portals = [stack.enter_context(FixturePortal(tmp_path / f"site{h}", two_columns(f"h{h}"))) for h in range(3)]
        registry = tmp_path / "sources.yaml"
        registry.write_text(yaml.safe_dump({"sources": [e for p in portals for e in p.registry()["sources"]]},
                                           allow_unicode=True), encoding="utf-8")
        data = tmp_path / "data"
        # polite (slow) so that the interrupt lands in the first host; one host at a time
        proc = subprocess.Popen([sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(data), "--sources",
                                 str(registry), "--max-hosts", "1", "--run-id", "x"], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 60
        while sum(len(p.requests()) for p in portals) < 3:  # robots.txt and two list pages: under way
            assert proc.poll() is None and time.monotonic() < end, "the crawl did not get going"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, err[-2000:]
        health = {e["source"]: e for e in json.loads((data / "logs" / "crawl-x.json").read_text(encoding="utf-8"))}
        started = [h for h, p in enumerate(portals) if p.requests()]
        assert len(started) == 1  # the next host was never started
        for h in range(3):
            for d in range(2):
                e = health[f"h{h}-{d}"]
                if h in started:
                    assert e["close_reason"] == "shutdown" and e["stats"]["incomplete_cause"] == "interrupted"
                else:
                    assert e == {"source": f"h{h}-{d}", "complete": False,
                                 "error": "not started: the crawl was interrupted"}
        assert [p.name for p in (data / "jobs").iterdir()] == [
            f"host-127.0.0.1_{portals[started[0]].server.port}"]  # the interrupted host resumes from it
        again = run_crawl(data, "--sources", str(registry), "--impolite", "--run-id", "y")
        assert again.returncode == 0, again.stderr[-2000:]
        for p in portals:
            paths = Counter(q.path for q in p.requests() if q.path != "/robots.txt")
            assert len(paths) == 2 * 3  # every list and report page of every host
    got = summaries(records(data / "warcs"))
    assert all(s["complete"] for s in got.values()) and len(got) == 6


def test_ad_hoc_columns_of_one_host_are_one_source():
    from nianbao.crawler.run import build_parser, select_sources

    args = build_parser().parse_args(["--start-url", "http://x.gov.cn/a/", "--start-url", "http://y.gov.cn/nb/",
                                      "--start-url", "http://x.gov.cn/b/"])
    assert [(s.name, s.start_urls) for s in select_sources(args)] == [
        ("adhoc-x-gov-cn", ("http://x.gov.cn/a/", "http://x.gov.cn/b/")), ("adhoc-y-gov-cn", ("http://y.gov.cn/nb/",))]
