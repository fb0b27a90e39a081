"""What a build keeps in memory is not what it writes: captures go to the database in record order
as they are read (archive/rows.py `_write_captures`), only a version's few pairing fields stay, and
a merge that moves a capture to another version updates its row at the end. Writing every capture
at once (a batch larger than the input) or one at a time gives the same database."""

from __future__ import annotations

import sqlite3

from nianbao.archive.build import build_archive
from nianbao.archive.builder import ArchiveBuilder
from tests.archive.helpers import FAKE_VERSION, Warc, body, canonical, json_parser
from tests.archive.test_incremental import assert_same_tables

PAGE = "http://x.gov.cn/nb/t2023_1.html"
PDF = "http://x.gov.cn/nb/P02023_1.pdf"


def test_captures_written_one_at_a_time_give_the_same_database(tmp_path, monkeypatch):
    report = canonical("甲区教育局", 2023)
    w = Warc(tmp_path / "nianbao-1.warc.gz")
    w.response("http://x.gov.cn/nb/list.html", b"<html>list</html>", role="list", date="2026-01-01T00:00:00Z")
    w.response(PAGE, body({**report, "status": "no_tables", "requests": [], "active": [], "appeals": []}),
               date="2026-01-01T00:00:01Z")
    w.response(PDF, body(report), role="attachment", parent=PAGE, date="2026-01-01T00:00:02Z")  # joins the page
    w.response("http://x.gov.cn/nb/b.html", body(canonical("乙区教育局", 2022)), date="2026-01-01T00:00:03Z")
    w.close()

    def build(out, batch):
        monkeypatch.setattr(ArchiveBuilder, "CAPTURE_BATCH", batch)
        build_archive(out, warcs=[tmp_path / "nianbao-1.warc.gz"], parse=json_parser, parser_version=FAKE_VERSION,
                      registry_path=tmp_path / "none.yaml")

    build(tmp_path / "one.db", 1)
    build(tmp_path / "all.db", 10_000)
    assert_same_tables(tmp_path / "one.db", tmp_path / "all.db")
    conn = sqlite3.connect(tmp_path / "one.db")
    try:
        rows = conn.execute("select c.url, c.version_id = v.id from captures c "
                            "left join document_versions v on v.id = c.version_id order by c.rowid").fetchall()
        n_versions = conn.execute("select count(*) from document_versions").fetchone()[0]
    finally:
        conn.close()
    # record order; the page's capture was written with its own part's id and now points at the joined version
    assert [u for u, _ in rows] == ["http://x.gov.cn/nb/list.html", PAGE, PDF, "http://x.gov.cn/nb/b.html"]
    assert [ok for _, ok in rows] == [None, 1, 1, 1] and n_versions == 2
