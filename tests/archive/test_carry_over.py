"""A rebuild replaces nianbao.db but keeps the tables it does not derive: earlier build rows in
`runs` and the nightly run record (`nightly_runs`, mirrored by nianbao.nightly from its JSONL)."""

from __future__ import annotations

import json
from pathlib import Path

import sqlite_utils

from nianbao.archive.build import build_archive
from nianbao.config import DataDir
from nianbao.nightly_record import mirror_runs
from tests.archive.helpers import FAKE_VERSION, body, canonical, json_parser


def build(src: Path, out: Path) -> dict:
    return build_archive(out, files=[src], parse=json_parser, parser_version=FAKE_VERSION,
                         registry_path=src / "none.yaml")


def test_rebuild_keeps_nightly_runs_and_build_runs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "r.txt").write_bytes(body(canonical("西工区洛北街道办事处", 2022)))
    data = DataDir(tmp_path / "data")
    first = build(src, data.database)
    data.logs.mkdir(parents=True)
    runs = [{"id": "nightly-20260201", "started": "2026-02-01T02:00:00Z", "exit_code": 0, "outcome": "ok",
             "n_new": 1, "new_reports": json.dumps([{"agency": "西工区洛北街道办事处", "year": 2022}],
                                                     ensure_ascii=False), "seconds": 12.5},
            {"id": "nightly-20260202", "started": "2026-02-02T02:00:00Z", "exit_code": 1, "outcome": "failed",
             "n_failed": 3, "error": "crawl: 3 sources failed", "seconds": 3.0}]
    data.logs.joinpath("nightly_runs.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in runs), encoding="utf-8")
    mirror_runs(data)
    db = sqlite_utils.Database(data.database)
    before = list(db.query("select * from nightly_runs order by id"))
    schema = db["nightly_runs"].schema
    db.close()
    assert [r["id"] for r in before] == ["nightly-20260201", "nightly-20260202"]

    second = build(src, data.database)  # a plain `nianbao build`
    db = sqlite_utils.Database(data.database)
    after = list(db.query("select * from nightly_runs order by id"))
    assert after == before and db["nightly_runs"].schema == schema
    assert after[0]["n_new"] == 1 and after[0]["seconds"] == 12.5 and after[1]["error"] == "crawl: 3 sources failed"
    builds = [r["id"] for r in db.query("select id from runs where kind = 'build' order by id")]
    assert builds == sorted([first["id"], second["id"]])
    db.close()
    mirror_runs(data)  # the nightly's own mirroring still works on the rebuilt table
    assert sqlite_utils.Database(data.database)["nightly_runs"].count == 2


def test_first_build_has_no_nightly_runs_table(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "r.txt").write_bytes(body(canonical("西工区洛北街道办事处", 2022)))
    build(src, tmp_path / "nianbao.db")
    assert "nightly_runs" not in sqlite_utils.Database(tmp_path / "nianbao.db").table_names()
