"""`nianbao build/check/export` through their argparse front ends."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest
import sqlite_utils

from nianbao.archive.build import build_archive
from nianbao.commands import build as build_cmd
from nianbao.commands import check as check_cmd
from nianbao.commands import export as export_cmd
from tests.archive.helpers import FAKE_VERSION, body, canonical, json_parser


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="nianbao")
    sub = parser.add_subparsers()
    for module in (build_cmd, check_cmd, export_cmd):
        module.register(sub)
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture()
def data(tmp_path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_bytes(body(canonical("涧西区人民政府办公室", 2022, carried_over=1, carried_forward=2)))
    (src / "b.txt").write_bytes(body(canonical("涧西区人民政府办公室", 2023, carried_over=2)))
    broken = canonical("涧西区人民政府办公室", 2021)
    broken["requests"][6]["value"] = 99  # row total, column natural_person: no longer balances
    (src / "c.txt").write_bytes(body(broken))
    build_archive(tmp_path / "nianbao.db", files=[src], parse=json_parser, parser_version=FAKE_VERSION,
                  registry_path=tmp_path / "none.yaml")
    return tmp_path


def test_build_without_inputs_is_a_clear_error(tmp_path, capsys):
    assert cli("build", "--data-dir", str(tmp_path)) == 1
    assert "nothing to build from" in capsys.readouterr().err
    assert cli("build", "--data-dir", str(tmp_path), "--from-files", str(tmp_path / "nope")) == 2


def test_check_reruns_rules_and_carry_chain(data, capsys):
    assert cli("check", "--data-dir", str(data), "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rules"]["carry_chain"] == {"pass": 4}
    assert summary["rules"]["balance"]["fail"] == 1
    assert summary["reports_with_failures"] == 1
    assert cli("check", "--data-dir", str(data), "--strict") == 1
    assert cli("check", "--data-dir", str(data), "--update") == 0
    db = sqlite_utils.Database(data / "nianbao.db")
    failed = list(db.query("select v.year, r.scope, r.expected, r.actual from rule_results r "
                           "join document_versions v on v.id = r.version_id where r.rule = 'balance' and r.ok = 0"))
    assert failed == [{"year": 2021, "scope": "natural_person", "expected": 5, "actual": 100}]


def test_export_csv_and_json(data, capsys):
    out = data / "export"
    assert cli("export", "--data-dir", str(data), "--out", str(out)) == 0
    with open(out / "requests.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * 11
    assert {"version_id", "row_key", "column_key", "value", "raw", "pos_table"} <= set(rows[0])
    assert cli("export", "--data-dir", str(data), "--out", str(out), "--format", "json",
               "--table", "reports") == 0
    reports = json.loads((out / "reports.json").read_text(encoding="utf-8"))
    assert sorted(r["year"] for r in reports) == [2021, 2022, 2023]
    assert cli("export", "--data-dir", str(data), "--table", "nope") == 2


def test_build_from_files_with_the_real_parser(tmp_path, shared_dir, capsys):
    assert cli("build", "--data-dir", str(tmp_path), "--from-files", str(shared_dir / "seeds")) == 0
    assert "5 documents, 5 versions" in capsys.readouterr().out
    db = sqlite_utils.Database(tmp_path / "nianbao.db")
    assert {r["status"] for r in db["document_versions"].rows} == {"parsed"}
    assert not (tmp_path / "nianbao.db.building").exists()
