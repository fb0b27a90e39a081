"""Issue 11 acceptance, end to end: crawl the acceptance portal (tests/crawler/fidelity_portal.py) with
the real crawler on 127.0.0.1, build the archive from its WARCs, and hold the archive to the planted
truth (tests/crawler/fixtures/fidelity/reports.json, made by make_fidelity.py):

  - every report archived once (one document, one version), under the right agency and year, with
    its publication date;
  - every cell of tables 2, 3 and 4 exact;
  - carry chains evaluated for every pair of consecutive years of a body, the planted break reported
    and nothing else failing;
  - the 解读 page (which the list lets through and which repeats the report's title and numbers) not a
    report;
  - no agency or title holds navigation text (breadcrumbs, 当前位置, site or column names).

Expectations come from the planted truth only, never from the archive.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest

from nianbao.archive.build import build_archive
from tests.crawler.fidelity_portal import COLUMNS, SITE_NAME, FidelityPortal
from tests.crawler.helpers import records, run_crawl, summaries

REPORT_STATUSES = ("parsed", "partial", "no_tables", "pre2019")
NAVIGATION = (">", "&gt;", "»", "›", "首页", "当前位置", "门户网站", SITE_NAME, "浏览次数", "主办单位")
COLUMN_NAMES = ("政府信息公开年报", "年度报告", "信息公开", "政务公开", "政府信息公开", "年报", "正文")
COLUMNS_OF_TABLE3 = ("natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
                     "legal_service_org", "other_org", "total")


def accepted_names(body: str) -> set[str]:
    """The body's name as one agency: itself, or with the portal's city prefix (临江市)."""
    return {body, "临江市" + body}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fidelity")
    with FidelityPortal(tmp / "site") as portal:
        registry = portal.write_registry(tmp / "sources.yaml")
        proc = run_crawl(tmp / "data", "--sources", str(registry), "--impolite")
        urls = {r["key"]: portal.base_url + COLUMNS[r["column"]]["column"] + r["slug"] for r in portal.reports}
        attachments = {r["key"]: portal.attachment_url(r["key"]) for r in portal.reports}
        jiedu = portal.jiedu_url()
        log = portal.requests()
    warcs = sorted((tmp / "data" / "warcs").glob("*.warc.gz"))
    out = tmp / "nianbao.db"
    build_archive(out, warcs=warcs, registry_path=registry)
    conn = sqlite3.connect(out)
    conn.row_factory = sqlite3.Row
    yield {"portal": portal, "proc": proc, "warcs": warcs, "db": conn, "urls": urls, "attachments": attachments,
           "jiedu": jiedu, "log": log, "truth": {r["key"]: r for r in portal.reports},
           "break": portal.data["break"]}
    conn.close()


def q(site, sql: str, *args) -> list[sqlite3.Row]:
    return list(site["db"].execute(sql, args))


def documents_of(site) -> dict[str, list[sqlite3.Row]]:
    """Planted key -> the identified documents (agency + year) that match it."""
    docs = q(site, "select * from documents where agency is not null and year is not null")
    out: dict[str, list[sqlite3.Row]] = {}
    for key, r in site["truth"].items():
        out[key] = [d for d in docs if d["year"] == r["year"] and d["agency"] in accepted_names(r["body"])]
    return out


def latest(site, key: str) -> sqlite3.Row | None:
    docs = documents_of(site)[key]
    if len(docs) != 1:
        return None
    return q(site, "select * from document_versions where id = ?", docs[0]["latest_version_id"])[0]


# ------------------------------------------------------------------------------ the crawl itself


def test_crawl_complete_and_lists_everything(site):
    assert site["proc"].returncode == 0, site["proc"].stderr[-3000:]
    recs = records(Path(site["warcs"][0]).parent)
    s = summaries(recs)
    assert s["fid-bsq"]["complete"] is True and s["fid-bmapi"]["complete"] is True
    listed = set(s["fid-bsq"]["report_urls"]) | set(s["fid-bmapi"]["report_urls"])
    assert listed == set(site["urls"].values()) | {site["jiedu"]}  # the 解读 slips through the list
    assert s["fid-bmapi"]["stats"]["api_pages"] == 2  # 3 static, 4 through the search API
    fetched = {q_.path for q_ in site["log"] if q_.status == 200}
    base = site["portal"].base_url
    for key, att in site["attachments"].items():
        if att:
            assert att[len(base):] in fetched, key


# ------------------------------------------------------------------------------ identity


def test_every_report_archived_once_under_its_agency_and_year(site):
    found = documents_of(site)
    problems = {key: [(d["agency"], d["year"], d["key"]) for d in docs] for key, docs in found.items()
                if len(docs) != 1}
    all_docs = [(d["key"], d["agency"], d["year"]) for d in q(site, "select * from documents order by key")]
    assert problems == {}, f"planted reports not archived exactly once: {problems}; documents: {all_docs}"
    reports = q(site, "select d.* from documents d join document_versions v on v.id = d.latest_version_id "
                      f"where v.status in ({','.join('?' * len(REPORT_STATUSES))})", *REPORT_STATUSES)
    assert len(reports) == len(site["truth"]) == 13, all_docs


def test_one_body_is_one_agency_over_the_years(site):
    names: dict[str, set[str]] = defaultdict(set)
    for key, docs in documents_of(site).items():
        for d in docs:
            names[site["truth"][key]["body"]].add(d["agency"])
    bodies = {r["body"] for r in site["truth"].values()}
    assert {b: len(names[b]) for b in bodies} == {b: 1 for b in bodies}, dict(names)


def test_unidentified_documents_are_only_the_jiedu(site):
    rows = q(site, "select d.key, v.status, v.url, v.agency, v.year from documents d "
                   "join document_versions v on v.id = d.latest_version_id "
                   "where d.agency is null or d.year is null")
    assert [(r["url"], r["status"]) for r in rows] == [(site["jiedu"], "not_a_report")], \
        [tuple(r) for r in rows]


def test_publication_dates(site):
    wrong = {}
    for key, r in site["truth"].items():
        v = latest(site, key)
        got = v["published"] if v else "no single document"
        if got != r["published"]:
            wrong[key] = (r["published"], got)
    assert wrong == {}


def test_one_version_per_report_page_and_attachment_included(site):
    """An HTML page and the PDF it links holding the same report are one version (issue 11 §5)."""
    bad = {}
    for key, docs in documents_of(site).items():
        if len(docs) == 1 and docs[0]["n_versions"] != 1:
            versions = q(site, "select url, status from document_versions where document_id = ?", docs[0]["id"])
            bad[key] = [tuple(v) for v in versions]
    assert bad == {}
    for key in ("gov2024", "edu2023"):  # page and attachment: both archived, both on the one document
        doc = documents_of(site)[key]
        assert len(doc) == 1, key
        ids = {c["url"]: c["version_id"] for c in q(site, "select url, version_id from captures where url in (?, ?)",
                                                     site["urls"][key], site["attachments"][key])}
        assert set(ids) == {site["urls"][key], site["attachments"][key]}, key
        docs_of_captures = {q(site, "select document_id from document_versions where id = ?", v)[0][0]
                            if v else None for v in ids.values()}
        assert docs_of_captures == {doc[0]["id"]}, (key, ids)


# ------------------------------------------------------------------------------ numbers


def _same(expected, actual) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    return math.isclose(float(expected), float(actual), rel_tol=0, abs_tol=1e-9)


def test_every_cell_exact(site):
    mismatches = []
    n = 0
    for key, r in site["truth"].items():
        v = latest(site, key)
        if v is None:
            mismatches.append((key, "no single document"))
            continue
        c = r["canonical"]
        for table, rows, a, b in (("active_disclosure", c["active"], "row", "measure"),
                                  ("requests", c["requests"], "row", "column"),
                                  ("appeals", c["appeals"], "procedure", "outcome")):
            cols = {"active_disclosure": ("row_key", "measure"), "requests": ("row_key", "column_key"),
                    "appeals": ("procedure", "outcome")}[table]
            got = {(x[0], x[1]): x[2] for x in q(site, f"select {cols[0]}, {cols[1]}, value from {table} "
                                                        "where version_id = ?", v["id"])}
            want = {(cell[a], cell[b]): cell["value"] for cell in rows}
            for k in sorted(set(want) | set(got), key=str):
                n += 1
                if k not in got:
                    mismatches.append((key, table, k, want[k], "missing"))
                elif k not in want:
                    mismatches.append((key, table, k, "not in template", got[k]))
                elif not _same(want[k], got[k]):
                    mismatches.append((key, table, k, want[k], got[k]))
    assert mismatches == [], f"{len(mismatches)} of {n} cells wrong:\n" + "\n".join(map(str, mismatches[:40]))


def _expected_chains(site) -> dict[tuple[str, int, str], bool]:
    by_body: dict[str, dict[int, dict]] = defaultdict(dict)
    for r in site["truth"].values():
        by_body[r["body"]][r["year"]] = r
    out = {}
    for body, years in by_body.items():
        for year, r in years.items():
            prev = years.get(year - 1)
            if not prev:
                continue
            before = {(c["row"], c["column"]): c["value"] for c in prev["canonical"]["requests"]}
            now = {(c["row"], c["column"]): c["value"] for c in r["canonical"]["requests"]}
            for col in COLUMNS_OF_TABLE3:
                out[(body, year, col)] = (before[("carried_forward", col)] or 0) == (now[("carried_over", col)] or 0)
    return out


def test_carry_chains_evaluated_and_the_planted_break_reported(site):
    expected = _expected_chains(site)
    assert len(expected) == 9 * 7  # 9 consecutive-year pairs (2 + 2 + 4 + 1), seven columns each
    planted = site["truth"][site["break"]["key"]]
    assert sorted(k for k, ok in expected.items() if not ok) == [
        (planted["body"], planted["year"], "natural_person"), (planted["body"], planted["year"], "total")]
    got = {}
    for key, r in site["truth"].items():
        v = latest(site, key)
        if v is None:
            continue
        for row in q(site, "select scope, ok from rule_results where version_id = ? and rule = 'carry_chain'", v["id"]):
            got[(r["body"], r["year"], row["scope"])] = bool(row["ok"])
    missing = sorted(set(expected) - set(got))
    assert missing == [], f"carry chains not evaluated: {missing}"
    assert got == expected


def test_no_rule_fails_but_the_planted_break(site):
    rows = q(site, "select v.agency, v.year, r.rule, r.scope, r.expected, r.actual from rule_results r "
                   "join document_versions v on v.id = r.version_id where r.ok = 0 and v.is_latest = 1 "
                   "order by v.agency, v.year, r.rule, r.scope")
    planted = site["truth"][site["break"]["key"]]
    assert [(r["year"], r["rule"], r["scope"]) for r in rows] == [
        (planted["year"], "carry_chain", "natural_person"), (planted["year"], "carry_chain", "total")], \
        "failed rules:\n" + "\n".join(str(tuple(r)) for r in rows)
    assert {r["agency"] for r in rows} <= accepted_names(planted["body"])


# ------------------------------------------------------------------------------ not a report, no navigation


def test_the_jiedu_page_is_not_a_report(site):
    caps = q(site, "select * from captures where url = ?", site["jiedu"])
    assert len(caps) == 1 and caps[0]["http_status"] == 200  # crawled: the archive had to decide
    v = q(site, "select status, agency, year from document_versions where id = ?", caps[0]["version_id"])
    assert v and v[0]["status"] == "not_a_report", [tuple(x) for x in v]
    identified_urls = {r["url"] for r in q(site, "select v.url from document_versions v join documents d "
                                                 "on d.id = v.document_id where d.agency is not null "
                                                 "and d.year is not null")}
    assert site["jiedu"] not in identified_urls


def _navigation(text: str | None) -> bool:
    t = (text or "").replace(" ", "").replace("\u3000", "")
    return any(n in t for n in NAVIGATION) or t.endswith(COLUMN_NAMES) or t in COLUMN_NAMES


def test_no_agency_or_title_holds_navigation_text(site):
    agencies = [r["name"] for r in q(site, "select name from agencies")]
    assert [a for a in agencies if _navigation(a)] == []
    versions = q(site, "select url, agency, title from document_versions")
    assert [(v["url"], v["agency"]) for v in versions if _navigation(v["agency"])] == []
    assert [(v["url"], v["title"]) for v in versions if v["title"] and _navigation(v["title"].replace(
        "政府信息公开工作年度报告", ""))] == []
    bodies = {r["body"] for r in site["truth"].values()}
    allowed = set().union(*(accepted_names(b) for b in bodies)) | {"白沙区人民政府"}
    # every agency row is a body that published a report here (a 解读's 来源 line is not one)
    assert sorted(set(agencies) - allowed) == []


def test_agencies_at_two_levels(site):
    levels = {r["name"]: r["level"] for r in q(site, "select name, level from agencies")}
    want = {"白沙区人民政府": "county", "白沙区教育局": "department", "白沙区财政局": "department",
            "白沙区卫生健康局": "department"}
    got = {}
    for body in want:
        names = [n for n in levels if n in accepted_names(body)]
        got[body] = levels[names[0]] if len(names) == 1 else f"{len(names)} agency rows: {names}"
    assert got == want
