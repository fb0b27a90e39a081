"""`nianbao status` after real crawls of the demo portal where things go wrong between two nights:
one column starts answering a WAF challenge (blocked), one report page loses its tables (parse
drift), one column empties (every report gone). Expectations are the mutations themselves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nianbao.demo.portal import DemoPortal

REPO = Path(__file__).resolve().parents[2]


def nianbao(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nianbao.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=REPO)


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    root = tmp_path_factory.mktemp("status")
    data, registry = root / "data", root / "sources.yaml"
    common = ["--data-dir", str(data), "--sources", str(registry), "--impolite", "--revalidate", "all",
              "--today", "2026-06-01"]
    with DemoPortal(root / "portal") as portal:
        portal.write_registry(registry)
        first = nianbao("nightly", *common, "--run-id", "20260601T010000Z")
        portal.block("demo-yishi")
        portal.drop_tables("demo-jiaqu-甲区人民政府-2025")
        portal.empty("demo-bingxian")
        second = nianbao("nightly", *common, "--run-id", "20260602T010000Z")
    status = nianbao("status", "--data-dir", str(data), "--json", "--today", "2026-06-01")
    table = nianbao("status", "--data-dir", str(data), "--today", "2026-06-01")
    return data, first, second, status, table


def test_the_second_night_reports_the_blocked_source(broken):
    data, first, second, _, _ = broken
    assert first.returncode == 3, first.stdout + first.stderr
    assert second.returncode == 4, second.stdout + second.stderr
    assert "failed source: demo-yishi (blocked)" in second.stdout
    # The emptied column withdrew its 7 reports; the table-less page is a new version; the blocked
    # column's 8 reports stay (an incomplete listing proves nothing), with jiaqu's other 9: 17 unchanged.
    assert "0 new, 1 changed, 17 unchanged, 7 withdrawn" in second.stdout


def test_status_names_each_problem(broken):
    _, _, _, status, table = broken
    assert status.returncode == 4
    sources = {s["source"]: s for s in json.loads(status.stdout)["sources"]}
    yishi = sources["demo-yishi"]
    assert (yishi["state"], yishi["consecutive_failures"], yishi["failure_class"]) == ("failing", 1, "blocked")
    assert yishi["last_errors"] == {"blocked": 1}
    assert yishi["last_success"] < yishi["last_crawl"]
    jiaqu = sources["demo-jiaqu"]
    assert jiaqu["state"] == "drift"
    assert [(d["agency"], d["year"], d["was"], d["now"]) for d in jiaqu["drift"]] == [
        ("甲区人民政府", 2025, "parsed", "no_tables")]
    bingxian = sources["demo-bingxian"]
    assert (bingxian["state"], bingxian["failure_class"], bingxian["last_report_urls"]) == ("empty", "empty", 0)
    assert "empty: the column lists no report any more" in bingxian["problems"]
    for word in ("failing", "blocked", "drift", "parsed→no_tables", "empty"):
        assert word in table.stdout
