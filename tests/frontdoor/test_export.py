"""`nianbao export`: CSV with a UTF-8 BOM for Excel, findings, totals and label tables, and a
Frictionless datapackage.json whose field descriptions are the site's (archive/columns.py)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nianbao.archive.build import build_archive
from nianbao.archive.columns import METADATA
from tests.archive.helpers import FAKE_VERSION, body, canonical, json_parser

REPO = Path(__file__).resolve().parents[2]


def nianbao(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nianbao.cli", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("export")
    src = root / "in"
    src.mkdir()
    report = canonical("甲区教育局", 2023)
    report["checks"].append({"rule": "row_total", "scope": "granted", "ok": False, "expected": 4, "actual": 9,
                             "blank_as_zero": []})
    (src / "a.txt").write_bytes(body(report))
    (src / "b.txt").write_bytes(body(canonical("乙区民政局", 2022)))
    build_archive(root / "nianbao.db", files=[src], parse=json_parser, parser_version=FAKE_VERSION,
                  registry_path=src / "none.yaml")
    return root


def test_csv_with_bom_opens_as_utf8_and_covers_findings_totals_and_labels(archive):
    out = archive / "x"
    done = nianbao("export", "--data-dir", str(archive), "--csv", "--bom", "--out", str(out))
    assert done.returncode == 0, done.stderr
    for name in ("rule_failures", "report_totals", "reports", "coverage", "request_rows", "request_columns",
                 "appeal_procedures", "appeal_outcomes", "active_rows", "active_measures", "rules"):
        bom_header = b"\xef\xbb\xbfagency" if name in ("reports", "report_totals") else b"\xef\xbb\xbf"
        assert (out / f"{name}.csv").read_bytes().startswith(bom_header), name
    with open(out / "rule_failures.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["agency"], r["kind"], r["rule"], r["scope"], r["expected"], r["printed"]) for r in rows] == [
        ("甲区教育局", "arithmetic", "row_total", "granted", "4", "9")]
    assert [c["cell"] for c in json.loads(rows[0]["cells"])][-1] == "granted/total"
    with open(out / "request_rows.csv", encoding="utf-8-sig", newline="") as fh:
        labels = {r["key"]: r["label"] for r in csv.DictReader(fh)}
    assert labels["new_received"].startswith("一、本年新收")
    with open(out / "reports.csv", encoding="utf-8-sig", newline="") as fh:
        reports = {r["agency"]: r for r in csv.DictReader(fh)}
    assert (reports["甲区教育局"]["received"], reports["甲区教育局"]["year"]) == ("5", "2023")
    assert "rule_failures.csv: 1 rows" in done.stdout


def test_plain_csv_has_no_bom_and_json_is_an_array(archive):
    out = archive / "plain"
    assert nianbao("export", "--data-dir", str(archive), "--out", str(out), "--table", "reports").returncode == 0
    assert (out / "reports.csv").read_bytes().startswith(b"agency,year,level,status,received")
    out = archive / "json"
    assert nianbao("export", "--data-dir", str(archive), "--format", "json", "--out", str(out),
                   "--table", "rule_failures").returncode == 0
    (row,) = json.loads((out / "rule_failures.json").read_text(encoding="utf-8"))
    assert (row["kind"], row["expected"], row["printed"], row["difference"]) == ("arithmetic", 4, 9, 5)


def test_datapackage_describes_every_exported_file_with_the_sites_descriptions(archive):
    out = archive / "pkg"
    assert nianbao("export", "--data-dir", str(archive), "--csv", "--bom", "--out", str(out)).returncode == 0
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    meta = json.loads(METADATA.read_text(encoding="utf-8"))["databases"]["nianbao"]["tables"]
    assert package["licenses"][0]["name"] == "CC-BY-4.0"
    files = {p.name for p in out.glob("*.csv")}
    assert {r["path"] for r in package["resources"]} == files
    for resource in package["resources"]:
        table = resource["path"][:-4]
        assert resource["encoding"] == "utf-8-sig"
        with open(out / resource["path"], encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh))
        assert [f["name"] for f in resource["schema"]["fields"]] == header
        for field in resource["schema"]["fields"]:
            assert field["description"] == meta[table]["columns"][field["name"]], (table, field["name"])
    by_name = {r["name"]: r for r in package["resources"]}
    types = {f["name"]: f["type"] for f in by_name["rule-failures"]["schema"]["fields"]}
    assert (types["year"], types["kind"], types["expected"]) == ("integer", "string", "integer")
    assert by_name["requests"]["schema"]["primaryKey"] == ["version_id", "row_key", "column_key"]
    assert {f["name"]: f["type"] for f in by_name["requests"]["schema"]["fields"]}["value"] == "integer"


def test_frictionless_validates_the_package(archive):
    import frictionless
    out = archive / "pkg"
    if not (out / "datapackage.json").exists():
        nianbao("export", "--data-dir", str(archive), "--csv", "--out", str(out))
    report = frictionless.validate(out / "datapackage.json")
    assert report.valid, report.flatten(["type", "note"])[:5]
