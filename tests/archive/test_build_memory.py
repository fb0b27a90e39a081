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


def _report_files(tmp_path, n: int):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(n):
        (src / f"r{i:03d}.txt").write_bytes(body(canonical(f"{'甲乙丙丁戊'[i % 5]}区第{i}局", 2020 + i % 4)))
    return src


def test_parsing_workers_behind_a_small_window_give_the_same_database(tmp_path, monkeypatch):
    """jobs=2 with the smallest window (one chunk in flight): the reader waits for the main loop, and
    the rows are those of a single-process build."""
    from nianbao.archive import parsing

    src = _report_files(tmp_path, 40)
    monkeypatch.setattr(parsing, "IN_FLIGHT", 1)
    monkeypatch.setattr(parsing, "default_parser", lambda: (json_parser, FAKE_VERSION))
    build_archive(tmp_path / "two.db", files=[src], jobs=2, parser_version=FAKE_VERSION)
    build_archive(tmp_path / "one.db", files=[src], parse=json_parser, parser_version=FAKE_VERSION)
    assert_same_tables(tmp_path / "one.db", tmp_path / "two.db")


def test_a_failing_build_with_workers_ends_instead_of_waiting(tmp_path, monkeypatch):
    """The main loop fails while the reader waits for a window slot: the build raises (no hang)."""
    from nianbao.archive import parsing

    src = _report_files(tmp_path, 40)
    monkeypatch.setattr(parsing, "IN_FLIGHT", 8)
    monkeypatch.setattr(parsing, "default_parser", lambda: (json_parser, FAKE_VERSION))
    seen = []

    def add_capture(self, capture, *args, **kwargs):
        seen.append(capture["url"])
        if len(seen) == 3:
            raise RuntimeError("disk full")

    monkeypatch.setattr(ArchiveBuilder, "add_capture", add_capture)
    try:
        build_archive(tmp_path / "x.db", files=[src], jobs=2)
    except RuntimeError as exc:
        assert str(exc) == "disk full"
    else:
        raise AssertionError("the build did not fail")
    assert len(seen) == 3 and not (tmp_path / "x.db").exists()
