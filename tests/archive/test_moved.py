"""Moved and withdrawn reports across two crawls, as the crawler's summaries state them
(`moved`, `withdrawn`, `unlisted`; `report_urls` after following redirects)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from tests.archive.helpers import Warc, body, build_fake, canonical

AGENCY = "平潭综合实验区财政金融局"
BASE = "https://www.example.gov.cn/gknb/"
OLD_SAME = BASE + "2022/t1.html"       # moves, the new URL serves the same payload
NEW_SAME = BASE + "new/2022/t1.html"
OLD_EDITED = BASE + "2021/t2.html"     # moves, the new URL serves an edited report
NEW_EDITED = BASE + "new/2021/t2.html"
GONE = BASE + "2020/t3.html"           # the crawler says withdrawn (404)
UNLISTED = BASE + "2019/t4.html"       # the crawler says withdrawn (still online, not listed)
FLAKY = BASE + "2023/t5.html"          # vanished, but the check hit a 5xx: no verdict yet
RUN1 = "2026-01-10T01:05:00Z"
RUN2 = "2026-02-10T01:05:00Z"


def summary(run_id: str, finished: str, report_urls: list[str], **extra) -> dict:
    return {"source": "movesrc", "run_id": run_id, "started": finished[:-4] + "0:00Z", "finished": finished,
            "complete": True, "report_urls": sorted(report_urls), "fetched": [], "not_modified": [],
            "errors": [], "stats": {}, **extra}


def write_warcs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    w = Warc(folder / "nianbao-run1-movesrc.warc.gz")
    for i, (url, year) in enumerate([(OLD_SAME, 2022), (OLD_EDITED, 2021), (GONE, 2020), (UNLISTED, 2019),
                                     (FLAKY, 2023)]):
        w.response(url, body(canonical(AGENCY, year)), source="movesrc", date=f"2026-01-10T01:00:0{i}Z")
    w.summary(summary("run1", RUN1, [OLD_SAME, OLD_EDITED, GONE, UNLISTED, FLAKY],
                      moved=[], withdrawn=[], unlisted=[]), date=RUN1)
    w.close()
    w = Warc(folder / "nianbao-run2-movesrc.warc.gz")
    for old in (OLD_SAME, OLD_EDITED):
        w.response(old, b"", source="movesrc", status="301 Moved Permanently", date="2026-02-10T01:00:00Z")
    w.response(NEW_SAME, body(canonical(AGENCY, 2022)), source="movesrc", date="2026-02-10T01:00:01Z")
    w.response(NEW_EDITED, body(canonical(AGENCY, 2021, received=8)), source="movesrc",
               date="2026-02-10T01:00:02Z")
    w.response(GONE, b"not found", source="movesrc", status="404 Not Found", date="2026-02-10T01:00:03Z")
    w.response(UNLISTED, body(canonical(AGENCY, 2019)), source="movesrc", date="2026-02-10T01:00:04Z")
    w.response(FLAKY, b"busy", source="movesrc", status="503 Service Unavailable", date="2026-02-10T01:00:05Z")
    w.summary(summary("run2", RUN2, [NEW_SAME, NEW_EDITED],
                      moved=[{"from": OLD_SAME, "to": NEW_SAME}, {"from": OLD_EDITED, "to": NEW_EDITED}],
                      withdrawn=[GONE, UNLISTED], unlisted=[UNLISTED],
                      errors=[{"url": FLAKY, "status": 503, "class": "HttpError"}]), date=RUN2)
    w.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> sqlite_utils.Database:
    root = tmp_path_factory.mktemp("moved")
    write_warcs(root / "warcs")
    return build_fake(root)


def versions(db: sqlite_utils.Database, year: int) -> list[dict]:
    return list(db.query("select version, url, first_seen, last_seen, withdrawn_at, is_latest "
                         "from document_versions where year = ? order by version", [year]))


def document(db: sqlite_utils.Database, year: int) -> dict:
    return next(db.query("select n_versions, withdrawn_at, url from documents where year = ?", [year]))


def test_moved_same_payload_is_one_version_seen_at_the_new_url(built):
    assert versions(built, 2022) == [{"version": 1, "url": OLD_SAME, "first_seen": "2026-01-10T01:00:00Z",
                                      "last_seen": "2026-02-10T01:00:01Z", "withdrawn_at": None, "is_latest": 1}]
    assert document(built, 2022) == {"n_versions": 1, "withdrawn_at": None, "url": OLD_SAME}
    urls = [r["url"] for r in built.query(
        "select c.url from captures c join document_versions v on v.id = c.version_id "
        "where v.year = 2022 order by c.fetched")]
    assert urls == [OLD_SAME, NEW_SAME]


def test_moved_and_edited_keeps_the_old_version_unwithdrawn(built):
    assert versions(built, 2021) == [
        {"version": 1, "url": OLD_EDITED, "first_seen": "2026-01-10T01:00:01Z",
         "last_seen": "2026-01-10T01:00:01Z", "withdrawn_at": None, "is_latest": 0},
        {"version": 2, "url": NEW_EDITED, "first_seen": "2026-02-10T01:00:02Z",
         "last_seen": "2026-02-10T01:00:02Z", "withdrawn_at": None, "is_latest": 1},
    ]
    assert document(built, 2021) == {"n_versions": 2, "withdrawn_at": None, "url": OLD_EDITED}
    received = [r["value"] for r in built.query(
        "select r.value from requests r join document_versions v on v.id = r.version_id where v.year = 2021 "
        "and r.row_key = 'new_received' and r.column_key = 'total' order by v.version")]
    assert received == [5, 8]


def test_explicitly_withdrawn_reports(built):
    for year in (2020, 2019):  # 404, and still online but no longer listed (`unlisted`)
        assert [v["withdrawn_at"] for v in versions(built, year)] == [RUN2]
        assert document(built, year)["withdrawn_at"] == RUN2
    health = next(built.query("select n_withdrawn, last_report_urls from source_health where source = 'movesrc'"))
    assert health == {"n_withdrawn": 2, "last_report_urls": 2}


def test_vanished_without_a_verdict_waits(built):
    assert [v["withdrawn_at"] for v in versions(built, 2023)] == [None]
    assert document(built, 2023)["withdrawn_at"] is None


def test_moved_report_withdrawn_later_follows_its_new_url(tmp_path):
    write_warcs(tmp_path / "warcs")
    w = Warc(tmp_path / "warcs" / "nianbao-run3-movesrc.warc.gz")
    w.response(NEW_SAME, b"gone", source="movesrc", status="410 Gone", date="2026-03-10T01:00:00Z")
    w.summary(summary("run3", "2026-03-10T01:05:00Z", [NEW_EDITED], moved=[], withdrawn=[NEW_SAME],
                      unlisted=[]), date="2026-03-10T01:05:00Z")
    w.close()
    db = build_fake(tmp_path)
    assert [v["withdrawn_at"] for v in versions(db, 2022)] == ["2026-03-10T01:05:00Z"]
    assert [v["withdrawn_at"] for v in versions(db, 2021)] == [None, None]
