"""Real interruptions of a crawl of a 300-report column: Ctrl-C (SIGINT: Scrapy closes cleanly and
the JOBDIR resumes) and kill -9 (the JOBDIR is discarded, the crawl state avoids re-fetching).
Either way the next run completes and every report is stored."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from urllib.parse import urlparse

import pytest

from nianbao.crawler.fixture_portal import FixturePortal, big_site
from tests.crawler.helpers import REPO, records, run_crawl, summaries


def start_crawl(data, registry) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(data),
                             "--sources", str(registry), "--impolite", "--run-id", "part1"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_requests(portal, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while len(portal.requests()) < n:
        assert proc.poll() is None, "the crawl ended before it could be interrupted"
        assert time.monotonic() < end, "the crawl did not get going"
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_interrupted_crawl_completes_on_the_next_run(tmp_path, sig):
    with FixturePortal(tmp_path / "site", big_site(300, 20)) as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")
        data = tmp_path / "data"
        proc = start_crawl(data, registry)
        wait_for_requests(portal, 60, proc)
        os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=120)
        jobdir = data / "jobs" / "bench"
        if sig == signal.SIGINT:
            assert proc.returncode == 1, err[-2000:]
            assert "bench: INCOMPLETE" in out
            assert (jobdir / "spider.state").exists()
        else:
            assert proc.returncode == -signal.SIGKILL
        interrupted_at = len(portal.requests())
        assert interrupted_at < 300
        fetched_before = {q.path for q in portal.requests() if "/t20" in q.path}
        part1 = sorted((data / "warcs").glob("*part1*"))
        stored_before = {urlparse(r.url).path for r in records(data / "warcs", part1)
                         if r.type in ("response", "revisit") and "/t20" in r.url}

        done = run_crawl(data, "--sources", str(registry), "--impolite", "--run-id", "part2")
        assert done.returncode == 0, done.stderr[-2000:]
        assert not jobdir.exists()
        if sig == signal.SIGKILL:
            assert "discarding the JOBDIR of a killed crawl" in done.stderr
        details = Counter(q.path for q in portal.requests() if "/t20" in q.path)
        assert len(details) == 300
        repeated = sum(n - 1 for n in details.values())
        if sig == signal.SIGINT:
            assert repeated == 0  # in-flight requests finished before the clean close
        else:
            # only what the killed process had fetched but not yet written to its WARC (requests in
            # flight, responses still queued for the pipeline) is fetched again
            refetched = {path for path, n in details.items() if n > 1}
            assert len(stored_before) > 0 and refetched <= fetched_before - stored_before
    part2 = sorted((data / "warcs").glob("*part2*"))
    s = summaries(records(data / "warcs", part2))["bench"]
    assert s["complete"] is True and len(s["report_urls"]) == 300
    if sig == signal.SIGINT:
        assert s["resumed_from"] == "part1"
    # even the WARC of the killed process is whole: records are written with one write() each
    files = [str(f) for f in sorted((data / "warcs").glob("*.warc.gz"))]
    check = subprocess.run([sys.executable, "-c", "import sys; from warcio.cli import main; sys.exit(main())",
                            "check", *files], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    stored = {r.url for r in records(data / "warcs")
              if r.type == "response" and r.headers.get("WARC-Nianbao-Role") == "report"}
    assert len(stored) == 300


def test_kill_between_the_warc_record_and_the_state_commit(tmp_path):
    """The race a kill -9 can hit on a loaded machine, made certain: the crawler dies right after a
    response record is written, before the crawl state records it. The next crawl reads the killed
    crawl's WARC (crawler/reconcile.py) and fetches none of the pages stored before the kill."""
    with FixturePortal(tmp_path / "site", big_site(40, 20)) as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")
        data = tmp_path / "data"
        killed = subprocess.run([sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(data), "--sources",
                                 str(registry), "--impolite", "--run-id", "part1"], cwd=REPO, capture_output=True,
                                text=True, timeout=240, env={**os.environ, "NIANBAO_TEST_KILL_AFTER_RESPONSES": "12"})
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        stored_before = {urlparse(r.url).path for r in records(data / "warcs")
                         if r.type == "response" and "/t20" in r.url}
        assert len(stored_before) >= 5
        before = len(portal.requests())
        done = run_crawl(data, "--sources", str(registry), "--impolite", "--run-id", "part2")
        assert done.returncode == 0, done.stderr[-2000:]
        assert "stored copies of a killed crawl recorded in the crawl state" in done.stderr
        again = {q.path for q in portal.requests()[before:] if "/t20" in q.path}
        assert again and not again & stored_before
        assert len(stored_before | again) == 40
