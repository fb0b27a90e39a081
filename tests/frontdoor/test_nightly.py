"""`nianbao nightly` against the demo portal served on 127.0.0.1, changed between nights.

Night 1 archives everything (exit 3), night 2 finds nothing new (exit 0); then one report is edited,
one removed and one added: night 3 counts exactly those (exit 3); night 4 and 5 add a source whose
port refuses connections (exit 4, two consecutive failures of class `refused`). A held lock gives
75. Run rows are read from the database's `nightly_runs` table and the JSONL record; `status`
output is read as JSON and as the table.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nianbao.crawler.fixture_portal import Report
from nianbao.demo.portal import DemoPortal
from nianbao.runlock import run_lock
from tests.ports import unused_port

REPO = Path(__file__).resolve().parents[2]
TODAY = "2026-06-01"  # past both deadlines of report year 2025


def nianbao(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nianbao.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def nightly(data: Path, registry: Path, run_id: str) -> subprocess.CompletedProcess:
    return nianbao("nightly", "--data-dir", str(data), "--sources", str(registry), "--impolite",
                   "--revalidate", "all", "--today", TODAY, "--run-id", run_id)


def status(data: Path, *extra: str) -> tuple[int, dict]:
    proc = nianbao("status", "--data-dir", str(data), "--json", *extra)
    return proc.returncode, json.loads(proc.stdout)


def runs(data: Path) -> dict[str, dict]:
    conn = sqlite3.connect(data / "nianbao.db")
    conn.row_factory = sqlite3.Row
    try:
        return {r["id"]: dict(r) for r in conn.execute("select * from nightly_runs")}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly")
    data = root / "data"
    registry = root / "sources.yaml"
    results: dict[str, subprocess.CompletedProcess] = {}
    statuses: dict[str, tuple[int, dict]] = {}
    with DemoPortal(root / "portal") as portal:
        portal.write_registry(registry)
        results["night1"] = nightly(data, registry, "20260601T010000Z")
        results["night2"] = nightly(data, registry, "20260601T020000Z")
        statuses["before"] = status(data)
        portal.edit("demo-jiaqu-甲区人民政府-2024")
        portal.remove("demo-yishi-乙市人民政府-2021")
        portal.add("demo-jiaqu", Report("new-edu-2025", "甲区教育局", 2025, "2026-02-03",
                                        "202602/t20260203_5102.html"))
        results["night3"] = nightly(data, registry, "20260601T030000Z")
        statuses["after"] = status(data)
        reg = yaml.safe_load(registry.read_text(encoding="utf-8"))
        reg["sources"].append({"name": "demo-dead", "agency": "丁县人民政府",
                               "start_urls": [f"http://127.0.0.1:{unused_port()}/dingxian/zfxxgknb/"],
                               "allowed_domains": ["127.0.0.1"]})
        registry.write_text(yaml.safe_dump(reg, allow_unicode=True), encoding="utf-8")
        results["night4"] = nightly(data, registry, "20260601T040000Z")
        results["night5"] = nightly(data, registry, "20260601T050000Z")
        statuses["dead"] = status(data)
        proc = nianbao("status", "--data-dir", str(data), "--today", TODAY)
        statuses["table"] = (proc.returncode, {"stdout": proc.stdout})
        with run_lock(data / ".nightly.lock"):
            results["locked"] = nightly(data, registry, "20260601T060000Z")
    return data, results, statuses


def test_first_night_archives_everything(nights):
    data, results, _ = nights
    night = results["night1"]
    assert night.returncode == 3, night.stdout + night.stderr
    row = runs(data)["20260601T010000Z"]
    assert (row["n_new"], row["n_changed"], row["n_unchanged"], row["n_withdrawn"], row["n_failed"]) == (25, 0, 0, 0, 0)
    assert (row["exit_code"], row["outcome"], row["crawl_exit"], row["built"]) == (3, "new_reports", 0, 1)
    assert (row["n_sources"], row["n_sources_failed"], row["n_rule_failures"]) == (3, 0, 2)
    checked = json.loads(row["check_summary"])["rules"]
    assert (checked["outcomes_sum"]["fail"], checked["row_total"]["fail"]) == (1, 1)
    assert checked["carry_chain"] == {"pass": 18 * 7}
    stats = json.loads(row["crawl_stats"])
    assert sorted(stats) == ["demo-bingxian", "demo-jiaqu", "demo-yishi"]
    assert stats["demo-jiaqu"]["reports_listed"] == 10 and stats["demo-jiaqu"]["requests"] >= 13
    assert json.loads(row["overdue"]) == [{"agency": "甲区教育局", "level": "department", "year": 2025,
                                           "deadline": "2026-01-31", "last_year": 2024}]
    assert "25 new, 0 changed, 0 unchanged, 0 withdrawn, 0 failed fetches; 3 sources, 0 failed" in night.stdout
    assert "overdue: 甲区教育局 has no 2025 report (deadline 2026-01-31, level department)" in night.stdout
    assert "exit 3 (new_reports)" in night.stdout
    log = Path(row["log_file"])
    assert log.parent == data / "logs" and log.is_file()
    assert any(json.loads(line)["message"].startswith("nightly 20260601T010000Z finished: exit 3")
               for line in log.read_text(encoding="utf-8").splitlines())


def test_second_night_finds_nothing_new(nights):
    data, results, statuses = nights
    assert results["night2"].returncode == 0, results["night2"].stdout + results["night2"].stderr
    row = runs(data)["20260601T020000Z"]
    assert (row["n_new"], row["n_changed"], row["n_unchanged"], row["n_withdrawn"], row["n_failed"]) == (0, 0, 25, 0, 0)
    assert row["outcome"] == "nothing_new"
    code, before = statuses["before"]
    assert code == 4  # 甲区教育局 is overdue
    states = {s["source"]: s["state"] for s in before["sources"]}
    assert states == {"demo-bingxian": "ok", "demo-jiaqu": "overdue", "demo-yishi": "ok"}
    jiaqu = next(s for s in before["sources"] if s["source"] == "demo-jiaqu")
    assert (jiaqu["crawls"], jiaqu["consecutive_failures"], jiaqu["reports"]) == (2, 0, 10)
    assert jiaqu["last_success"] and jiaqu["last_success"] == jiaqu["last_crawl"]
    assert before["last_nightly"]["id"] == "20260601T020000Z"


def test_third_night_counts_the_edit_the_removal_and_the_addition(nights):
    data, results, statuses = nights
    night = results["night3"]
    assert night.returncode == 3, night.stdout + night.stderr
    row = runs(data)["20260601T030000Z"]
    assert (row["n_new"], row["n_changed"], row["n_unchanged"], row["n_withdrawn"], row["n_failed"]) == (1, 1, 23, 1, 0)
    assert [(r["agency"], r["year"]) for r in json.loads(row["new_reports"])] == [("甲区教育局", 2025)]
    assert [(r["agency"], r["year"], r["versions"])
            for r in json.loads(row["changed_reports"])] == [("甲区人民政府", 2024, 2)]
    assert [(r["agency"], r["year"]) for r in json.loads(row["withdrawn_reports"])] == [("乙市人民政府", 2021)]
    assert json.loads(row["overdue"]) == []  # the new report is the one that was overdue
    assert "  new: 甲区教育局 2025 [parsed]" in night.stdout
    assert "  changed: 甲区人民政府 2024 [parsed]" in night.stdout
    assert "  withdrawn: 乙市人民政府 2021" in night.stdout
    code, after = statuses["after"]
    assert code == 0
    assert {s["source"]: s["state"] for s in after["sources"]} == {
        "demo-bingxian": "ok", "demo-jiaqu": "ok", "demo-yishi": "ok"}
    jiaqu = next(s for s in after["sources"] if s["source"] == "demo-jiaqu")
    assert jiaqu["reports"] == 11
    assert jiaqu["last_new_report_title"] == "甲区教育局2025年度政府信息公开工作年度报告"
    assert jiaqu["last_new_report"] > jiaqu["last_success"][:10]


def test_a_refusing_source_fails_the_night_and_shows_in_status(nights):
    data, results, statuses = nights
    for run_id, night in (("20260601T040000Z", results["night4"]), ("20260601T050000Z", results["night5"])):
        assert night.returncode == 4, night.stdout + night.stderr
        row = runs(data)[run_id]
        assert json.loads(row["failed_sources"]) == [{"source": "demo-dead", "class": "refused"}]
        assert (row["n_sources"], row["n_sources_failed"], row["n_new"], row["n_changed"]) == (4, 1, 0, 0)
        assert row["outcome"] == "sources_failed"
        assert "failed source: demo-dead (refused)" in night.stdout
    code, dead = statuses["dead"]
    assert code == 4
    src = {s["source"]: s for s in dead["sources"]}
    assert src["demo-dead"]["state"] == "failing"
    assert (src["demo-dead"]["consecutive_failures"], src["demo-dead"]["failure_class"]) == (2, "refused")
    assert src["demo-dead"]["last_success"] is None and src["demo-dead"]["reports"] == 0
    assert src["demo-dead"]["problems"] == ["2 failed crawl(s) in a row (refused)"]
    assert src["demo-jiaqu"]["state"] == "ok" and src["demo-jiaqu"]["crawls"] == 5
    _, table = statuses["table"]
    assert "demo-dead" in table["stdout"] and "failing" in table["stdout"] and "refused" in table["stdout"]
    assert "last nightly run 20260601T050000Z: exit 4 (sources_failed)" in table["stdout"]


def test_every_run_is_recorded_and_survives_a_rebuild(nights):
    data, results, _ = nights
    ids = ["20260601T010000Z", "20260601T020000Z", "20260601T030000Z", "20260601T040000Z", "20260601T050000Z"]
    assert sorted(runs(data)) == ids
    lines = (data / "logs" / "nightly_runs.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ids
    assert [json.loads(line)["exit_code"] for line in lines] == [3, 0, 3, 4, 4]


def test_a_held_lock_exits_75_and_records_nothing(nights):
    data, results, _ = nights
    locked = results["locked"]
    assert locked.returncode == 75
    assert "another nianbao run holds" in locked.stderr and "(exit 75)" in locked.stderr
    assert "20260601T060000Z" not in runs(data)


def test_calendar_a_quiet_source_before_the_deadline_is_fine(nights):
    data, _, _ = nights
    # On 2026-01-15 the 2025 reports are not due yet (Jan 31 / Mar 31): the newest due year is 2024.
    code, early = status(data, "--today", "2026-01-15")
    assert all(not s["overdue"] for s in early["sources"])
    # By 2027-04-01 the 2026 reports were due and nobody has one: every agency still active is overdue.
    _, late = status(data, "--today", "2027-04-01")
    overdue = sorted((o["agency"], o["year"], o["deadline"]) for s in late["sources"] for o in s["overdue"])
    assert ("甲区教育局", 2026, "2027-01-31") in overdue
    assert ("乙市人民政府", 2026, "2027-03-31") in overdue
    assert ("丙县城关镇人民政府", 2026, "2027-01-31") in overdue


def test_a_bad_registry_fails_the_run_with_exit_1_and_a_record(tmp_path):
    registry = tmp_path / "sources.yaml"
    registry.write_text("sources: not-a-list\n", encoding="utf-8")
    proc = nightly(tmp_path / "data", registry, "20260601T070000Z")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error: crawl exited 2" in proc.stdout and "exit 1 (run_failed)" in proc.stdout
    lines = (tmp_path / "data" / "logs" / "nightly_runs.jsonl").read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[-1])
    assert (row["id"], row["exit_code"], row["outcome"], row["crawl_exit"], row["built"]) == (
        "20260601T070000Z", 1, "run_failed", 2, 0)
    log = tmp_path / "data" / "logs" / "nightly-20260601T070000Z.log"
    assert "expected a top-level 'sources:' list" in log.read_text(encoding="utf-8")


def test_a_manual_build_or_crawl_holding_the_data_lock_gives_75(tmp_path):
    """`nianbao build` or `crawl` holds the data lock: the nightly neither crawls nor builds (a build
    during a first nightly's crawl once replaced the archive with one of 0 documents)."""
    data = tmp_path / "data"
    registry = tmp_path / "sources.yaml"
    registry.write_text("sources: []\n", encoding="utf-8")
    with run_lock(data / ".crawl.lock"):
        proc = nightly(data, registry, "20260601T080000Z")
    assert proc.returncode == 75, proc.stdout + proc.stderr
    assert ".crawl.lock" in proc.stderr and "(exit 75)" in proc.stderr
    assert not (data / "nianbao.db").exists() and not list((data / "warcs").glob("*"))


def test_not_enough_free_space_fails_before_the_crawl_with_a_record(tmp_path):
    data = tmp_path / "data"
    registry = tmp_path / "sources.yaml"
    registry.write_text("sources: []\n", encoding="utf-8")
    data.mkdir()
    (data / "nianbao.db.building").write_bytes(b"\0" * 4096)  # a killed build's partial file
    proc = subprocess.run([sys.executable, "-m", "nianbao.cli", "nightly", "--data-dir", str(data), "--sources",
                           str(registry), "--run-id", "20260601T090000Z", "--today", TODAY],
                          capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, "NIANBAO_MIN_FREE_MB": str(10**9)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error: not enough free space for a crawl and a build: " in proc.stdout
    row = json.loads((data / "logs" / "nightly_runs.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert (row["id"], row["outcome"], row["crawl_exit"], row["built"]) == ("20260601T090000Z", "run_failed", None, 0)
    assert not (data / "nianbao.db.building").exists()  # removed under the lock: no build was running
    assert not list((data / "warcs").glob("*"))
