"""Incremental builds where nights interact: a page joined by a later attachment, an attachment replaced
under a page already joined (a full build then), carry chains across nights, files out of order.

Each case writes one WARC per night (tests/archive/helpers.Warc, the stand-in JSON parser), builds
incrementally night by night and in full over all nights, and compares every table."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from nianbao.archive.build import build_archive
from tests.archive.helpers import FAKE_VERSION, Warc, body, canonical, json_parser
from tests.archive.test_incremental import assert_same_tables

PAGE = "http://x.gov.cn/nb/t2023_1.html"
PDF = "http://x.gov.cn/nb/P02023_1.pdf"


def build(root: Path, out: Path, incremental: bool) -> dict:
    build_archive(out, warcs=sorted((root / "warcs").glob("*.warc.gz")), parse=json_parser,
                  parser_version=FAKE_VERSION, registry_path=root / "none.yaml", incremental=incremental)
    conn = sqlite3.connect(out)
    try:
        return json.loads(conn.execute("select stats from runs where kind = 'build' order by id desc").fetchone()[0])
    finally:
        conn.close()


def night(root: Path, name: str, write) -> tuple[dict, Path]:
    """Write the night's WARC, build incrementally and in full; (incremental stats, full db)."""
    (root / "warcs").mkdir(parents=True, exist_ok=True)
    w = Warc(root / "warcs" / f"nianbao-{name}.warc.gz")
    write(w)
    w.close()
    stats = build(root, root / "inc.db", incremental=True)
    full = root / f"full-{name}.db"
    build(root, full, incremental=False)
    assert_same_tables(root / "inc.db", full)
    return stats, full


def summary(urls: list[str], finished: str, run: str) -> dict:
    return {"source": "testsrc", "run_id": run, "started": finished, "finished": finished, "complete": True,
            "report_urls": urls, "fetched": urls, "not_modified": [], "errors": [], "stats": {}, "withdrawn": []}


def test_an_attachment_joins_a_page_read_the_night_before(tmp_path):
    report = canonical("甲区教育局", 2023)

    def one(w):
        w.response(PAGE, body({**report, "status": "no_tables", "requests": [], "active": [], "appeals": []}),
                   date="2026-01-01T00:00:00Z")
        w.summary(summary([PAGE], "2026-01-01T00:10:00Z", "r1"), date="2026-01-01T00:10:00Z")

    def two(w):
        w.response(PDF, body(report), role="attachment", parent=PAGE, date="2026-01-02T00:00:00Z")
        w.summary(summary([PAGE], "2026-01-02T00:10:00Z", "r2"), date="2026-01-02T00:10:00Z")

    stats, _ = night(tmp_path, "2026-01-01", one)
    assert stats["incremental"] is False
    stats, full = night(tmp_path, "2026-01-02", two)
    assert stats["incremental"] is True
    conn = sqlite3.connect(full)
    assert conn.execute("select count(*) from version_documents").fetchone()[0] == 2  # one version, two documents
    conn.close()


def test_a_replaced_attachment_under_a_joined_page_inherits_its_identity(tmp_path):
    report = canonical("甲区教育局", 2023)

    def one(w):
        w.response(PAGE, body(report), date="2026-01-01T00:00:00Z")
        w.response(PDF, body({**report, "title": "甲区教育局2023年政府信息公开工作年度报告(PDF)"}), role="attachment",
                   parent=PAGE, date="2026-01-01T00:00:01Z")
        w.summary(summary([PAGE], "2026-01-01T00:10:00Z", "r1"), date="2026-01-01T00:10:00Z")

    def two(w):
        w.response(PDF, body(canonical("甲区教育局", 2023, received=9, title="")), role="attachment", parent=PAGE,
                   date="2026-01-02T00:00:01Z")
        w.summary(summary([PAGE], "2026-01-02T00:10:00Z", "r2"), date="2026-01-02T00:10:00Z")

    night(tmp_path, "2026-01-01", one)
    stats, full = night(tmp_path, "2026-01-02", two)
    assert stats["incremental"] is True
    conn = sqlite3.connect(full)
    latest = conn.execute("select id from document_versions where is_latest = 1").fetchone()[0]
    rows = conn.execute("select url, role, numbers, identity from version_documents where version_id = ? "
                        "order by url", [latest]).fetchall()
    n_versions = conn.execute("select n_versions from documents").fetchall()
    conn.close()
    assert n_versions == [(2,)]
    # the new PDF is the second version, its numbers its own, its identity from the page joined the night before
    assert rows == [(PDF, "attachment", 1, 0), (PAGE, "report", 0, 1)]


def test_a_second_attachment_of_a_joined_page_builds_in_full(tmp_path):
    report = canonical("甲区教育局", 2023)
    docx = "http://x.gov.cn/nb/P02023_1.docx"

    def one(w):
        w.response(PAGE, body(report), date="2026-01-01T00:00:00Z")
        w.response(PDF, body({**report, "title": ""}), role="attachment", parent=PAGE, date="2026-01-01T00:00:01Z")
        w.summary(summary([PAGE], "2026-01-01T00:10:00Z", "r1"), date="2026-01-01T00:10:00Z")

    def two(w):
        w.response(docx, body({**report, "title": "", "warnings": ["docx"]}), role="attachment", parent=PAGE,
                   date="2026-01-02T00:00:01Z")
        w.summary(summary([PAGE], "2026-01-02T00:10:00Z", "r2"), date="2026-01-02T00:10:00Z")

    night(tmp_path, "2026-01-01", one)
    stats, full = night(tmp_path, "2026-01-02", two)
    assert stats["incremental"] is False
    assert "pair differently" in stats["full_because"]
    conn = sqlite3.connect(full)
    assert conn.execute("select count(*) from version_documents").fetchone()[0] == 3  # one version, three documents
    conn.close()


def test_carry_chains_across_nights_and_a_withdrawal(tmp_path):
    a22, a23 = "http://x.gov.cn/nb/a2022.html", "http://x.gov.cn/nb/a2023.html"
    b22 = "http://x.gov.cn/nb/b2022.html"

    def one(w):
        w.response(a22, body(canonical("甲区财政局", 2022, carried_forward=3)), date="2026-01-01T00:00:00Z")
        w.response(b22, body(canonical("乙区财政局", 2022)), date="2026-01-01T00:00:01Z")
        w.summary(summary([a22, b22], "2026-01-01T00:10:00Z", "r1"), date="2026-01-01T00:10:00Z")

    def two(w):
        w.response(a23, body(canonical("甲区财政局", 2023, carried_over=2)), date="2026-01-02T00:00:00Z")
        w.summary({**summary([a22, a23], "2026-01-02T00:10:00Z", "r2"), "withdrawn": [b22]},
                  date="2026-01-02T00:10:00Z")

    night(tmp_path, "2026-01-01", one)
    stats, full = night(tmp_path, "2026-01-02", two)
    assert stats["incremental"] is True
    conn = sqlite3.connect(full)
    chain = conn.execute("select ok from rule_results where other_version_id is not null").fetchall()
    withdrawn = conn.execute("select url from documents where withdrawn_at is not null").fetchall()
    conn.close()
    assert (0,) in chain and withdrawn == [(b22,)]


def test_a_file_sorting_before_those_read_builds_in_full(tmp_path):
    def one(w):
        w.response(a := "http://x.gov.cn/nb/a.html", body(canonical("甲区财政局", 2022)), date="2026-01-02T00:00:00Z")
        w.summary(summary([a], "2026-01-02T00:10:00Z", "r2"), date="2026-01-02T00:10:00Z")

    def zero(w):
        w.response(b := "http://x.gov.cn/nb/b.html", body(canonical("乙区财政局", 2022)), date="2026-01-01T00:00:00Z")
        w.summary(summary([b], "2026-01-01T00:10:00Z", "r1"), date="2026-01-01T00:10:00Z")

    night(tmp_path, "2026-01-02", one)
    stats, _ = night(tmp_path, "2026-01-01", zero)
    assert stats["incremental"] is False and "sorts before" in stats["full_because"]
