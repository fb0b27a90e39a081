"""`nianbao crawl-state rebuild --from-warcs DIR` reproduces the live crawl state, and the next crawl on
the rebuilt state asks the portal exactly what it asks on the live one."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nianbao.crawler.fixture_portal import FixturePortal, default_site
from tests.crawler.helpers import records, run_crawl, summaries
from tests.queue.sites import REPO

TIMES = ("first_seen", "last_fetch", "last_changed", "last_seen_listed")  # the live clock vs the WARC-Date


def rows(db: Path) -> dict[str, dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    out = {r["url"]: dict(r) for r in conn.execute("select * from urls")}
    conn.close()
    return out


def seconds(text: str | None) -> float | None:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timestamp() if text else None


def test_rebuild_reproduces_live_state_and_next_crawl(tmp_path):
    data = tmp_path / "data"
    with FixturePortal(tmp_path / "site", default_site()) as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")
        assert run_crawl(data, "--sources", str(registry), "--impolite").returncode == 0
        portal.edit("s2024")
        portal.remove("t2021")
        portal.move("t2023", "202402/t20240201_90002.htm")
        second = run_crawl(data, "--sources", str(registry), "--impolite", "--revalidate", "all")
        assert second.returncode == 0 and "withdrawn=1" in second.stdout and "moved=1" in second.stdout

        out = tmp_path / "rebuilt.db"
        proc = subprocess.run([sys.executable, "-m", "nianbao.cli", "crawl-state", "rebuild", "--from-warcs",
                               str(data / "warcs"), "--out", str(out)], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        live, rebuilt = rows(data / "crawl_state.db"), rows(out)
        assert set(live) == set(rebuilt) and len(live) == 33
        for url, row in live.items():
            for key, value in row.items():
                if key in TIMES:
                    a, b = seconds(value), seconds(rebuilt[url][key])
                    assert (a is None) == (b is None) and (a is None or abs(a - b) <= 2), (url, key, value)
                else:
                    assert rebuilt[url][key] == value, (url, key, value, rebuilt[url][key])
        withdrawn = [u for u, r in rebuilt.items() if r["withdrawn_at"]]
        assert withdrawn == [portal.base_url + "/trs/zwgk/zfxxgk/zfxxgknb/202201/t20220119_70001.htm"]

        # the next night, once on the live state and once on the rebuilt one: the same requests
        later = (datetime.now(UTC) + timedelta(hours=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
        asked = {}
        for name, state in (("live", data / "crawl_state.db"), ("rebuilt", out)):
            copy = tmp_path / f"night3-{name}"
            shutil.copytree(data, copy)
            for side in ("crawl_state.db-wal", "crawl_state.db-shm"):
                (copy / side).unlink(missing_ok=True)
            shutil.copy(state, copy / "crawl_state.db")
            portal.clear_log()
            third = run_crawl(copy, "--sources", str(registry), "--impolite", "--now", later, "--run-id", "n3")
            assert third.returncode == 0, third.stderr[-2000:]
            asked[name] = Counter((r.method, r.path, r.conditional) for r in portal.requests())
            summary = summaries(records(copy / "warcs", sorted((copy / "warcs").glob("nianbao-n3-*.warc.gz"))))
            asked[name + "-summary"] = json.dumps({s: (v["withdrawn"], v["moved"], sorted(v["fetched"]),
                                                       sorted(v["not_modified"])) for s, v in summary.items()})
        assert asked["live"] == asked["rebuilt"]
        assert sum(asked["live"].values()) > 10
        assert asked["live-summary"] == asked["rebuilt-summary"]


def test_rebuild_host_filter(tmp_path):
    data = tmp_path / "data"
    with FixturePortal(tmp_path / "site", default_site()) as portal:
        registry = portal.write_registry(tmp_path / "sources.yaml")
        assert run_crawl(data, "--sources", str(registry), "--impolite").returncode == 0
        host = f"127.0.0.1:{portal.server.port}"
    from nianbao.queue.state_rebuild import rebuild_state

    mine = rebuild_state(data / "warcs", tmp_path / "mine.db", hosts=[host])
    other = rebuild_state(data / "warcs", tmp_path / "other.db", hosts=["127.0.0.1:9"])
    assert mine["urls"] == len(rows(data / "crawl_state.db")) and other["urls"] == 0
