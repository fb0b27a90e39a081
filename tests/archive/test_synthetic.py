"""bench/synthetic.py is built on the product's own pieces, so its archive says what a real build would:
each stored page is the renderer's and reads back (through the real parser) to exactly the stored cells,
the stored rule results are the parser's rules over those cells, and the WARC is the crawler's writer's
(records where the captures say, digests matching, the revisit pointing at its response)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from bench import synthetic
from nianbao.archive.ids import payload_digest
from nianbao.parsers import parse_report
from nianbao.parsers.checks import check_carry_chain

N = 40


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[synthetic.Planted, sqlite3.Connection, Path]:
    root = tmp_path_factory.mktemp("synthetic")
    planted = synthetic.build(root / "s.db", N, warc_dir=root / "warcs")
    conn = sqlite3.connect(root / "s.db")
    yield planted, conn, root / "warcs"
    conn.close()


def _record(warcs: Path, name: str, offset: int):
    with (warcs / name).open("rb") as fh:
        fh.seek(offset)
        record = next(iter(ArchiveIterator(fh)))
        return record.rec_type, record.rec_headers, record.content_stream().read()


def test_pages_are_the_renderers_and_read_back_to_the_stored_cells(built) -> None:
    planted, conn, warcs = built
    assert planted.n_reports == N
    assert [p.name for p in warcs.iterdir()] == [conn.execute("select distinct warc_file from captures").fetchone()[0]]
    rows = conn.execute("""select c.id, c.warc_file, c.warc_offset, c.payload_digest, c.record_id, v.id, v.edition
                           from captures c join document_versions v on v.capture_id = c.id
                           where c.record_type = 'response' order by c.id""").fetchall()
    assert len(rows) >= N
    for cap_id, warc_file, offset, digest, record_id, vid, edition in rows:
        rec_type, headers, body = _record(warcs, warc_file, offset)
        assert rec_type == "response" and headers.get_header("WARC-Record-ID") == record_id
        assert headers.get_header("WARC-Nianbao-Role") == "report"
        assert payload_digest(body) == digest == headers.get_header("WARC-Payload-Digest")
        assert (b"SCRIPT RAN" in body) == (cap_id == planted.script_capture_id)
        report = parse_report(body)
        assert report["status"] == "parsed" and report["edition"] == edition
        for key, table, a, b, k1, k2 in (("requests", "requests", "row_key", "column_key", "row", "column"),
                                         ("appeals", "appeals", "procedure", "outcome", "procedure", "outcome"),
                                         ("active", "active_disclosure", "row_key", "measure", "row", "measure")):
            stored = {(x, y): v for x, y, v in conn.execute(
                f"select [{a}], [{b}], value from [{table}] where version_id = ?", (vid,))}
            assert {(c[k1], c[k2]): c["value"] for c in report[key]} == stored, (vid, key)
        # the rules stored are the parser's over the page (carry chains come from the pair of years)
        stored_rules = sorted(conn.execute(
            "select rule, scope, ok, expected, actual from rule_results where version_id = ? and rule != 'carry_chain'",
            (vid,)).fetchall())
        assert stored_rules == sorted((c["rule"], c["scope"], int(c["ok"]), c["expected"], c["actual"])
                                      for c in report["checks"])


def test_planted_findings_are_what_the_rules_find(built) -> None:
    planted, conn, _ = built
    failing = set(conn.execute("""select r.version_id, r.rule, r.scope from rule_results r
                                  join document_versions v on v.id = r.version_id
                                  where v.is_latest = 1 and r.ok = 0""").fetchall())
    assert failing == planted.rule_failures and failing  # the seed plants some
    kinds = {rule for _, rule, _ in failing}
    assert kinds <= {"outcomes_sum", "row_total", "appeals_total", "carry_chain"}
    breaks = {(a, y) for a, y in conn.execute("""select v.agency, v.year from rule_results r
        join document_versions v on v.id = r.version_id where r.rule = 'carry_chain' and r.ok = 0""")}
    assert breaks == planted.carry_breaks


def test_carry_chain_rows_are_check_carry_chain(built) -> None:
    _, conn, _ = built
    pairs = conn.execute("""select distinct r.version_id, r.other_version_id from rule_results r
                            where r.rule = 'carry_chain'""").fetchall()
    assert pairs
    for vid, other in pairs:
        def report(v: str) -> dict:
            year = conn.execute("select year from document_versions where id = ?", (v,)).fetchone()[0]
            cells = [{"row": r, "column": c, "value": val, "raw": raw, "position": {}}
                     for r, c, val, raw in conn.execute(
                         "select row_key, column_key, value, raw from requests where version_id = ?", (v,))]
            return {"year": year, "requests": cells}
        expected = sorted((c["scope"], int(c["ok"]), c["expected"], c["actual"])
                          for c in check_carry_chain(report(other), report(vid)))
        stored = sorted(conn.execute("""select scope, ok, expected, actual from rule_results
                                        where version_id = ? and rule = 'carry_chain'""", (vid,)).fetchall())
        assert stored == expected


def test_revisit_is_the_writers(built) -> None:
    planted, conn, warcs = built
    warc_file, offset, refers_to, digest = conn.execute(
        "select warc_file, warc_offset, refers_to, payload_digest from captures where id = ?",
        (planted.revisit_capture_id,)).fetchone()
    rec_type, headers, _ = _record(warcs, warc_file, offset)
    assert rec_type == "revisit"
    assert headers.get_header("WARC-Refers-To") == refers_to
    assert headers.get_header("WARC-Payload-Digest") == digest


def test_without_warcs_deterministic(tmp_path: Path) -> None:
    first = synthetic.build(tmp_path / "a.db", 25)
    second = synthetic.build(tmp_path / "b.db", 25)
    assert first.capture_ids == second.capture_ids and first.rule_failures == second.rule_failures
    a, b = sqlite3.connect(tmp_path / "a.db"), sqlite3.connect(tmp_path / "b.db")
    for table in ("document_versions", "requests", "rule_results", "sections"):
        assert a.execute(f"select * from [{table}] order by 1, 2, 3").fetchall() == \
            b.execute(f"select * from [{table}] order by 1, 2, 3").fetchall()
