"""nianbao.health on an archive database laid out with the archive's own schema (archive.schema),
holding the rows a build would derive: failure classes, consecutive failures, empty columns, parse
drift and calendar-aware overdue reports."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlite_utils

from nianbao.archive.schema import create_tables
from nianbao.health import classify_error, failure_class, source_health


@pytest.mark.parametrize("error, cls", [
    ({"class": "CannotResolveHostError", "status": None}, "dns"),
    ({"class": "DNSLookupError", "status": None}, "dns"),
    ({"class": "DownloadConnectionRefusedError", "status": None}, "refused"),
    ({"class": "DownloadTimeoutError", "status": None}, "timeout"),
    ({"class": "challenge_page", "status": 200}, "blocked"),
    ({"class": "login_wall", "status": 200}, "blocked"),
    ({"class": "http_error", "status": 403}, "blocked"),
    ({"class": "http_error", "status": 404}, "404"),
    ({"class": "not_found_page", "status": 200}, "404"),
    ({"class": "http_error", "status": 502}, "5xx"),
    ({"class": "http_error", "status": 400}, "http_error"),
    ({"class": "IgnoreRequest", "status": None}, "robots"),
    ({"class": "robots_forbidden", "status": None}, "robots"),
    ({"class": "unrecognised_page", "status": 200}, "blocked"),
    ({"class": "empty_response", "status": 200}, "empty_response"),
    ({"class": "redirect_loop", "status": 302}, "redirect_loop"),
    ({"class": "bad_api_response", "status": 200}, "search_api"),
])
def test_classify_error(error, cls):
    assert classify_error(error) == cls


def test_failure_class_prefers_the_start_url_error():
    start = ["http://a.example/col/"]
    errors = [{"url": "http://a.example/col/t1.html", "status": 404, "class": "http_error"},
              {"url": "http://a.example/col/index.html", "status": 200, "class": "challenge_page"}]
    assert failure_class(errors, start) == "blocked"
    assert failure_class([], start) == "incomplete"
    assert failure_class(errors[:1], start) == "404"


START = ["http://a.example/col/"]
TIMEOUT_ON_A_REPORT = {"url": "http://a.example/col/t9.html", "status": None, "class": "DownloadTimeoutError",
                       "role": "report"}


@pytest.mark.parametrize("errors, stats, cls", [
    # the case: a pagination trap stopped at the cap, a report timed out on the way
    ([TIMEOUT_ON_A_REPORT], {"incomplete_cause": "list_page_cap", "list_page_cap_hit": True}, "list_page_cap"),
    ([TIMEOUT_ON_A_REPORT], {"list_page_cap_hit": True}, "list_page_cap"),  # summaries before the cause key
    ([TIMEOUT_ON_A_REPORT], {"incomplete_cause": "interrupted"}, "interrupted"),
    ([TIMEOUT_ON_A_REPORT, {"url": "http://a.example/fjdzapp/search", "status": 500, "class": "http_error",
                            "role": "list", "api": True}], {"incomplete_cause": "search_api"}, "search_api"),
    ([TIMEOUT_ON_A_REPORT, {"url": "http://a.example/col/index_3.html", "status": None,
                            "class": "robots_forbidden", "role": "list"}],
     {"incomplete_cause": "list_errors"}, "robots"),
    ([{"url": "http://a.example/col/t8.html", "status": 404, "class": "http_error", "role": "report"},
      {"url": "http://a.example/col/index_1.html", "status": None, "class": "DownloadTimeoutError", "role": "list"}],
     {"incomplete_cause": "list_errors"}, "timeout"),
    ([TIMEOUT_ON_A_REPORT, {"url": "http://a.example/col/index_1.html", "status": 503, "class": "http_error",
                            "role": "list"}], {"incomplete_cause": "list_errors"}, "5xx"),
    ([TIMEOUT_ON_A_REPORT, {"url": "http://a.example/col/index_1.html", "status": 302, "class": "redirect_loop",
                            "role": "list"}], {"incomplete_cause": "list_errors"}, "redirect_loop"),
])
def test_failure_class_names_the_cause_the_crawler_recorded(errors, stats, cls):
    assert failure_class(errors, START, stats) == cls


def test_status_names_the_list_page_cap_not_a_timeout(tmp_path):
    path = tmp_path / "nianbao.db"
    db = sqlite_utils.Database(path)
    create_tables(db)
    db["sources"].insert({"name": "trap", "agency": "甲县人民政府", "start_urls": json.dumps(START),
                          "enabled": 1, "frozen": 0})
    row = _summary("trap", "r1", "2025-01-02T03:00:00Z", 0, 40, [TIMEOUT_ON_A_REPORT])
    row["stats"] = json.dumps({"list_page_cap_hit": True, "incomplete_cause": "list_page_cap"})
    db["crawl_summaries"].insert(row)
    db.close()
    (trap,) = source_health(path, date(2025, 1, 15))
    assert (trap.state, trap.failure_class, trap.last_errors) == ("failing", "list_page_cap", {"timeout": 1})
    assert trap.problems == ["1 failed crawl(s) in a row (list_page_cap)"]


def _summary(source: str, run: str, finished: str, complete: int, n_urls: int, errors: list | None = None) -> dict:
    return {"id": f"{source}|{run}", "source": source, "run_id": f"crawl:{run}", "started": finished,
            "finished": finished, "complete": complete, "n_report_urls": n_urls, "n_fetched": 0,
            "n_not_modified": 0, "n_errors": len(errors or []), "report_urls": "[]",
            "errors": json.dumps(errors or []), "stats": "{}"}


def _version(vid: str, doc: str, version: int, status: str, agency: str, year: int, source: str, url: str,
             first_seen: str, is_latest: int) -> dict:
    return {"id": vid, "document_id": doc, "version": version, "is_latest": is_latest, "agency": agency,
            "year": year, "status": status, "source": source, "url": url, "first_seen": first_seen,
            "title": f"{agency}{year}年度政府信息公开工作年度报告"}


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "nianbao.db"
    db = sqlite_utils.Database(path)
    db.conn.execute("pragma foreign_keys = off")
    create_tables(db)
    db["sources"].insert_all([
        {"name": name, "agency": agency, "start_urls": json.dumps([f"http://{name}.example/col/"]),
         "enabled": 1, "frozen": 0}
        for name, agency in (("dead", "甲县人民政府"), ("emptied", "乙县人民政府"), ("drifting", "丙县人民政府"),
                             ("quiet", "丁县教育局"))])
    db["runs"].insert_all([{"id": f"crawl:r{i}", "kind": "crawl"} for i in (1, 2, 3)])
    db["crawl_summaries"].insert_all([
        _summary("dead", "r1", "2025-01-01T03:00:00Z", 1, 4),
        _summary("dead", "r2", "2025-01-02T03:00:00Z", 0, 0,
                 [{"url": "http://dead.example/col/", "status": None, "class": "CannotResolveHostError"}]),
        _summary("dead", "r3", "2025-01-03T03:00:00Z", 0, 0,
                 [{"url": "http://dead.example/col/", "status": None, "class": "CannotResolveHostError"}]),
        _summary("emptied", "r1", "2025-01-01T03:00:00Z", 1, 5),
        _summary("emptied", "r2", "2025-01-02T03:00:00Z", 1, 0),
        _summary("drifting", "r1", "2025-01-01T03:00:00Z", 1, 1),
        _summary("drifting", "r2", "2025-01-02T03:00:00Z", 1, 1),
        _summary("quiet", "r1", "2025-01-01T03:00:00Z", 1, 1),
    ])
    db["agencies"].insert_all([{"name": "丙县人民政府", "level": "county"},
                               {"name": "丁县教育局", "level": "department"}])
    db["document_versions"].insert_all([
        _version("v1", "d1", 1, "parsed", "丙县人民政府", 2023, "drifting", "http://drifting.example/col/t1.html",
                 "2025-01-01T03:00:00Z", 0),
        _version("v2", "d1", 2, "no_tables", "丙县人民政府", 2023, "drifting", "http://drifting.example/col/t1.html",
                 "2025-01-02T03:00:00Z", 1),
        _version("v3", "d2", 1, "parsed", "丁县教育局", 2023, "quiet", "http://quiet.example/col/t2.html",
                 "2024-01-20T03:00:00Z", 1),
    ])
    db.close()
    return path


def test_source_health(archive):
    health = {h.source: h for h in source_health(archive, date(2025, 1, 15))}
    dead = health["dead"]
    assert (dead.state, dead.consecutive_failures, dead.failure_class) == ("failing", 2, "dns")
    assert (dead.last_success, dead.last_crawl, dead.crawls) == ("2025-01-01T03:00:00Z", "2025-01-03T03:00:00Z", 3)
    assert dead.last_errors == {"dns": 1}
    assert dead.problems == ["2 failed crawl(s) in a row (dns)"]
    emptied = health["emptied"]
    assert (emptied.state, emptied.failure_class, emptied.last_report_urls) == ("empty", "empty", 0)
    drifting = health["drifting"]
    assert drifting.state == "drift"
    assert drifting.drift == [{"agency": "丙县人民政府", "year": 2023, "url": "http://drifting.example/col/t1.html",
                               "was": "parsed", "now": "no_tables", "since": "2025-01-02T03:00:00Z"}]
    quiet = health["quiet"]
    assert (quiet.state, quiet.overdue, quiet.reports) == ("ok", [], 1)
    assert (quiet.last_new_report, quiet.last_new_report_title) == (
        "2024-01-20T03:00:00Z", "丁县教育局2023年度政府信息公开工作年度报告")


def test_overdue_follows_the_calendar(archive):
    def overdue(day: date) -> list:
        return [(o["agency"], o["year"], o["deadline"]) for h in source_health(archive, day) for o in h.overdue]

    # Department (Jan 31): its 2024 report is due by 2025-01-31.
    assert overdue(date(2025, 1, 31)) == []
    assert overdue(date(2025, 2, 1)) == [("丁县教育局", 2024, "2025-01-31")]
    # County government (Mar 31): the no_tables 2023 report still counts as published.
    assert ("丙县人民政府", 2024, "2025-03-31") not in overdue(date(2025, 3, 31))
    assert ("丙县人民政府", 2024, "2025-03-31") in overdue(date(2025, 4, 1))
    # In July, a source with last year's report in hand is fine.
    assert overdue(date(2024, 7, 1)) == []
