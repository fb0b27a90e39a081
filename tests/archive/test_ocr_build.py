"""Scans in the archive: every OCR'd cell stored with method 'ocr', confidence, page and box (cells read from
text: all four null); OCR results kept in <data>/ocr_cache.db so a rebuild makes no OCR call (in worker
processes too); a rule failure involving a low-confidence cell is classed possible_ocr_error.

Fixtures: tests/fixtures/scans (an image-only PDF, a born-digital PDF, a photographed page image).
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from nianbao.archive.build import build_archive
from nianbao.archive.ocr_cache import OcrCache
from nianbao.parsers.document import parse_document
from nianbao.parsers.ocr import engine as ocr_engine
from nianbao.parsers.ocr.engine import default_engine
from tests.conftest import REPO

SCANS = REPO / "tests" / "fixtures" / "scans"
FILES = [SCANS / "county_2023.pdf", SCANS / "born_digital_2023.pdf", SCANS / "pingtan_2025_p1.jpg"]
CELL_TABLES = ("active_disclosure", "requests", "appeals")


def build(data, files=FILES, **kwargs) -> tuple[dict, int]:
    """(the build's run row, tesseract calls made in this process)."""
    engine = default_engine()
    before = engine.calls
    run = build_archive(data / "nianbao.db", files=files, registry_path=data / "no-registry.yaml", **kwargs)
    return run, engine.calls - before


def copy_cache(data, other) -> None:
    """The data dir's OCR cache into another data dir (SQLite's backup: WAL content included)."""
    other.mkdir()
    source, target = sqlite3.connect(data / "ocr_cache.db"), sqlite3.connect(other / "ocr_cache.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def cells(db: sqlite3.Connection, url_part: str) -> list[sqlite3.Row]:
    return [row for table in CELL_TABLES for row in db.execute(
        f"select c.*, '{table}' as tbl from [{table}] c join captures cap on cap.version_id = c.version_id "
        "where cap.url like ?", [f"%{url_part}"])]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    data = tmp_path_factory.mktemp("ocr-build") / "data"
    run, calls = build(data)
    db = sqlite3.connect(data / "nianbao.db")
    db.row_factory = sqlite3.Row
    yield data, run, calls, db
    db.close()


def test_every_ocrd_cell_has_method_confidence_page_and_box(built):
    _, _, calls, db = built
    assert calls > 0
    for name in ("county_2023.pdf", "pingtan_2025_p1.jpg"):
        rows = [r for r in cells(db, name) if r["pos_table"] is not None]
        assert len(rows) >= (200 if name.endswith(".pdf") else 10), name
        for r in rows:
            assert r["method"] == "ocr" and 0 <= r["confidence"] <= 1 and r["page"] >= 1
            box = json.loads(r["box"])
            assert len(box) == 4 and box[0] < box[2] and box[1] < box[3]
        # a template cell the scan did not hold: nothing read, no provenance
        assert all(r["method"] is None for r in cells(db, name) if r["pos_table"] is None)
    text = cells(db, "born_digital_2023.pdf")
    assert len(text) == 200 and all(r["pos_table"] is not None for r in text)
    assert {(r["method"], r["confidence"], r["page"], r["box"]) for r in text} == {(None, None, None, None)}


def test_the_archive_stores_what_the_parser_reports(built):
    """`nianbao parse` (parse_document, no cache: a fresh OCR) and the build give the same cells, with the
    same method, confidence, page and box (tests/frontdoor/test_parse_equals_build.py runs the CLI)."""
    _, _, _, db = built
    report = parse_document((SCANS / "county_2023.pdf").read_bytes(), filename="county_2023.pdf")
    keys = {"active_disclosure": ("active", "row", "measure"), "requests": ("requests", "row", "column"),
            "appeals": ("appeals", "procedure", "outcome")}
    stored = {(r["tbl"], r[1], r[2]): (r["value"], r["raw"], r["method"], r["confidence"], r["page"],
                                        None if r["box"] is None else json.loads(r["box"]))
              for r in cells(db, "county_2023.pdf")}
    printed = {(t, c[a], c[b]): (c["value"], c["raw"], c.get("method"), c.get("confidence"), c.get("page"),
                                 c.get("box"))
               for t, (key, a, b) in keys.items() for c in report[key]}
    assert len(printed) == 200 and stored == printed


def test_the_ocr_cache_lives_in_the_data_dir_and_a_rebuild_makes_no_ocr_call(built):
    data, run, _, db = built
    cache = OcrCache(data / "ocr_cache.db")
    assert len(cache) == 2  # the PDF and the image; the born-digital PDF was never OCR'd
    before = {t: db.execute(f"select * from [{t}] order by 1, 2, 3").fetchall() for t in CELL_TABLES}
    again, calls = build(data)
    assert calls == 0
    assert (again["n_cells"], again["n_rule_failures"]) == (run["n_cells"], run["n_rule_failures"])
    rebuilt = sqlite3.connect(data / "nianbao.db")
    try:
        assert {t: rebuilt.execute(f"select * from [{t}] order by 1, 2, 3").fetchall() for t in CELL_TABLES} == \
            {t: [tuple(r) for r in rows] for t, rows in before.items()}
    finally:
        rebuilt.close()


def test_worker_processes_read_the_same_cache(built, tmp_path, monkeypatch):
    """jobs=2: forked workers open their own connection to the cache. OCR is made unavailable before the
    fork, so a worker that missed the cache would read the scan as unreadable: the same cells prove hits."""
    data, _, _, db = built
    other = tmp_path / "data"
    copy_cache(data, other)
    monkeypatch.setattr(ocr_engine.Engine, "available", lambda self: False)
    run, _ = build(other, jobs=2)
    workers = sqlite3.connect(other / "nianbao.db")
    try:
        got = workers.execute("select row_key, column_key, value, method, confidence, page, box from requests "
                              "where method = 'ocr' order by 1, 2").fetchall()
    finally:
        workers.close()
    want = db.execute("select row_key, column_key, value, method, confidence, page, box from requests "
                      "where method = 'ocr' order by 1, 2").fetchall()
    assert len(got) >= 175 and got == [tuple(r) for r in want]


def test_a_rule_broken_by_a_low_confidence_cell_is_a_possible_ocr_error(built, tmp_path):
    """The scan's cached reading of one cell is altered (32 read as 35, confidence 0.41, flagged): the
    row and column sums it is in fail, and the finding says it may be our misreading."""
    data, _, _, db = built
    target = db.execute("select c.box from requests c join captures cap on cap.version_id = c.version_id "
                        "where cap.url like '%county_2023.pdf' and c.row_key = 'denied_administrative_query' "
                        "and c.column_key = 'commercial_enterprise'").fetchone()
    x0, y0, x1, y1 = json.loads(target["box"])
    other = tmp_path / "data"
    copy_cache(data, other)
    cache = OcrCache(other / "ocr_cache.db")
    conn = sqlite3.connect(other / "ocr_cache.db")
    (key,) = [k for (k,) in conn.execute("select key from ocr where key like 'ocr:%:pdf:%'")]
    conn.close()
    value = cache.get(key)
    td = re.compile(r'<td([^>]*) data-ocr-confidence="[0-9.]+"'
                    rf'( data-page="\d+" data-box="{x0},{y0},{x1},{y1}")[^>]*>32</td>')
    value["html"], n = td.subn(r'<td\1 data-ocr-confidence="0.410"\2 data-ocr-raw="35" data-low-confidence="1">35</td>',
                               value["html"])
    assert n == 1
    cache.put(key, value)
    cache.close()
    _, calls = build(other)
    assert calls == 0
    changed = sqlite3.connect(other / "nianbao.db")
    changed.row_factory = sqlite3.Row
    try:
        cell = changed.execute("select value, confidence, method from requests where row_key = "
                               "'denied_administrative_query' and column_key = 'commercial_enterprise' "
                               "and method = 'ocr'").fetchone()
        assert tuple(cell) == (35, 0.41, "ocr")
        failures = changed.execute("select f.kind, f.rule, f.scope, f.cells from rule_failures f "
                                   "join captures cap on cap.version_id = f.version_id "
                                   "where cap.url like '%county_2023.pdf'").fetchall()
    finally:
        changed.close()
    assert failures, "the altered cell breaks no rule"
    assert {f["kind"] for f in failures} == {"possible_ocr_error"}
    assert all("denied_administrative_query" in f["cells"] or "commercial_enterprise" in f["cells"]
               for f in failures)
