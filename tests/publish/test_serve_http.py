"""The published archive over HTTP: a real Datasette started like `nianbao serve`, on an archive
built by the archive's builder from a WARC; every canned query checked against planted answers."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import subprocess
import sys

import pytest

from nianbao.publish.original import CSP
from nianbao.publish.warc import OriginalNotFound, resolve_warc_path
from tests.publish.archive_fixture import AGENCIES, SCRIPT

A, B, C, D, E = (AGENCIES[k] for k in "ABCDE")
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")


def db(server) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{server.data_dir / 'nianbao.db'}?mode=ro", uri=True)


def rows(server, query: str, **params: str) -> list[dict]:
    return server.json(f"/nianbao/{query}.json", _shape="array", **params)


def total_cell(report: dict, row: str, column: str = "total") -> int:
    return next(c["value"] for c in report["requests"] if c["row"] == row and c["column"] == column)


# -- read-only, immutable, settings, robots ------------------------------------------------------

def test_served_immutable_with_inspect_file_and_csv_streaming(server):
    dbs = server.json("/-/databases.json")
    assert [(d["name"], d["is_mutable"]) for d in dbs] == [("nianbao", False)]
    settings = server.json("/-/settings.json")
    assert settings["allow_csv_stream"] is True
    inspect = json.loads((server.data_dir / "nianbao.inspect.json").read_text())
    counts = inspect["nianbao"]["tables"]
    with db(server) as conn:
        for name in ("document_versions", "requests", "reports", "coverage", "rule_failures"):
            assert counts[name]["count"] == conn.execute(f"select count(*) from {name}").fetchone()[0]
    assert counts["reports"]["count"] == 17
    # the view's count comes from the inspect file, so an unfiltered view page never counts
    assert server.json("/nianbao/reports.json")["filtered_table_rows_count"] == 17


def test_no_write_endpoint(server):
    plugins = {p["name"] for p in server.json("/-/plugins.json")}
    assert "nianbao" in plugins and "datasette-dashboards" in plugins
    assert not {p for p in plugins if re.search(r"write|insert|upload|edit|import", p)}
    import urllib.error
    import urllib.request
    before = (server.data_dir / "nianbao.db").read_bytes()
    for method, path in (("POST", "/nianbao/reports"), ("POST", "/nianbao/requests/-/insert"),
                         ("POST", "/nianbao/-/create"), ("PUT", "/nianbao/agencies"),
                         ("DELETE", "/nianbao/agencies"), ("POST", "/nianbao/outcome_shares")):
        req = urllib.request.Request(server.base + path, data=b'{"row": {}}', method=method,
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 405 and err.value.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert (server.data_dir / "nianbao.db").read_bytes() == before


def test_robots_txt_lets_pages_be_indexed_but_not_queries(server):
    status, headers, body = server.get("/robots.txt")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    lines = body.decode().splitlines()
    assert lines[0] == "User-agent: *"
    for rule in ("/*.json", "/*.csv", "/*?sql=", "/-/"):
        assert f"Disallow: {rule}" in lines
    assert "Allow: /" in lines
    assert not any(line == "Disallow: /" for line in lines)


# -- metadata ------------------------------------------------------------------------------------

def test_metadata_describes_every_table_and_view_in_both_languages(server):
    meta = server.json("/-/metadata.json")
    assert meta["title"] and meta["license"] and meta["source"] and meta["license_url"]
    described = meta["databases"]["nianbao"]["tables"]
    info = server.json("/nianbao.json")
    names = [t["name"] for t in info["tables"] if not t["hidden"]] + [v["name"] for v in info["views"]]
    assert "reports" in names and "sections" in names
    for name in names:
        assert name in described, f"no metadata for {name}"
        text = described[name]["description"]
        assert CJK.search(text) and LATIN.search(text), f"{name} needs Chinese and English: {text}"
    units = " ".join(described["requests"]["columns"].values()) + described["active_disclosure"]["description"]
    assert "件" in units and "万元" in units
    assert {"year", "edition", "status", "is_latest"} <= set(described["document_versions"]["facets"])
    assert {"province", "city", "level"} <= set(described["agencies"]["facets"])
    assert described["rule_failures"]["facets"] == ["kind", "rule", "year"]
    assert {"year", "edition", "status", "province", "level"} <= set(described["report_totals"]["facets"])
    assert {"year", "edition", "status"} <= set(described["reports"]["facets"])


def test_table_page_facets_sort_and_column_descriptions(server):
    data = server.json("/nianbao/document_versions.json", _shape="objects", is_latest="1")
    assert "sorted by year descending" in data["human_description_en"]
    assert [r["year"] for r in data["rows"]] == sorted((r["year"] for r in data["rows"]), reverse=True)
    facets = data["facet_results"]
    assert {"year", "edition", "status", "is_latest"} <= set(facets)
    assert {f["value"]: f["count"] for f in facets["year"]["results"]} == {2021: 6, 2022: 5, 2023: 6}
    agencies = server.json("/nianbao/agencies.json", _shape="objects")["facet_results"]
    assert {f["value"]: f["count"] for f in agencies["level"]["results"]} == {"department": 5, "prefecture": 1}
    assert {f["value"] for f in agencies["city"]["results"]} == {"宁波市"}
    failures = server.json("/nianbao/rule_failures.json", _shape="objects")["facet_results"]
    assert {f["value"]: f["count"] for f in failures["rule"]["results"]} == {
        "carry_chain": 2, "outcomes_sum": 1, "row_total": 1}
    assert {f["value"]: f["count"] for f in failures["year"]["results"]} == {2022: 2, 2023: 2}
    status, _, body = server.get("/nianbao/reports")
    assert "本年新收申请（件）" in body.decode()


# -- canned queries ------------------------------------------------------------------------------

def test_requests_per_agency_and_year(server):
    ex = server.expect
    got = rows(server, "requests_per_agency_year", agency="教育局", year="2022")
    report = ex.reports[("A", 2022)]
    assert [(r["agency"], r["year"], r["received"], r["carried_forward"]) for r in got] == [
        (A, 2022, total_cell(report, "new_received"), total_cell(report, "carried_forward"))]
    assert got[0]["source_url"] == ex.urls[("A", 2022)]
    assert got[0]["captured"] == "2023-02-01T03:00:00Z" and got[0]["capture_id"]
    every = rows(server, "requests_per_agency_year", agency="", year="")
    assert len(every) == 17


def test_outcome_shares_by_reason(server):
    ex = server.expect
    got = {r["outcome_key"]: r for r in rows(server, "outcome_shares", year="2021", agency="")}
    reports = [r for (k, y), r in ex.reports.items() if y == 2021]
    handled = sum(total_cell(r, "total") for r in reports)
    granted = sum(total_cell(r, "granted") for r in reports)
    assert got["granted"]["requests"] == granted
    assert got["granted"]["share_percent"] == round(100 * granted / handled, 2)
    assert "denied_state_secret" in got and "unavailable_not_held" in got
    assert got["denied_state_secret"]["outcome"] == "1.属于国家秘密"
    assert "total" not in got and "new_received" not in got


def test_outcome_shares_for_part_of_an_agency_name_read_the_cells(server):
    ex = server.expect
    got = {(r["year"], r["outcome_key"]): r for r in rows(server, "outcome_shares", year="", agency="教育局")}
    for (letter, year), report in ex.reports.items():
        if AGENCIES[letter] == A:
            assert got[(year, "granted")]["requests"] == total_cell(report, "granted")
    assert {y for y, _ in got} == {y for (k, y) in ex.reports if AGENCIES[k] == A}
    everyone = {r["outcome_key"]: r["requests"] for r in rows(server, "outcome_shares", year="2022", agency="")}
    assert everyone["granted"] == sum(total_cell(r, "granted") for (_, y), r in ex.reports.items() if y == 2022)


def test_trend_charts_read_report_totals(server):
    from nianbao.commands.serve import default_metadata

    metadata = json.loads(default_metadata().read_text(encoding="utf-8"))
    charts = metadata["plugins"]["datasette-dashboards"]["trends"]["charts"]
    ex = server.expect

    def run(name: str, **params: str) -> list[dict]:
        sql = charts[name]["query"]
        for key in ("province", "level"):
            sql = re.sub(rf"\[\[([^\]]*:{key}[^\]]*)\]\]", r"\1" if key in params else "", sql)
        assert "report_totals" in sql
        return server.json("/nianbao.json", sql=sql, _shape="array", **params)

    from tests.publish.archive_fixture import _edited

    latest = {k: (_edited(r) if ex.urls[k] == ex.edited_url else r) for k, r in ex.reports.items()}
    received = {r["year"]: r["received"] for r in run("requests")}
    expected: dict[int, int] = {}
    for (_, year), report in latest.items():
        expected[year] = expected.get(year, 0) + total_cell(report, "new_received")
    assert received == expected and received[2023] == sum(
        total_cell(r, "new_received") for (_, y), r in ex.reports.items() if y == 2023) + 3  # C's edit
    reports = {r["year"]: r["reports"] for r in run("reports")}
    assert sum(reports.values()) == len(ex.reports) == 17
    outcomes = {(r["year"], r["outcome"]): r["requests"] for r in run("outcomes")}
    assert outcomes[(2023, "予以公开 granted")] == sum(
        total_cell(r, "granted") for (_, y), r in latest.items() if y == 2023)
    lawsuits = {(r["year"], r["procedure"]): r["cases"] for r in run("appeals")}
    assert sum(n or 0 for (_, p), n in lawsuits.items() if p == "行政诉讼 lawsuit") == sum(
        c["value"] or 0 for r in latest.values() for c in r["appeals"]
        if c["procedure"].startswith("litigation") and c["outcome"] == "total")
    failing = {(r["year"], r["rule"]): r["reports"] for r in run("failures")}
    assert failing[(2022, "outcomes_sum")] == 1
    assert run("reports", level="nonexistent-level") == []


def test_report_totals_page_facets(server):
    data = server.json("/nianbao/report_totals.json", _shape="objects")
    facets = data["facet_results"]
    assert {"year", "edition", "status", "province", "level"} <= set(facets)
    assert sum(f["count"] for f in facets["year"]["results"]) == 17
    view = server.json("/nianbao/reports.json", _shape="objects")["facet_results"]
    assert {f["value"]: f["count"] for f in view["year"]["results"]} == {2021: 6, 2022: 5, 2023: 6}


def test_agencies_with_most_lawsuits(server):
    ex = server.expect
    latest = {k: r for k, r in ex.reports.items()}  # C 2023's edit changes no appeal numbers
    sums: dict[str, int] = {}
    for (letter, _), r in latest.items():
        n = sum(c["value"] or 0 for c in r["appeals"]
                if c["procedure"].startswith("litigation") and c["outcome"] == "total")
        sums[AGENCIES[letter]] = sums.get(AGENCIES[letter], 0) + n
    expected = sorted(((n, a) for a, n in sums.items() if n > 0), key=lambda t: (-t[0], t[1]))
    got = rows(server, "most_lawsuits", year="")
    assert [(r["lawsuits"], r["agency"]) for r in got] == expected


def test_reports_that_dont_add_up(server):
    got = rows(server, "inconsistent_reports", rule="", year="")
    assert {(r["agency"], r["year"], r["rule"], r["scope"]) for r in got} == {
        (A, 2022, "outcomes_sum", "total"), (A, 2022, "row_total", "granted")}
    for r in got:
        assert abs(r["difference"]) == 5 and r["expected"] is not None and r["printed"] is not None
        assert r["capture_id"] and r["source_url"] == server.expect.urls[("A", 2022)]
    assert rows(server, "inconsistent_reports", rule="balance", year="") == []


def test_carry_over_chains_that_break(server):
    got = rows(server, "broken_carry_chains", year="", agency="")
    by_col = {r["column_key"]: r for r in got}
    assert set(by_col) == {"natural_person", "total"} and {r["agency"] for r in got} == {B}
    np = by_col["natural_person"]
    assert (np["year"], np["carried_forward_last_year"], np["carried_over_this_year"]) == (2023, 3, 7)
    assert np["previous_capture_id"] and np["capture_id"] and np["previous_capture_id"] != np["capture_id"]


def test_reports_edited_after_publication(server):
    got = rows(server, "edited_reports", year="")
    assert [(r["agency"], r["year"], r["n_versions"], r["changed_cells"]) for r in got] == [(C, 2023, 2, 6)]
    edit = got[0]
    assert edit["first_version_seen"] == "2024-02-01T03:00:00Z"
    assert edit["latest_version_seen"] == "2024-04-15T03:00:00Z"
    assert (edit["same_url"], edit["first_url"], edit["latest_url"]) == (1, server.expect.edited_url,
                                                                         server.expect.edited_url)
    changes = rows(server, "version_changes", document_id=edit["document_id"])
    assert len(changes) == 6
    assert all(c["new_value"] - c["old_value"] == 3 for c in changes)
    assert {(c["row_key"], c["column_key"]) for c in changes} == {
        (row, col) for row in ("new_received", "granted", "total") for col in ("natural_person", "total")}


def test_coverage_gaps_missing_and_late(server):
    got = rows(server, "coverage_gaps", year="", level="")
    assert {(r["agency"], r["year"], r["gap"]) for r in got} == {
        (D, 2022, "not in this archive 存档中没有"), (E, 2023, "published late 逾期发布")}
    late = next(r for r in got if r["agency"] == E)
    assert (late["deadline"], late["published"], late["days_late"]) == ("2024-01-31", "2024-05-10", 100)


def test_canned_text_search_finds_two_character_terms(server):
    got = rows(server, "search_report_text", q="收费")
    names = {v: k for k, v in AGENCIES.items()}
    assert {(names[r["agency"]], r["year"]) for r in got} == server.expect.shoufei
    assert all("【收费】" in r["excerpt"] for r in got)


# -- full-text search through Datasette's own search ---------------------------------------------

@pytest.mark.parametrize("table", ["section_search", "sections"])
@pytest.mark.parametrize("term", ["复议", "收费", "费", "行政复议"])
def test_table_search_matches_exact_substrings(server, term, table):
    with db(server) as conn:
        truth = {r[0] for r in conn.execute(
            "select id from sections where heading like ?1 or text like ?1 or agency like ?1 or title like ?1",
            [f"%{term}%"])}
    got = server.json(f"/nianbao/{table}.json", _search=term, _shape="objects", _size="max")
    assert truth and {r["id"] for r in got["rows"]} == truth
    assert got["filtered_table_rows_count"] == len(truth)


def test_section_search_rows_are_the_sections_with_their_report_and_agency(server):
    """The search page's narrow rows: one per section, same id, its version's year and latest flag,
    its agency's province and level."""
    with db(server) as conn:
        truth = conn.execute(
            "select s.id, s.id, s.version_id, s.year, s.number, v.is_latest, a.province, a.level "
            "from sections s join document_versions v on v.id = s.version_id "
            "left join agencies a on a.name = v.agency order by s.id").fetchall()
        got = conn.execute("select id, section, version_id, year, number, is_latest, province, level "
                           "from section_search order by id").fetchall()
    assert len(truth) > 20 and got == truth
    assert {r[5] for r in got} == {0, 1}  # edited reports: older versions' sections stay searchable


def test_section_search_page_shows_text_and_report_and_year_facet(server):
    """Search 复议 on the search page: each row shows the section's text and the report's title
    (foreign-key labels), a year facet (asked for: none is on by default) counts the hits per year."""
    with db(server) as conn:
        by_year = dict(conn.execute(
            "select year, count(*) from sections where text like '%复议%' or heading like '%复议%' "
            "or agency like '%复议%' or title like '%复议%' group by year").fetchall())
        first = conn.execute(
            "select s.text, v.title from sections s join document_versions v on v.id = s.version_id "
            "where s.id = (select min(id) from sections where text like '%复议%' or heading like '%复议%')"
        ).fetchone()
    got = server.json("/nianbao/section_search.json", _search="复议", _labels="on", _shape="objects",
                      _facet="year")
    facet = {r["value"]: r["count"] for r in got["facet_results"]["year"]["results"]}
    assert facet == by_year and sum(facet.values()) == got["filtered_table_rows_count"]
    row = got["rows"][0]
    assert (row["section"]["label"], row["version_id"]["label"]) == first
    with db(server) as conn:  # the section number shows the template's heading for it
        number, = conn.execute("select number from sections where id = ?", [row["id"]]).fetchone()
    assert row["number"] == {"value": number, "label": {
        1: "总体情况", 2: "主动公开政府信息情况", 3: "收到和处理政府信息公开申请情况",
        4: "政府信息公开行政复议、行政诉讼情况", 5: "存在的主要问题及改进情况",
        6: "其他需要报告的事项"}[number]}
    status, _, body = server.get("/nianbao/section_search", _search="复议")
    assert status == 200 and first[0] in body.decode("utf-8")


# -- exports -------------------------------------------------------------------------------------

def test_csv_stream_and_json_export(server):
    with db(server) as conn:
        n = conn.execute("select count(*) from requests").fetchone()[0]
    status, headers, body = server.get("/nianbao/requests.csv", _stream="on", _size="max")
    assert status == 200 and headers["content-type"].startswith("text/plain") or "csv" in headers["content-type"]
    table = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert len(table) == n > 1000  # more rows than one page: streamed
    data = server.json("/nianbao/reports.json", _shape="array", agency=A, year="2022")
    assert data[0]["received"] == total_cell(server.expect.reports[("A", 2022)], "new_received")


# -- archived originals --------------------------------------------------------------------------

def capture_ids(server, url: str) -> list[tuple[str, str]]:
    with db(server) as conn:
        return conn.execute("select id, record_type from captures where url = ? order by fetched",
                            [url]).fetchall()


def test_original_is_served_sandboxed_and_verbatim(server):
    (cid, _), = capture_ids(server, server.expect.script_url)
    status, headers, body = server.get(f"/-/original/{cid}/raw")
    assert status == 200
    csp = headers["content-security-policy"]
    assert csp == CSP and csp.startswith("sandbox;") and "allow-scripts" not in csp
    assert "default-src 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert SCRIPT.encode() in body and "教育局2023年政府信息公开工作年度报告".encode() in body


def test_original_page_names_source_and_capture_time(server):
    (cid, _), = capture_ids(server, server.expect.script_url)
    status, headers, body = server.get(f"/-/original/{cid}")
    page = body.decode()
    assert status == 200
    assert server.expect.script_url in page and "2024-02-01T03:00:00Z" in page
    assert re.search(rf'<iframe[^>]*sandbox=""[^>]*src="/-/original/{cid}/raw"', page)


def test_content_encoded_capture_is_served_decoded(server):
    (cid, _), = capture_ids(server, server.expect.gzip_url)
    status, headers, body = server.get(f"/-/original/{cid}/raw")
    assert status == 200 and "content-encoding" not in headers
    assert "财政局2021年政府信息公开工作年度报告".encode() in body


def test_revisit_serves_the_response_it_repeats(server):
    caps = capture_ids(server, server.expect.revisit_url)
    assert [t for _, t in caps] == ["response", "revisit"]
    _, _, first = server.get(f"/-/original/{caps[0][0]}/raw")
    status, _, again = server.get(f"/-/original/{caps[1][0]}/raw")
    assert status == 200 and again == first and "卫生健康委员会".encode() in again


def test_gbk_page_is_served_byte_for_byte_with_its_charset(server):
    (cid, _), = capture_ids(server, server.expect.gbk_url)
    status, headers, body = server.get(f"/-/original/{cid}/raw")
    assert status == 200 and body == server.expect.gbk_body
    assert headers["content-type"] == "text/html; charset=GBK"
    assert "content-disposition" not in headers


def test_attachment_is_downloaded_not_rendered(server):
    (cid, _), = capture_ids(server, server.expect.pdf_url)
    status, headers, body = server.get(f"/-/original/{cid}/raw")
    assert status == 200 and body == server.expect.pdf_body
    assert headers["content-type"] == "application/pdf"
    assert headers["content-disposition"] == 'attachment; filename="original.pdf"'
    assert headers["content-security-policy"] == CSP
    page = server.get(f"/-/original/{cid}")[2].decode()
    assert "<iframe" not in page and f'href="/-/original/{cid}/raw" download' in page


def test_unknown_capture_is_404(server):
    assert server.get("/-/original/0000000000000000")[0] == 404
    assert server.get("/-/original/0000000000000000/raw")[0] == 404


def test_every_report_links_to_its_original(server):
    status, _, body = server.get("/nianbao/reports", _size="100")
    page = body.decode()
    with db(server) as conn:
        ids = [r[0] for r in conn.execute("select capture_id from reports")]
    assert len(ids) == 17
    for cid in ids:
        assert f'href="/-/original/{cid}"' in page
    # every number: the provenance view links each cell to its capture
    status, _, body = server.get("/nianbao/cell_provenance", table_name="requests", _size="5")
    assert 'class="nianbao-original" href="/-/original/' in body.decode()


def test_warc_paths_cannot_escape_the_warc_directory(tmp_path):
    (tmp_path / "warcs").mkdir()
    (tmp_path / "secret.warc.gz").write_bytes(b"x")
    with pytest.raises(OriginalNotFound):
        resolve_warc_path(tmp_path / "warcs", "../secret.warc.gz")
    with pytest.raises(OriginalNotFound):
        resolve_warc_path(tmp_path / "warcs", "/etc/passwd")


# -- the command ---------------------------------------------------------------------------------

def test_serve_is_a_nianbao_command_and_runs_datasette_immutably(built_archive):
    from nianbao.cli import COMMAND_MODULES

    assert "serve" in COMMAND_MODULES
    data_dir, _ = built_archive
    out = subprocess.run([sys.executable, "-m", "nianbao.commands.serve", "--data-dir", str(data_dir),
                          "--port", "8123", "--dry-run"], capture_output=True, text=True, check=True)
    cmd = out.stdout.split()
    assert cmd[cmd.index("-i") + 1] == str(data_dir / "nianbao.db")
    assert cmd[cmd.index("--inspect-file") + 1] == str(data_dir / "nianbao.inspect.json")
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and cmd[cmd.index("--port") + 1] == "8123"
    assert cmd[cmd.index("--metadata") + 1].endswith("datasette-metadata.json")


def test_archive_connections_get_a_larger_cache_and_a_memory_map(tmp_path):
    from nianbao.publish.hooks import prepare_connection

    class Datasette:
        def plugin_config(self, name):
            return {"database": "nianbao"}

    conn = sqlite3.connect(tmp_path / "nianbao.db")
    prepare_connection(conn, "nianbao", Datasette())
    assert conn.execute("pragma cache_size").fetchone()[0] == -262144
    assert conn.execute("pragma mmap_size").fetchone()[0] > 0
    other = sqlite3.connect(":memory:")
    prepare_connection(other, "_internal", Datasette())
    assert other.execute("pragma cache_size").fetchone()[0] == -2000  # only the archive's connections
