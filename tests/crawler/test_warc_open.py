"""A WARC file is named `….warc.gz.open` while a crawl writes it and gets its final name on close
(crawler/warc.py), so a build never reads a file being written; a kill -9 leaves the `.open` name,
the build skips it, and the next crawl reconciles it, checks it and closes it (crawler/reconcile.py),
after which the build reads it exactly once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from scrapy.http import HtmlResponse

from nianbao.config import DataDir
from nianbao.crawler.fixture_portal import FixturePortal, big_site
from nianbao.crawler.reconcile import check_warc, reconcile
from nianbao.crawler.state import CrawlState
from nianbao.crawler.warc import OPEN_SUFFIX, WarcRecorder
from tests.crawler.helpers import REPO, read_warc, records, run_crawl

NIANBAO = str(Path(sys.executable).with_name("nianbao"))


def warcio_check(files: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from warcio.cli import main; sys.exit(main())",
                           "check", *map(str, files)], capture_output=True, text=True)


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until `predicate()` holds while `proc` runs (a state to observe, not a delay)."""
    end = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "the crawl ended first"
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def build(data: Path) -> dict:
    done = subprocess.run([NIANBAO, "build", "--data-dir", str(data)], capture_output=True, text=True, cwd=REPO,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    db = sqlite3.connect(data / "nianbao.db")
    try:
        inputs = json.loads(db.execute("select inputs from runs order by started desc limit 1").fetchone()[0])
        files = dict(db.execute("select warc_file, count(*) from captures group by warc_file").fetchall())
        reports = db.execute("select count(distinct url) from captures where role = 'report' and http_status = 200"
                             ).fetchone()[0]
    finally:
        db.close()
    return {"inputs": [Path(p).name for p in inputs], "files": files, "reports": reports}


def test_open_while_written_final_name_after_close(tmp_path):
    with FixturePortal(tmp_path / "site", big_site(6, 20)) as portal:
        portal.fault("b0", "drip", times=1, size=30, interval=0.05)  # a slow page keeps the crawl going
        registry = portal.write_registry(tmp_path / "sources.yaml")
        data = tmp_path / "data"
        warcs = data / "warcs"
        proc = subprocess.Popen([sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(data), "--sources",
                                 str(registry), "--impolite", "--run-id", "slow"], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        slow = portal.report_url("b0")[len(portal.base_url):]
        wait_for(lambda: any(q.path == slow for q in portal.requests()), proc)
        during = sorted(p.name for p in warcs.iterdir())
        closed_during = DataDir.resolve(str(data)).warc_files()
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert len(during) == 1 and during[0].endswith(".warc.gz" + OPEN_SUFFIX), during
    assert closed_during == []  # what a build would read: nothing
    after = sorted(warcs.iterdir())
    assert [p.name for p in after] == [during[0][: -len(OPEN_SUFFIX)]]
    check = warcio_check(after)
    assert check.returncode == 0, check.stdout + check.stderr
    reports = {r.url for r in read_warc(after[0]) if r.type == "response" and r.http_status == 200
               and r.headers.get("WARC-Nianbao-Role") == "report"}
    assert len(reports) == 6


def test_kill_leaves_open_build_skips_next_crawl_closes_build_reads_once(tmp_path):
    with FixturePortal(tmp_path / "site", big_site(40, 20)) as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")
        data = tmp_path / "data"
        warcs = data / "warcs"
        killed = subprocess.run([sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(data), "--sources",
                                 str(registry), "--impolite", "--run-id", "part1"], cwd=REPO, capture_output=True,
                                text=True, timeout=240, env={**os.environ, "NIANBAO_TEST_KILL_AFTER_RESPONSES": "12"})
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        left = sorted(warcs.iterdir())
        assert len(left) == 1 and left[0].name.endswith(".warc.gz.open")
        stored_before = {urlparse(r.url).path for r in records(warcs)
                         if r.type == "response" and r.http_status == 200 and "/t20" in r.url}
        assert len(stored_before) >= 5

        skipped = subprocess.run([NIANBAO, "build", "--data-dir", str(data)], capture_output=True, text=True,
                                 cwd=REPO, timeout=300)
        assert skipped.returncode == 1 and "nothing to build from: no WARC files" in skipped.stderr
        assert not (data / "nianbao.db").exists()

        before = len(portal.requests())
        done = run_crawl(data, "--sources", str(registry), "--impolite", "--run-id", "part2")
        assert done.returncode == 0, done.stderr[-2000:]
        assert "left open by a killed crawl, whole (warcio check passes)" in done.stderr
        again = {q.path for q in portal.requests()[before:] if "/t20" in q.path}
        assert again and not again & stored_before  # nothing the killed crawl stored is fetched again
        assert len(stored_before | again) == 40

    names = sorted(p.name for p in warcs.iterdir())
    part1 = left[0].name[: -len(OPEN_SUFFIX)]
    assert not any(n.endswith(OPEN_SUFFIX) for n in names)
    assert part1 in names and len(names) == 2
    check = warcio_check(sorted(warcs.iterdir()))
    assert check.returncode == 0, check.stdout + check.stderr
    state = sqlite3.connect(data / "crawl_state.db")
    row = state.execute("select valid, problem, summary, applied from warc_files where name = ?", (part1,)).fetchone()
    state.close()
    assert row[0] == 1 and row[1] is None and row[2] == 0 and row[3] >= 0

    second = build(data)
    assert second["inputs"].count(part1) == 1 and len(second["inputs"]) == 2
    assert second["files"][part1] >= len(stored_before)  # its captures, read once: no duplicate ids
    assert second["reports"] == 40


def _recorder_with_pages(directory: Path, source: str, n: int) -> WarcRecorder:
    rec = WarcRecorder(directory, "r1", source, {"software": "test"})
    for i in range(n):
        url = f"http://127.0.0.1/{source}/t2024_{i}.html"
        body = f"<html><body>2023年政府信息公开工作年度报告 {i}</body></html>".encode()
        resp = HtmlResponse(url, status=200, body=body, headers={"Content-Type": "text/html; charset=utf-8"})
        rec.write_response(resp, "report")
    return rec


def test_reconcile_closes_a_damaged_open_file_and_keeps_its_verdict(tmp_path):
    warcs = tmp_path / "warcs"
    whole = _recorder_with_pages(warcs, "alpha", 3)
    whole._fh.close()  # killed: never renamed
    cut = _recorder_with_pages(warcs, "beta", 3)
    cut._fh.close()
    raw = cut.path.read_bytes()
    cut.path.write_bytes(raw[: len(raw) - 40])  # the last record cut short
    other = _recorder_with_pages(warcs, "gamma", 1)  # another source's crawl, still writing
    assert check_warc(whole.path) is None and check_warc(cut.path) is not None
    state = CrawlState(tmp_path / "state.db")
    assert reconcile(state, warcs, "alpha") == 3
    assert reconcile(state, warcs, "beta") == 2  # the whole records before the cut
    names = sorted(p.name for p in warcs.iterdir())
    assert names == sorted([whole.filename, cut.filename, other.path.name])
    verdicts = {r["name"]: (r["valid"], bool(r["problem"])) for r in state.db["warc_files"].rows}
    assert verdicts[whole.filename] == (1, False) and verdicts[cut.filename] == (0, True)
    assert reconcile(state, warcs, "alpha") == 0 and reconcile(state, warcs, "beta") == 0  # read once
    other.close()
    assert other.path.name == other.filename and other.path.exists()
    state.close()


def test_a_new_recorder_never_takes_the_name_of_a_left_open_file(tmp_path):
    first = _recorder_with_pages(tmp_path, "alpha", 1)
    second = WarcRecorder(tmp_path, "r1", "alpha", {})
    assert second.filename != first.filename and second.path != first.path
    for r in (first, second):
        r.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.filename, second.filename])
    assert warcio_check(sorted(tmp_path.iterdir())).returncode == 0
