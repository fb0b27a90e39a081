"""What a build keeps in memory is not what it writes, and does not grow with the archive.

Captures go to the database in record order as they are read (archive/rows.py `_write_captures`), and
versions go to disk at every flush (archive/version_store.py): `finish()` reads both back. Writing
every capture at once or one at a time, and flushing after every record or never before the end, give
the same database; so does a parse-worker reader that forgets the payloads it dispatched."""

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


A_PAGE, A_PDF = "http://x.gov.cn/nb/a.html", "http://x.gov.cn/nb/a.pdf"
B22, B23, C, C_COPY = ("http://x.gov.cn/nb/b22.html", "http://x.gov.cn/nb/b23.html", "http://x.gov.cn/nb/c.html",
                       "http://x.gov.cn/nb/c-copy.html")


def _summary(run_id: str, finished: str, urls: list[str], withdrawn: list[str]) -> dict:
    return {"source": "testsrc", "run_id": run_id, "started": finished, "finished": finished, "complete": True,
            "report_urls": sorted(urls), "withdrawn": sorted(withdrawn), "fetched": [], "not_modified": [],
            "errors": [], "stats": {}}


def _two_nights(folder) -> list:
    """Night 1: a page joined by its PDF, an agency's two years (their carry chain fails), a third report.
    Night 2: an edit, a revisit of a page built the night before, the third report's payload at another
    URL (listed) and its first URL withdrawn: every decision that reads a version written at an earlier flush."""
    a = canonical("甲区教育局", 2023)
    w = Warc(folder / "nianbao-1.warc.gz")
    page_id, page_digest = w.response(A_PAGE, body({**a, "status": "no_tables", "requests": [], "active": [],
                                                    "appeals": []}), date="2026-01-01T00:00:01Z")
    w.response(A_PDF, body(a), role="attachment", parent=A_PAGE, date="2026-01-01T00:00:02Z")
    w.response(B22, body(canonical("乙区财政局", 2022, carried_forward=3)), date="2026-01-01T00:00:03Z")
    w.response(B23, body(canonical("乙区财政局", 2023, carried_over=1)), date="2026-01-01T00:00:04Z")
    w.response(C, body(canonical("丙区税务局", 2021)), date="2026-01-01T00:00:05Z")
    w.summary(_summary("run1", "2026-01-01T01:00:00Z", [A_PAGE, B22, B23, C], []), date="2026-01-01T01:00:00Z")
    w.close()
    w = Warc(folder / "nianbao-2.warc.gz")
    w.response(B23, body(canonical("乙区财政局", 2023, carried_over=3, received=9)), date="2026-01-02T00:00:01Z")
    w.revisit(A_PAGE, page_digest, page_id, date="2026-01-02T00:00:02Z")
    w.response(C_COPY, body(canonical("丙区税务局", 2021)), date="2026-01-02T00:00:03Z")
    w.summary(_summary("run2", "2026-01-02T01:00:00Z", [A_PAGE, B22, B23, C_COPY], [C]), date="2026-01-02T01:00:00Z")
    w.close()
    return sorted(folder.glob("*.warc.gz"))


def test_versions_on_disk_after_every_record_give_the_same_database(tmp_path, monkeypatch):
    """batch_size=1 flushes (and writes the versions to disk) after every record; 10**9 never before
    finish(): every table is the same, and the decisions that read earlier versions are all there."""
    warcs = _two_nights(tmp_path)
    flushes = []
    flush = ArchiveBuilder.flush

    def counting_flush(self):
        flushes.append(len(self.live))
        flush(self)
        assert self.live == {} and self.live_by_digest == {}  # nothing of a version stays in memory

    monkeypatch.setattr(ArchiveBuilder, "flush", counting_flush)
    monkeypatch.setattr(ArchiveBuilder, "CAPTURE_BATCH", 1)
    for name, batch in (("each.db", 1), ("end.db", 10**9)):
        build_archive(tmp_path / name, warcs=warcs, parse=json_parser, parser_version=FAKE_VERSION,
                      batch_size=batch, registry_path=tmp_path / "none.yaml")
    assert_same_tables(tmp_path / "each.db", tmp_path / "end.db")
    # the first build wrote each version at the flush after it (the page with no cells waits for its PDF's),
    # the second all six at finish()
    assert [n for n in flushes if n] == [2, 1, 1, 1, 1, 6]
    conn = sqlite3.connect(tmp_path / "each.db")
    try:
        versions = conn.execute("select url, version, is_latest, first_seen, last_seen, withdrawn_at "
                                "from document_versions order by url, version").fetchall()
        joined = conn.execute("select url, role, numbers from version_documents where version_id in "
                              "(select id from document_versions where url = ?) order by url", [A_PDF]).fetchall()
        chain = conn.execute("select count(*), count(*) - sum(ok) from rule_results where other_version_id in "
                             "(select id from document_versions where url = ?)", [B22]).fetchone()
    finally:
        conn.close()
    assert versions == [  # (the joined version's URL is its numbers document's)
        (A_PDF, 1, 1, "2026-01-01T00:00:01Z", "2026-01-02T00:00:02Z", None),  # the page's revisit counts
        (B22, 1, 1, "2026-01-01T00:00:03Z", "2026-01-01T00:00:03Z", None),
        (B23, 1, 0, "2026-01-01T00:00:04Z", "2026-01-01T00:00:04Z", None),
        (B23, 2, 1, "2026-01-02T00:00:01Z", "2026-01-02T00:00:01Z", None),  # the edit
        # withdrawn at its first URL, seen and listed at another: not withdrawn
        (C, 1, 1, "2026-01-01T00:00:05Z", "2026-01-02T00:00:03Z", None),
    ]
    assert joined == [(A_PAGE, "report", 0), (A_PDF, "attachment", 1)]
    assert chain == (2, 0)  # the latest 2023 (carried over 3) against 2022 (carried forward 3): both cells agree


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


def test_a_reader_that_forgets_dispatched_payloads_gives_the_same_database(tmp_path, monkeypatch):
    """The parse-worker reader remembers only the last RECENT_DIGESTS payloads it sent (bounded memory):
    with a memory of one, repeated payloads are parsed again and the builder keeps their first version."""
    from nianbao.archive import parsing

    src = _report_files(tmp_path, 12)
    for i in range(12):  # each payload a second time under another name, after the others
        (src / f"z{i:03d}.txt").write_bytes((src / f"r{i:03d}.txt").read_bytes())
    dispatched = []
    jobs = parsing._jobs

    def counting_jobs(records):
        for job in jobs(records):
            dispatched.append(job[3])
            yield job

    monkeypatch.setattr(parsing, "RECENT_DIGESTS", 1)
    monkeypatch.setattr(parsing, "_jobs", counting_jobs)
    monkeypatch.setattr(parsing, "default_parser", lambda: (json_parser, FAKE_VERSION))
    build_archive(tmp_path / "two.db", files=[src], jobs=2, parser_version=FAKE_VERSION)
    build_archive(tmp_path / "one.db", files=[src], parse=json_parser, parser_version=FAKE_VERSION)
    assert_same_tables(tmp_path / "one.db", tmp_path / "two.db")
    assert dispatched.count(True) == 24  # every repeat parsed again: nothing remembered beyond one


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
