"""Build from WARCs written by the crawler's own recorder (crawler.warc.WarcRecorder) with real
report pages: the archive reads what the crawler writes (gzip bodies, revisits, summaries)."""

from __future__ import annotations

import gzip
import time

import pytest
import sqlite_utils
from scrapy.http import HtmlResponse, Request

from nianbao.archive.build import build_archive
from nianbao.crawler.warc import WarcRecorder, payload_digest

COLUMN = "https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/"
URL_2022 = COLUMN + "202302/t20230220_1.htm"
URL_2023 = COLUMN + "202403/t20240308_2.htm"


def response(url: str, body: bytes, *, gzipped: bool = False) -> HtmlResponse:
    headers = {"Content-Type": "text/html; charset=utf-8"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(body, mtime=0)
    return HtmlResponse(url, status=200, headers=headers, body=body, request=Request(url))


@pytest.fixture(scope="module")
def built(shared_dir, tmp_path_factory) -> sqlite_utils.Database:
    root = tmp_path_factory.mktemp("crawlerwarcs")
    warcs = root / "warcs"
    page_2022 = (shared_dir / "real" / "pingtan_2022.html").read_bytes()
    page_2023 = (shared_dir / "real" / "pingtan_2023.html").read_bytes()
    first = WarcRecorder(warcs, run_id="20260101T010000", source="pingtan", info={"software": "test"})
    r22 = response(URL_2022, page_2022, gzipped=True)
    first.write_request(r22.request)
    rid22, date22 = first.write_response(r22, role="report")
    first.write_response(response(URL_2023, page_2023), role="report")
    first.write_summary({"source": "pingtan", "run_id": "20260101T010000", "started": "2026-01-01T01:00:00Z",
                         "finished": "2026-01-01T01:10:00Z", "complete": True,
                         "report_urls": [URL_2022, URL_2023], "fetched": [URL_2022, URL_2023],
                         "not_modified": [], "errors": [], "stats": {}}, target=COLUMN)
    first.close()
    time.sleep(1.1)  # the second crawl's records carry a later WARC-Date
    second = WarcRecorder(warcs, run_id="20260102T010000", source="pingtan", info={"software": "test"})
    second.write_revisit(r22, role="report", digest=payload_digest(r22.body),
                         refers_to={"url": URL_2022, "date": date22, "record_id": rid22})
    second.write_summary({"source": "pingtan", "run_id": "20260102T010000", "started": "2026-01-02T01:00:00Z",
                          "finished": "2026-01-02T01:10:00Z", "complete": True,
                          "report_urls": [URL_2022], "fetched": [], "not_modified": [URL_2022],
                          "errors": [], "stats": {}}, target=COLUMN)
    second.close()
    out = root / "nianbao.db"
    build_archive(out, warcs=sorted(warcs.glob("*.warc.gz")))
    return sqlite_utils.Database(out)


def test_reports_parsed_from_crawler_records(built):
    rows = {r["year"]: r for r in built.query("select * from document_versions order by year")}
    assert set(rows) == {2022, 2023}
    assert {r["agency"] for r in rows.values()} == {"平潭综合实验区"}
    assert rows[2022]["status"] == "parsed" and rows[2023]["status"] == "parsed"
    assert rows[2022]["source"] == "pingtan" and rows[2022]["url"] == URL_2022


def test_revisit_and_withdrawal_from_crawler_records(built):
    v22 = next(built.query("select * from document_versions where year = 2022"))
    revisit = next(built.query("select * from captures where record_type = 'revisit'"))
    assert revisit["version_id"] == v22["id"] and v22["last_seen"] == revisit["fetched"] > v22["first_seen"]
    v23 = next(built.query("select * from document_versions where year = 2023"))
    assert v23["withdrawn_at"] == "2026-01-02T01:10:00Z" and v22["withdrawn_at"] is None


def test_provenance_of_a_gzip_body(built):
    row = next(built.query("select * from cell_provenance where year = 2022 and table_name = 'requests' "
                           "and row_key = 'new_received' and column_key = 'total'"))
    assert row["warc_file"].startswith("nianbao-20260101T010000-pingtan-")
    assert row["url"] == URL_2022 and row["payload_digest"].startswith("sha1:")
    assert row["value"] is not None
