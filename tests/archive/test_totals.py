"""report_totals: the headline numbers the build sums once (archive/totals.py), read by `reports`.

Checked against the cells themselves: the aggregate the `reports` view used to compute on every
request (kept here as the reference), on a built archive and on the synthetic archive (every row
key of both template editions, reviews and both kinds of lawsuit)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from nianbao.archive.build import build_archive
from nianbao.archive.totals import REPORT_COLUMNS
from tests.archive.helpers import FAKE_VERSION, body, canonical, json_parser

# The `reports` view before report_totals: the 总计 column re-summed from the cells.
FROM_CELLS = r"""
select
  v.id as version_id, v.document_id, v.agency, v.year, v.edition, v.status, v.title, v.published,
  v.url, v.first_seen, v.last_seen, v.withdrawn_at, v.version, d.n_versions,
  max(case when r.row_key = 'new_received' then r.value end) as received,
  max(case when r.row_key = 'carried_over' then r.value end) as carried_over,
  max(case when r.row_key = 'granted' then r.value end) as granted,
  max(case when r.row_key = 'partially_granted' then r.value end) as partially_granted,
  sum(case when r.row_key like 'denied\_%' escape '\' then r.value end) as denied,
  sum(case when r.row_key like 'unavailable\_%' escape '\' then r.value end) as unavailable,
  sum(case when r.row_key like 'not\_processed\_%' escape '\' then r.value end) as not_processed,
  sum(case when r.row_key = 'other' or r.row_key like 'other\_%' escape '\' then r.value end) as other_handling,
  max(case when r.row_key = 'total' then r.value end) as total,
  max(case when r.row_key = 'carried_forward' then r.value end) as carried_forward,
  (select a.value from appeals a where a.version_id = v.id and a.procedure = 'review' and a.outcome = 'total')
    as review_total,
  (select sum(a.value) from appeals a
    where a.version_id = v.id and a.procedure like 'litigation%' and a.outcome = 'total') as litigation_total,
  v.n_rule_failures, v.parser_version, v.capture_id, ag.level
from document_versions v
join documents d on d.id = v.document_id
left join agencies ag on ag.name = v.agency
left join requests r on r.version_id = v.id and r.column_key = 'total'
where v.is_latest = 1 and v.status in ('parsed', 'partial', 'no_tables', 'pre2019')
group by v.id
order by v.id
"""


# The same rows in the reports view's column order (archive/totals.py REPORT_COLUMNS).
FROM_CELLS = f"select {', '.join(REPORT_COLUMNS)} from ({FROM_CELLS})"


def _cell(row: str, column: str, value: int | None) -> dict:
    return {"row": row, "column": column, "value": value, "raw": "" if value is None else str(value),
            "position": {"table": 1, "row": 3, "col": 9}}


def _inputs(folder: Path) -> None:
    folder.mkdir()
    plain = canonical("西工区洛北街道办事处", 2022, received=7, carried_over=2, carried_forward=1)
    busy = canonical("洛阳市人民政府", 2023, received=40, carried_over=0, carried_forward=0)
    busy["requests"] = [c for c in busy["requests"] if c["row"] != "granted"] + [
        _cell("granted", "total", 20), _cell("partially_granted", "total", 5),
        _cell("denied_state_secret", "total", 3), _cell("denied_internal_affairs", "total", 4),
        _cell("unavailable_not_held", "total", 6), _cell("not_processed_repeated", "total", 1),
        _cell("other_fee_unpaid", "total", 1), _cell("other_other", "total", None),
    ]
    busy["appeals"] += [{"procedure": p, "outcome": "total", "value": n, "raw": str(n),
                         "position": {"table": 2, "row": 3, "col": 9}}
                        for p, n in (("litigation_direct", 3), ("litigation_after_review", 2))]
    blank = canonical("上海市人民政府办公厅", 2019)
    blank["requests"] = [c for c in blank["requests"] if not (c["row"] == "total" and c["column"] == "total")]
    blank["requests"].append(_cell("total", "total", None))
    for i, report in enumerate((plain, busy, blank)):
        (folder / f"r{i}.txt").write_bytes(body(report))
    (folder / "list.html").write_text("<html>not a report</html>", encoding="utf-8")


def _rows(conn: sqlite3.Connection, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


def test_report_totals_match_the_cells_and_the_reports_view(tmp_path):
    src = tmp_path / "in"
    _inputs(src)
    out = tmp_path / "nianbao.db"
    build_archive(out, files=[src], parse=json_parser, parser_version=FAKE_VERSION, registry_path=src / "none.yaml")
    conn = sqlite3.connect(out)
    cols = ", ".join(REPORT_COLUMNS)
    expected = _rows(conn, FROM_CELLS)
    assert len(expected) == 3  # three reports; the page that is not one (not_a_report) is an other document
    assert _rows(conn, "select status, url from other_documents") == [("not_a_report", (src / "list.html").as_uri())]
    assert _rows(conn, f"select {cols} from report_totals order by version_id") == expected
    assert _rows(conn, "select * from reports order by version_id") == expected
    assert [d[0] for d in conn.execute("select * from reports").description] == REPORT_COLUMNS

    db = sqlite_utils.Database(out)
    busy = next(db.query("select * from reports where agency = '洛阳市人民政府'"))
    assert (busy["received"], busy["granted"], busy["partially_granted"], busy["denied"], busy["unavailable"],
            busy["not_processed"], busy["other_handling"], busy["total"], busy["carried_forward"]) == \
        (40, 20, 5, 7, 6, 1, 1, 40, 0)
    assert (busy["review_total"], busy["litigation_total"]) == (2, 5)
    plain = next(db.query("select * from reports where year = 2022"))
    assert (plain["received"], plain["carried_over"], plain["granted"], plain["denied"], plain["total"],
            plain["carried_forward"], plain["litigation_total"]) == (7, 2, 8, None, 8, 1, None)
    blank = next(db.query("select total, received from reports where year = 2019"))
    assert blank == {"total": None, "received": 5}  # a blank total cell stays null, never 0
    # the agency's place and level come along for facets (no registry here: level from the name rule)
    assert next(db.query("select level from report_totals where agency = '洛阳市人民政府'"))["level"] == \
        next(db.query("select level from agencies where name = '洛阳市人民政府'"))["level"]
    indexed = {tuple(i.columns) for i in db["report_totals"].indexes}
    # a covering index led by each facet column, holding all of them (archive/schema.py)
    facets = ["year", "edition", "status", "province", "level"]
    assert {tuple([c] + [f for f in facets if f != c]) for c in facets} <= indexed


def test_edited_report_shows_its_latest_version(tmp_path):
    src = tmp_path / "in"
    _inputs(src)
    later = tmp_path / "later"
    later.mkdir()
    (later / "edited.txt").write_bytes(body(canonical("西工区洛北街道办事处", 2022, received=9, carried_over=2,
                                                      carried_forward=1)))
    os.utime(src / "r0.txt", (1_900_000_000, 1_900_000_000))
    os.utime(later / "edited.txt", (2_000_000_000, 2_000_000_000))  # captured after the first
    out = tmp_path / "nianbao.db"
    build_archive(out, files=[src, later], parse=json_parser, parser_version=FAKE_VERSION,
                  registry_path=src / "none.yaml")
    conn = sqlite3.connect(out)
    assert _rows(conn, "select * from reports order by version_id") == _rows(conn, FROM_CELLS)
    assert _rows(conn, "select received, version, n_versions from report_totals where year = 2022") == [(9, 2, 2)]
    assert conn.execute("select count(*) from report_totals").fetchone()[0] == 3  # reports only


def test_synthetic_archive_every_row_key(tmp_path):
    from bench import synthetic

    planted = synthetic.build(tmp_path / "s.db", 120)
    conn = sqlite3.connect(tmp_path / "s.db")
    expected = _rows(conn, FROM_CELLS)
    assert len(expected) == planted.n_reports == 120
    assert _rows(conn, "select * from reports order by version_id") == expected
    received = dict(_rows(conn, "select year, sum(received) from report_totals group by year"))
    assert received == planted.received_by_year
    assert conn.execute("select count(*) from report_totals where denied > 0 and litigation_total > 0 "
                        "and province is not null").fetchone()[0] > 0
    by_reason = _rows(conn, "select year, row_key, requests from outcome_totals order by year, row_key")
    assert by_reason == _rows(conn, """
        select v.year, r.row_key, sum(r.value) from requests r join document_versions v on v.id = r.version_id
        where v.is_latest = 1 and r.column_key = 'total' group by v.year, r.row_key order by v.year, r.row_key""")
    assert {(y, n) for y, k, n in by_reason if k == "new_received"} == set(planted.received_by_year.items())
    assert {k for _, k, _ in by_reason} >= {"denied_state_secret", "unavailable_not_held", "other_other", "other"}
