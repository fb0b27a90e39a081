"""Build from WARCs written here with warcio: versions, revisits, withdrawals, junk, provenance."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from tests.archive.helpers import FAKE_VERSION, Warc, body, build_fake, canonical

AGENCY = "沭阳县发展和改革局"
URL_A = "https://www.example.gov.cn/gknb/202301/t20230115_1.html"
URL_B = "https://www.example.gov.cn/gknb/202401/t20240117_2.html"
URL_JUNK = "https://www.example.gov.cn/gknb/202401/t20240118_3.html"
CHALLENGE = ("<html><head><title>安全验证</title></head><body><script>document.cookie='__jsl_clearance=1'"
             "</script></body></html>").encode()


def write_warcs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    w = Warc(folder / "20260110-run1.warc.gz")
    w.response("https://www.example.gov.cn/gknb/", b"<html>list</html>", role="list", date="2026-01-10T01:00:00Z")
    rid_a, digest_a = w.response(URL_A, body(canonical(AGENCY, 2022, carried_forward=1, published="2023-01-15")),
                                 date="2026-01-10T01:00:01Z")
    w.response(URL_B, body(canonical(AGENCY, 2023, carried_over=1, published="2024-01-17")),
               date="2026-01-10T01:00:02Z")
    w.response(URL_JUNK, CHALLENGE, date="2026-01-10T01:00:03Z")
    w.summary({"source": "testsrc", "run_id": "run1", "started": "2026-01-10T01:00:00Z",
               "finished": "2026-01-10T01:05:00Z", "complete": True,
               "report_urls": [URL_A, URL_B, URL_JUNK], "fetched": [URL_A, URL_B, URL_JUNK],
               "not_modified": [], "errors": [], "stats": {"requests": 4}}, date="2026-01-10T01:05:00Z")
    w.close()
    w = Warc(folder / "20260210-run2.warc.gz")
    w.revisit(URL_A, digest_a, rid_a, date="2026-02-10T01:00:01Z")
    # the 2023 report was silently edited: received 5 -> 9, carried_over 1 -> 3
    w.response(URL_B, body(canonical(AGENCY, 2023, received=9, carried_over=3, published="2024-01-17")),
               date="2026-02-10T01:00:02Z")
    w.summary({"source": "testsrc", "run_id": "run2", "started": "2026-02-10T01:00:00Z",
               "finished": "2026-02-10T01:05:00Z", "complete": True, "report_urls": [URL_B, URL_JUNK],
               "fetched": [URL_B], "not_modified": [URL_A], "errors": [{"url": URL_JUNK, "status": 200,
                                                                        "class": "challenge_page"}],
               "stats": {"requests": 3}}, date="2026-02-10T01:05:00Z")
    w.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> sqlite_utils.Database:
    root = tmp_path_factory.mktemp("warcbuild")
    write_warcs(root / "warcs")
    return build_fake(root)


def test_documents_and_versions(built):
    docs = {(d["agency"], d["year"]): d for d in built["documents"].rows}
    assert docs[(AGENCY, 2022)]["n_versions"] == 1
    assert docs[(AGENCY, 2023)]["n_versions"] == 2
    versions = list(built.query(
        "select version, is_latest, first_seen, last_seen from document_versions "
        "where agency = ? and year = 2023 order by version", [AGENCY]))
    assert versions == [
        {"version": 1, "is_latest": 0, "first_seen": "2026-01-10T01:00:02Z", "last_seen": "2026-01-10T01:00:02Z"},
        {"version": 2, "is_latest": 1, "first_seen": "2026-02-10T01:00:02Z", "last_seen": "2026-02-10T01:00:02Z"},
    ]
    # both versions stay queryable; the wide view shows the latest
    received = list(built.query(
        "select v.version, r.value from requests r join document_versions v on v.id = r.version_id "
        "where v.year = 2023 and r.row_key = 'new_received' and r.column_key = 'total' order by v.version"))
    assert [(r["version"], r["value"]) for r in received] == [(1, 5), (2, 9)]
    report = next(built.query("select * from reports where year = 2023"))
    assert (report["received"], report["carried_over"], report["version"], report["n_versions"]) == (9, 3, 2, 2)


def test_revisit_updates_last_seen_and_withdrawal(built):
    v = next(built.query("select * from document_versions where year = 2022"))
    assert v["first_seen"] == "2026-01-10T01:00:01Z"
    assert v["last_seen"] == "2026-02-10T01:00:01Z"
    assert v["withdrawn_at"] == "2026-02-10T01:05:00Z"
    assert next(built.query("select withdrawn_at from documents where year = 2022"))["withdrawn_at"] \
        == "2026-02-10T01:05:00Z"
    still = next(built.query("select withdrawn_at from document_versions where year = 2023 and is_latest = 1"))
    assert still["withdrawn_at"] is None
    revisit = next(built.query("select * from captures where record_type = 'revisit'"))
    assert revisit["version_id"] == v["id"] and revisit["url"] == URL_A


def test_junk_page_recorded_with_status(built):
    cap = next(built.query("select * from captures where url = ?", [URL_JUNK]))
    assert cap["junk"] == "challenge_page"
    v = next(built.query("select * from document_versions where url = ?", [URL_JUNK]))
    assert v["status"] == "challenge_page" and v["agency"] is None and v["n_cells"] == 0


def test_list_page_is_a_capture_not_a_document(built):
    cap = next(built.query("select * from captures where role = 'list'"))
    assert cap["version_id"] is None and cap["http_status"] == 200
    assert built["document_versions"].count == 4


def test_carry_chain_across_years(built):
    rows = {(r["scope"]): r for r in built.query(
        "select r.* from rule_results r join document_versions v on v.id = r.version_id "
        "where r.rule = 'carry_chain' and v.is_latest = 1")}
    prev = next(built.query("select id from document_versions where year = 2022"))["id"]
    assert rows["total"]["ok"] == 0 and rows["total"]["expected"] == 1 and rows["total"]["actual"] == 3
    assert rows["total"]["other_version_id"] == prev
    failures = list(built.query("select * from rule_failures where rule = 'carry_chain'"))
    assert {f["scope"] for f in failures} == {"natural_person", "total"}
    assert failures[0]["difference"] == 2


def test_cell_provenance_points_at_the_record(built, tmp_path_factory):
    row = next(built.query(
        "select * from cell_provenance where table_name = 'requests' and year = 2023 and is_latest = 1 "
        "and row_key = 'new_received' and column_key = 'total'"))
    assert row["value"] == 9 and row["raw"] == "9"
    assert (row["pos_table"], row["pos_row"], row["pos_col"]) == (1, 2, 9)
    assert row["url"] == URL_B and row["fetched"] == "2026-02-10T01:00:02Z"
    assert row["warc_file"] == "20260210-run2.warc.gz"
    warc = Path(built.conn.execute("pragma database_list").fetchone()[2]).parent / "warcs" / row["warc_file"]
    with open(warc, "rb") as fh:
        fh.seek(row["warc_offset"])
        record = next(iter(ArchiveIterator(fh)))
        assert record.rec_headers.get_header("WARC-Target-URI") == URL_B
        assert record.rec_headers.get_header("WARC-Payload-Digest") == row["payload_digest"]
        assert record.rec_headers.get_header("WARC-Record-ID") == row["record_id"]
        assert b'"value": 9' in record.content_stream().read()


def test_crawl_summaries_and_runs(built):
    s = {r["run_id"]: r for r in built["crawl_summaries"].rows}
    assert set(s) == {"crawl:run1", "crawl:run2"}
    assert s["crawl:run2"]["n_errors"] == 1 and s["crawl:run2"]["n_not_modified"] == 1
    kinds = sorted((r["id"], r["kind"]) for r in built["runs"].rows if r["kind"] == "crawl")
    assert kinds == [("crawl:run1", "crawl"), ("crawl:run2", "crawl")]
    build = next(built.query("select * from runs where kind = 'build'"))
    assert build["n_versions"] == 4 and build["n_warc_files"] == 2 and build["parser_version"] == FAKE_VERSION
    health = next(built.query("select * from source_health where source = 'testsrc'"))
    assert health["n_crawls"] == 2 and health["n_junk_pages"] == 1 and health["n_withdrawn"] == 1


def test_lookup_labels_explain_keys(built):
    label = next(built.query(
        "select c.label from requests r join request_columns c on c.key = r.column_key limit 1"))["label"]
    assert label in ("自然人", "总计", "商业企业")
    assert built["request_rows"].get("carried_forward")["label"] == "四、结转下年度继续办理"
    assert built["appeal_procedures"].get("review")["label"] == "行政复议"
    assert built["edition_active_rows"].get(("2019", "normative_documents"))["label"] == "规范性文件"
    fees = next(built.query("select value from active_disclosure where measure = 'amount_10k_yuan' limit 1"))
    assert fees["value"] == 1.25
    issued = next(built.query("select value, typeof(value) t, reading from active_disclosure "
                              "where measure = 'issued' limit 1"))
    assert issued == {"value": 0, "t": "integer", "reading": "dash as 0"}
