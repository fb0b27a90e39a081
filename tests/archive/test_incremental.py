"""Incremental builds give exactly the rows of a full build (issue 16 point 3).

The fixture portal is crawled over four nights (edits, a removal, a move, new reports, a report and
its PDF edited, an unlisted report); after each night one database is built incrementally from the
last one and another from scratch over all the WARCs, and every table is compared row by row, ordered
by all its columns (full-text indexes by their token instances), except the build-run bookkeeping.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from nianbao.archive.build import build_archive
from nianbao.archive.build_state import BOOKKEEPING
from nianbao.crawler.fixture_portal import FixturePortal, Report
from tests.crawler.helpers import run_crawl

FTS_PARTS = ("_fts_data", "_fts_idx", "_fts_docsize", "_fts_config", "_fts_content")


def table_rows(path: Path) -> dict[str, list[tuple]]:
    """Every table's rows in a canonical order; an FTS index as its (term, rowid, column, offset) instances."""
    conn = sqlite3.connect(path)
    out: dict[str, list[tuple]] = {}
    try:
        names = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table' order by name")]
        for name in names:
            if name.startswith("sqlite_") or name in BOOKKEEPING or name.endswith(FTS_PARTS):
                continue
            sql = conn.execute("select sql from sqlite_master where name = ?", [name]).fetchone()[0] or ""
            if "virtual table" in sql.lower():
                conn.execute(f"create virtual table temp.[v_{name}] using fts5vocab(main, [{name}], 'instance')")
                rows = conn.execute(f"select term, doc, col, offset from temp.[v_{name}] order by 1, 2, 3, 4")
            else:
                cols = [r[1] for r in conn.execute(f"pragma table_info([{name}])")]
                order = ", ".join(f"[{c}]" for c in cols)
                rows = conn.execute(f"select * from [{name}] order by {order}")
            out[name] = [tuple(r) for r in rows]
    finally:
        conn.close()
    return out


def assert_same_tables(a: Path, b: Path) -> None:
    rows_a, rows_b = table_rows(a), table_rows(b)
    assert sorted(rows_a) == sorted(rows_b)
    for name in sorted(rows_a):
        ra, rb = rows_a[name], rows_b[name]
        assert len(ra) == len(rb), f"{name}: {len(ra)} rows incremental, {len(rb)} full"
        for x, y in zip(ra, rb):
            assert x == y, f"{name}: {x} (incremental) != {y} (full)"


def build_stats(path: Path) -> dict:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("select stats from runs where kind = 'build' order by id desc limit 1").fetchone()
    finally:
        conn.close()
    return json.loads(row[0])


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """(night, incremental db, full db, build stats of the incremental one) after each night's crawl."""
    tmp = tmp_path_factory.mktemp("incremental")
    data = tmp / "data"
    inc = tmp / "incremental" / "nianbao.db"
    out = []
    with FixturePortal(tmp / "site") as portal:
        registry = portal.write_registry(tmp / "sources.yaml")

        def night(name: str, *args: str) -> None:
            proc = run_crawl(data, "--sources", str(registry), "--impolite", *args)
            assert proc.returncode in (0, 1), proc.stderr[-2000:]
            warcs = sorted((data / "warcs").glob("*.warc.gz"))
            build_archive(inc, warcs=warcs, registry_path=registry, incremental=True)
            full = tmp / f"full-{name}.db"
            build_archive(full, warcs=warcs, registry_path=registry)
            out.append((name, inc, full, build_stats(inc), tmp / f"inc-{name}.db"))
            shutil.copyfile(inc, out[-1][4])

        night("first")
        portal.edit("s2024")  # a corrected report: a new version
        portal.edit("y2023a")
        portal.remove("t2021")  # withdrawn
        portal.move("t2023", "202402/t20240201_90002.htm")  # moved
        portal.add("fixture-trs", Report("t2025", "丙实验区", 2025, "2026-01-10", "202601/t20260110_110001.htm"))
        night("second", "--revalidate", "all")
        portal.add("fixture-static", Report("s2025", "甲区人民政府办公室", 2025, "2026-02-10",
                                            "202602/t20260210_2101.html"))
        portal.unlist("y2024b")  # off the list, page still served
        night("third", "--revalidate", "all")
        portal.edit("t2024")  # a page with its report attached as PDF, both edited
        portal.add("fixture-years", Report("y2025a", "丁区人民政府办公室", 2025, "2026-01-20",
                                           "2025n/202601/t20260120_4001.html"))
        night("fourth", "--revalidate", "all")
    return out


def test_every_night_the_incremental_database_equals_a_full_build(nights):
    for name, _inc, full, _stats, snapshot in nights:
        assert_same_tables(snapshot, full), name


def test_nights_after_the_first_are_incremental_and_add_only_their_files(nights):
    stats = {name: s for name, _i, _f, s, _snap in nights}
    assert stats["first"]["incremental"] is False
    assert stats["first"]["full_because"].startswith("no nianbao.db yet")
    assert all(stats[n]["incremental"] is True for n in ("second", "third", "fourth"))
    conn = sqlite3.connect(nights[-1][1])
    try:
        inputs = conn.execute("select count(*) from build_inputs").fetchone()[0]
        builds = conn.execute("select n_warc_files from runs where kind = 'build' order by id").fetchall()
    finally:
        conn.close()
    # one WARC per source per night, each read once: the first build read night one's, each later its own
    assert [n for (n,) in builds] == [3, 3, 3, 3] and inputs == 12


def test_the_nights_changed_what_they_should(nights):
    """The fixture nights are not trivial: versions, withdrawals and moves happened."""
    conn = sqlite3.connect(nights[-1][2])
    try:
        edited = conn.execute("select count(*) from documents where n_versions > 1").fetchone()[0]
        withdrawn = conn.execute("select count(*) from documents where withdrawn_at is not null").fetchone()[0]
        summaries = conn.execute("select count(*) from crawl_summaries").fetchone()[0]
    finally:
        conn.close()
    assert edited >= 2 and withdrawn >= 1 and summaries >= 12


def test_a_full_build_is_forced_by_a_new_parser_version(nights, tmp_path):
    name, inc, _full, _stats, snapshot = nights[-1]
    db = tmp_path / "nianbao.db"
    shutil.copyfile(snapshot, db)
    warcs = sorted(Path(inc).parent.parent.joinpath("data", "warcs").glob("*.warc.gz"))
    from nianbao.parsers import PARSER_VERSION
    from nianbao.parsers.document import parse_document
    build_archive(db, warcs=warcs, registry_path=Path(inc).parent.parent / "sources.yaml", incremental=True,
                  parse=parse_document, parser_version=f"{PARSER_VERSION}-other")
    stats = build_stats(db)
    assert stats["incremental"] is False
    assert stats["full_because"] == "parser, schema or registry changed since the last build"
