"""The whole-archive tables the build precomputes (archive/precompute.py) hold exactly what the live SQL
gives, and the canned queries that read them (or were paged, or reordered for speed) answer what their
live forms answered, on the archive the publishing tests build (edits, rule failures, lawsuits,
coverage gaps; tests/publish/archive_fixture.py)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest

from nianbao.archive.columns import METADATA
from nianbao.archive.precompute import PRECOMPUTED
from nianbao.archive.schema import COVERAGE_SQL, RULE_FAILURES_SQL
from nianbao.archive.search import cjk_query

# The canned queries as they were before they read precomputed tables (the live SQL, the oracle).
LIVE_MOST_LAWSUITS = """
select v.agency, a.province, a.city, a.level,
  sum(case when ap.procedure = 'litigation_direct' and ap.outcome = 'total' then ap.value end) as direct,
  sum(case when ap.procedure = 'litigation_after_review' and ap.outcome = 'total' then ap.value end) as after_review,
  sum(case when ap.outcome = 'total' then ap.value end) as lawsuits,
  sum(case when ap.outcome = 'corrected' then ap.value end) as corrected,
  count(distinct v.id) as reports, min(v.year) as from_year, max(v.year) as to_year
from appeals ap
cross join document_versions v on v.id = ap.version_id
left join agencies a on a.name = v.agency
where ap.outcome in ('total', 'corrected') and ap.procedure in ('litigation_direct', 'litigation_after_review')
  and ap.value > 0 and v.is_latest = 1
  and (:year = '' or v.year = cast(:year as integer))
group by v.agency
order by lawsuits desc, v.agency
limit 100
"""

LIVE_EDITED_REPORTS = """
select e.* from (
  select d.agency, d.year, d.n_versions,
    v1.first_seen as first_version_seen, vn.first_seen as latest_version_seen,
    v1.capture_id as first_capture_id, vn.capture_id as latest_capture_id,
    (v1.url = vn.url) as same_url, v1.url as first_url, vn.url as latest_url,
    d.id as document_id, v1.id as first_version_id, vn.id as latest_version_id,
    (select count(*) from requests a
       left join requests b on b.version_id = vn.id and b.row_key = a.row_key and b.column_key = a.column_key
     where a.version_id = v1.id and a.value is not b.value) as changed_cells
  from documents d
  join document_versions v1 on v1.document_id = d.id and v1.version = 1
  join document_versions vn on vn.id = d.latest_version_id
  where d.n_versions > 1
    and (:year = '' or d.year = cast(:year as integer))
) e
where e.changed_cells > 0
order by e.latest_version_seen desc, e.agency
limit 100
"""

LIVE_SEARCH_REPORT_TEXT = """
select v.agency, v.year, s.number, s.heading, cjk_snippet(s.text, :q, 40) as excerpt,
  v.capture_id, v.id as version_id
from sections s
join document_versions v on v.id = s.version_id and v.is_latest = 1
where s.id in (select rowid from sections_fts where sections_fts match cjk_query(:q))
order by v.year desc, v.agency, s.seq
limit 500
"""


@pytest.fixture(scope="module")
def conn(built_archive):
    data_dir, _ = built_archive
    c = sqlite3.connect(f"file:{data_dir / 'nianbao.db'}?mode=ro", uri=True)
    c.create_function("cjk_query", 1, cjk_query)
    c.create_function("cjk_snippet", 3, lambda text, q, n: (text or "")[:n])  # the same stand-in both sides
    yield c
    c.close()


def canned(name: str) -> str:
    return json.loads(METADATA.read_text(encoding="utf-8"))["databases"]["nianbao"]["queries"][name]["sql"]


def years(conn) -> list[str]:
    return [str(y) for (y,) in conn.execute("select distinct year from document_versions where year is not null")]


@pytest.mark.parametrize("table,sql", PRECOMPUTED, ids=[t for t, _ in PRECOMPUTED])
def test_each_precomputed_table_is_its_live_sql(conn, table, sql):
    cur = conn.execute(sql)
    names = [d[0] for d in cur.description]
    live = cur.fetchall()
    stored = conn.execute(f"select {', '.join(f'[{n}]' for n in names)} from [{table}]").fetchall()
    assert live, f"the fixture archive gives {table} no rows: the comparison would prove nothing"
    assert Counter(stored) == Counter(live)


def test_the_views_read_the_precomputed_rows(conn):
    for view, sql in (("coverage", COVERAGE_SQL), ("rule_failures", RULE_FAILURES_SQL)):
        assert Counter(conn.execute(f"select * from {view}").fetchall()) == Counter(conn.execute(sql).fetchall())


def test_most_lawsuits_answers_as_live(conn):
    for year in ["", *years(conn)]:
        live = conn.execute(LIVE_MOST_LAWSUITS, {"year": year}).fetchall()
        assert conn.execute(canned("most_lawsuits"), {"year": year}).fetchall() == live, year
    assert conn.execute(LIVE_MOST_LAWSUITS, {"year": ""}).fetchall()  # real rows compared


def test_edited_reports_answers_as_live_and_pages(conn):
    sql = canned("edited_reports")
    for year in ["", *years(conn)]:
        live = conn.execute(LIVE_EDITED_REPORTS, {"year": year}).fetchall()
        assert conn.execute(sql, {"year": year, "page": ""}).fetchall() == live, year
        assert conn.execute(sql, {"year": year, "page": "2"}).fetchall() == []



def test_the_fixtures_edit_is_the_one_edited_report(conn, built_archive):
    _, expect = built_archive
    (edit,) = conn.execute("select latest_url, changed_cells from report_edits").fetchall()
    assert edit[0] == expect.edited_url and edit[1] > 0


def test_inconsistent_reports_lists_the_live_failures_in_order(conn):
    rows = conn.execute(canned("inconsistent_reports"), {"kind": "", "rule": "", "year": "", "page": ""}).fetchall()
    live = conn.execute("""
        select v.agency, v.year, r.rule, r.scope from rule_results r join document_versions v on v.id = r.version_id
        where r.ok = 0 and r.rule != 'carry_chain' and v.is_latest = 1
        order by v.year desc, v.agency, r.rule, r.scope""").fetchall()
    assert live and [(r[0], r[1], r[3], r[4]) for r in rows] == live


def test_paged_canned_queries_give_the_live_rows_a_hundred_at_a_time(conn):
    assert conn.execute(canned("coverage_gaps"), {"year": "", "level": "", "page": ""}).fetchall() == conn.execute("""
        select g.agency, g.level, g.year, g.deadline, g.state, g.published,
          cast(julianday(g.published) - julianday(g.deadline) as integer), g.version_ids
        from (""" + COVERAGE_SQL + """) g
        where (g.missing = 1 or g.late = 1) order by g.year desc, g.agency""").fetchall()
    for name, params in (("requests_per_agency_year", {"agency": "", "year": ""}),
                         ("broken_carry_chains", {"agency": "", "year": ""}),
                         ("coverage_gaps", {"year": "", "level": ""})):
        first = conn.execute(canned(name), {**params, "page": "1"}).fetchall()
        assert first == conn.execute(canned(name), {**params, "page": ""}).fetchall()
        assert len(first) <= 100
        assert conn.execute(canned(name), {**params, "page": "2"}).fetchall() == []  # the fixture fits one page


def test_search_report_text_finds_the_live_hits_page_by_page(conn):
    for q in ("复议", "政府信息公开"):
        live = conn.execute(LIVE_SEARCH_REPORT_TEXT, {"q": q}).fetchall()
        pages = [conn.execute(canned("search_report_text"), {"q": q, "page": str(n)}).fetchall() for n in (1, 2, 3)]
        assert live and len(live) <= 200, (q, len(live))
        assert [len(p) for p in pages] == [min(100, len(live)), max(0, min(100, len(live) - 100)), 0]
        assert Counter(row for page in pages for row in page) == Counter(live)
