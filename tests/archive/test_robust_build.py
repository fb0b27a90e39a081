"""No single document can fail a build (issue 15): absurd numbers, a document whose rows the database
refuses, a damaged or truncated WARC record, a partial file after a failure, junk at a report's URL.

The absurd numbers go through the real parser (a page rendered by parsers.render with a 20-digit
cell and two 19-digit cells whose rule sum passes 2^63), in a WARC and with --from-files."""

from __future__ import annotations

import errno
import json
import random
import sqlite3
from pathlib import Path

import pytest

from nianbao.archive.build import build_archive
from nianbao.parsers.render import random_report, render_report
from nianbao.parsers.values import COUNT_BOUND, KIND_COUNT, KIND_MONEY_10K, KIND_MONEY_YUAN, read_value
from tests.archive.helpers import FAKE_VERSION, Warc, body, canonical, json_parser

TWENTY = "12345678901234567890"  # beyond 2^63
NINETEEN = "9000000000000000000"  # below 2^63; two of them sum past it


def absurd_page() -> bytes:
    report = random_report(random.Random(15), agency="甲县人民政府", year=2023)
    for c in report["requests"]:
        if c["column"] == "natural_person":
            if c["row"] == "new_received":
                c["raw"] = TWENTY
            elif c["row"] in ("granted", "partially_granted"):
                c["raw"] = NINETEEN
    return render_report(report).encode("utf-8")


def normal_page() -> bytes:
    return render_report(random_report(random.Random(16), agency="乙县人民政府", year=2023)).encode("utf-8")


def check_absurd(db: Path) -> None:
    conn = sqlite3.connect(db)
    rows = {r[0]: r[1:] for r in conn.execute(
        "select row_key, value, raw from requests where column_key = 'natural_person' "
        "and version_id in (select id from document_versions where agency = '甲县人民政府')")}
    assert rows["new_received"] == (None, TWENTY)
    assert rows["granted"] == (None, NINETEEN) and rows["partially_granted"] == (None, NINETEEN)
    (warnings,) = conn.execute("select warnings from document_versions where agency = '甲县人民政府'").fetchone()
    assert f"new_received/natural_person: value '{TWENTY}' beyond the plausible bound" in warnings
    # the rules over those cells skip (an unreadable cell is not a finding); the others still run
    assert conn.execute("select count(*) from rule_results r join document_versions v on v.id = r.version_id "
                        "where v.agency = '甲县人民政府' and r.scope = 'natural_person' "
                        "and r.rule in ('balance', 'outcomes_sum')").fetchone()[0] == 0
    assert conn.execute("select count(*) from rule_results r join document_versions v on v.id = r.version_id "
                        "where v.agency = '甲县人民政府' and r.scope = 'total'").fetchone()[0] >= 2
    assert sorted(r[0] for r in conn.execute("select agency from reports")) == ["乙县人民政府", "甲县人民政府"]
    assert max(abs(r[0]) for r in conn.execute("select value from requests where value is not null")) <= COUNT_BOUND


def test_read_value_bounds_keep_raw_with_warning():
    assert read_value(TWENTY) == (None, None, f"value '{TWENTY}' beyond the plausible bound for a count cell "
                                              "(±1e+09): kept as raw text, value null")
    assert read_value("1000000000").value == 1_000_000_000  # the bound itself is a value
    assert read_value("1000000001").value is None
    assert read_value("9" * 5000).value is None  # no int conversion of a 5000-digit number
    assert read_value("10000000000000元", KIND_MONEY_YUAN).value == 1e13
    assert read_value("10000000000001元", KIND_MONEY_YUAN).value is None
    assert read_value("2000000000万元", KIND_MONEY_YUAN).value is None  # 2e13 yuan
    assert read_value("1000000000", KIND_MONEY_10K).value == 1e9
    assert read_value("1000000000.01", KIND_MONEY_10K).warning.startswith("value '1000000000.01' beyond")
    assert read_value("-1000000001", KIND_COUNT).value is None


def test_absurd_cells_from_files(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "absurd.html").write_bytes(absurd_page())
    (src / "normal.html").write_bytes(normal_page())
    out = tmp_path / "nianbao.db"
    build_archive(out, files=[src])
    check_absurd(out)


def test_absurd_cells_in_a_warc(tmp_path):
    warcs = tmp_path / "warcs"
    warcs.mkdir()
    w = Warc(warcs / "a.warc.gz")
    w.response("http://gov.example/absurd.html", absurd_page(), date="2026-02-01T00:00:00Z")
    w.response("http://gov.example/normal.html", normal_page(), date="2026-02-01T00:00:01Z")
    w.close()
    out = tmp_path / "nianbao.db"
    build_archive(out, warcs=[warcs / "a.warc.gz"], registry_path=tmp_path / "none.yaml")
    check_absurd(out)


def _hostile_reports() -> dict[str, dict]:
    """Reports another parser could hand over: numbers SQLite cannot store, a cell key it cannot bind."""
    huge = canonical("丙县人民政府", 2022, received=7)
    huge["requests"][0]["value"] = 10**30  # new_received/natural_person
    huge["appeals"][0]["value"] = float("inf")
    huge["checks"].append({"rule": "balance", "scope": "natural_person", "ok": False,
                           "expected": 2**64 + 1, "actual": -(2**70)})
    unbindable = canonical("丁县人民政府", 2022)
    unbindable["requests"][1]["column"] = {"not": "a key"}  # sqlite3 cannot bind a dict
    raising = canonical("戊县人民政府", 2022)
    raising["agency"] = ["not", "a", "name"]  # normalize_agency raises on a list
    return {"huge": huge, "unbindable": unbindable, "raising": raising,
            "good": canonical("己县人民政府", 2022)}


def _check_hostile(out: Path, urls: dict[str, str]) -> None:
    conn = sqlite3.connect(out)
    versions = {r[0]: r[1:] for r in conn.execute("select url, status, agency, n_cells, warnings "
                                                  "from document_versions")}
    status, agency, n_cells, warnings = versions[urls["huge"]]
    assert (status, agency) == ("parsed", "丙县人民政府")
    assert "value '1000000000000000000000000000000' beyond the plausible bound" in warnings
    assert "value 'inf' beyond the plausible bound" in warnings
    assert conn.execute("select value, raw from requests where row_key = 'new_received' and "
                        "column_key = 'natural_person' and version_id in "
                        "(select id from document_versions where agency = '丙县人民政府')").fetchone() == (None, "7")
    # a rule sum past 2^63: null in expected/actual (their numeric affinity would round it), text in the note
    expected, actual, note = conn.execute(
        "select expected, actual, note from rule_results where scope = 'natural_person' and rule = 'balance' "
        "and version_id in (select id from document_versions where agency = '丙县人民政府')").fetchone()
    assert (expected, actual) == (None, None)
    note = json.loads(note)
    assert {k: note[k] for k in ("expected", "actual")} == {"expected": str(2**64 + 1), "actual": str(-(2**70))}
    assert note["kind"] == "arithmetic"  # a finding's kind and cells (archive/findings.py) ride in the note
    for name in ("unbindable", "raising"):
        status, agency, n_cells, warnings = versions[urls[name]]
        assert (status, agency, n_cells) == ("build_error", None, 0), name
        assert "build error: " in warnings
    assert "InterfaceError" in versions[urls["unbindable"]][3] or "ProgrammingError" in versions[urls["unbindable"]][3]
    # the failed documents left no rows behind; the good ones are complete
    assert conn.execute("select count(*) from requests where version_id in (select id from document_versions "
                        "where status = 'build_error')").fetchone()[0] == 0
    assert conn.execute("select count(*) from sections where version_id in (select id from document_versions "
                        "where status = 'build_error')").fetchone()[0] == 0
    assert versions[urls["good"]][:3] == ("parsed", "己县人民政府", 15)
    assert conn.execute("select (select count(*) from requests) + (select count(*) from appeals) + (select count(*) "
                        "from active_disclosure)").fetchone()[0] == 30  # the good and the huge report, 15 each
    assert sorted(r[0] for r in conn.execute("select agency from reports")) == ["丙县人民政府", "己县人民政府"]
    assert sorted(r[0] for r in conn.execute("select status from other_documents")) == ["build_error", "build_error"]
    (stats,) = conn.execute("select stats from runs where kind = 'build'").fetchone()
    assert '"build_errors": 2' in stats


@pytest.mark.parametrize("batch_size", [1, 200000])  # a flush per document, and one at the end
def test_a_document_the_database_refuses_is_a_build_error_in_a_warc(tmp_path, batch_size):
    warcs = tmp_path / "warcs"
    warcs.mkdir()
    w = Warc(warcs / "a.warc.gz")
    urls = {}
    for i, (name, report) in enumerate(_hostile_reports().items()):
        urls[name] = f"http://gov.example/{name}.html"
        w.response(urls[name], body(report), date=f"2026-02-01T00:00:0{i}Z")
    w.close()
    out = tmp_path / "nianbao.db"
    build_archive(out, warcs=[warcs / "a.warc.gz"], parse=json_parser, parser_version=FAKE_VERSION,
                  registry_path=tmp_path / "none.yaml", batch_size=batch_size)
    _check_hostile(out, urls)


def test_a_document_the_database_refuses_is_a_build_error_from_files(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    urls = {}
    for name, report in _hostile_reports().items():
        (src / f"{name}.txt").write_bytes(body(report))
        urls[name] = (src / f"{name}.txt").resolve().as_uri()
    out = tmp_path / "nianbao.db"
    build_archive(out, files=[src], parse=json_parser, parser_version=FAKE_VERSION, registry_path=src / "none.yaml")
    _check_hostile(out, urls)


def test_damaged_and_truncated_records_are_captures_with_their_error(tmp_path):
    warcs = tmp_path / "warcs"
    warcs.mkdir()
    path = warcs / "a.warc.gz"
    w = Warc(path)
    offsets = []
    for i, agency in enumerate(("甲区人民政府", "乙区人民政府", "丙区人民政府")):
        offsets.append(w.fh.tell())
        w.response(f"http://gov.example/{i}.html", body(canonical(agency, 2022)) * 3, date=f"2026-02-01T00:00:0{i}Z")
    w.close()
    data = path.read_bytes()
    # the second record's middle overwritten (disk damage), the file cut inside the third (a killed crawl)
    mid = (offsets[1] + offsets[2]) // 2
    damaged = data[:mid] + b"\0" * 64 + data[mid + 64:offsets[2] + (len(data) - offsets[2]) // 2]
    path.write_bytes(damaged)
    out = tmp_path / "nianbao.db"

    def parse(data, source=""):
        return json_parser(data[: len(data) // 3], source)  # the payload is the report three times

    build_archive(out, warcs=[path], parse=parse, parser_version=FAKE_VERSION, registry_path=tmp_path / "none.yaml")
    conn = sqlite3.connect(out)
    caps = conn.execute("select url, record_type, warc_offset, version_id is not null, error from captures "
                        "order by warc_offset").fetchall()
    assert caps[0][:4] == ("http://gov.example/0.html", "response", offsets[0], 1) and caps[0][4] is None
    # gzip cannot decode the overwritten member: one damaged stretch from the record's start
    assert caps[1][:4] == (None, "damaged", offsets[1], 0)
    assert caps[1][4].startswith(f"unreadable WARC data from offset {offsets[1]}: ArchiveLoadFailed")
    assert caps[2][:4] == ("http://gov.example/2.html", "response", offsets[2], 0)
    assert caps[2][4].startswith("truncated record: its digest could not be verified")
    assert [r[0] for r in conn.execute("select agency from reports")] == ["甲区人民政府"]
    (stats,) = conn.execute("select stats from runs where kind = 'build'").fetchone()
    assert '"build_errors": 0' in stats


def test_an_unparseable_stretch_is_one_damaged_capture_and_reading_resumes(tmp_path):
    warcs = tmp_path / "warcs"
    warcs.mkdir()
    path = warcs / "a.warc.gz"
    w = Warc(path)
    offsets = []
    for i, agency in enumerate(("甲区人民政府", "乙区人民政府", "丙区人民政府")):
        offsets.append(w.fh.tell())
        w.response(f"http://gov.example/{i}.html", body(canonical(agency, 2022)), date=f"2026-02-01T00:00:0{i}Z")
    w.close()
    data = path.read_bytes()
    path.write_bytes(data[:offsets[1]] + b"garbage, not a gzip member" + data[offsets[1] + 10:])
    out = tmp_path / "nianbao.db"
    build_archive(out, warcs=[path], parse=json_parser, parser_version=FAKE_VERSION,
                  registry_path=tmp_path / "none.yaml")
    conn = sqlite3.connect(out)
    caps = conn.execute("select url, record_type, warc_offset, error from captures order by warc_offset").fetchall()
    assert [c[:3] for c in caps] == [("http://gov.example/0.html", "response", offsets[0]),
                                     (None, "damaged", offsets[1]),
                                     ("http://gov.example/2.html", "response", offsets[2] + 16)]
    assert caps[1][3].startswith(f"unreadable WARC data from offset {offsets[1]}: ArchiveLoadFailed")
    assert sorted(r[0] for r in conn.execute("select agency from reports")) == ["丙区人民政府", "甲区人民政府"]


def test_open_warc_files_are_not_read(tmp_path):
    warcs = tmp_path / "warcs"
    warcs.mkdir()
    for name, agency in (("a.warc.gz", "甲区人民政府"), ("b.warc.gz.open", "乙区人民政府"),
                         ("c.warc.gz.partial", "丙区人民政府")):
        w = Warc(warcs / name)
        w.response(f"http://gov.example/{name}.html", body(canonical(agency, 2022)), date="2026-02-01T00:00:00Z")
        w.close()
    out = tmp_path / "nianbao.db"
    run = build_archive(out, warcs=sorted(warcs.iterdir()), parse=json_parser, parser_version=FAKE_VERSION,
                        registry_path=tmp_path / "none.yaml")
    assert run["n_warc_files"] == 1
    assert [r[0] for r in sqlite3.connect(out).execute("select agency from reports")] == ["甲区人民政府"]


def test_a_failed_build_removes_its_partial_file_and_keeps_the_database(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    (src / "r.txt").write_bytes(body(canonical("甲区人民政府", 2022)))
    out = tmp_path / "nianbao.db"
    build_archive(out, files=[src], parse=json_parser, parser_version=FAKE_VERSION, registry_path=src / "none.yaml")
    before = out.read_bytes()
    from nianbao.archive import build as build_module

    def full(self, *args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(build_module.ArchiveBuilder, "_insert_many", full)
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        build_archive(out, files=[src], parse=json_parser, parser_version=FAKE_VERSION,
                      registry_path=src / "none.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "nianbao.db"]  # no nianbao.db.building
    assert out.read_bytes() == before

    def enospc(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(build_module.ArchiveBuilder, "finish", enospc)
    with pytest.raises(OSError):
        build_archive(out, files=[src], parse=json_parser, parser_version=FAKE_VERSION,
                      registry_path=src / "none.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "nianbao.db"]


def _junk(kind: str) -> bytes:
    return {"not_found": "<html><title>404 页面不存在</title><body>对不起，您访问的页面不存在</body></html>",
            "svg": '<svg xmlns="http://www.w3.org/2000/svg"><text>年度报告</text></svg>'}[kind].encode("utf-8")


@pytest.mark.parametrize("junk_first", [True, False])
def test_junk_at_a_report_url_never_hides_or_doubles_the_report(tmp_path, junk_first):
    """Night 1 junk then night 2 the report (or the report, then junk): one row in reports, the
    report's; the junk versions are other documents pointing at it."""
    warcs = tmp_path / "warcs"
    warcs.mkdir()
    url = "http://gov.example/2022/report.html"
    report = body(canonical("甲区人民政府", 2022))
    nights = [("not_found", _junk("not_found")), ("report", report), ("svg", _junk("svg"))]
    if not junk_first:
        nights = [nights[1], nights[0], nights[2]]
    for i, (_, payload) in enumerate(nights):
        w = Warc(warcs / f"n{i}.warc.gz")
        w.response(url, payload, date=f"2026-02-0{i + 1}T00:00:00Z",
                   content_type="image/svg+xml" if payload.startswith(b"<svg") else "text/html; charset=utf-8")
        w.close()
    out = tmp_path / "nianbao.db"
    build_archive(out, warcs=sorted(warcs.iterdir()), parse=json_parser, parser_version=FAKE_VERSION,
                  registry_path=tmp_path / "none.yaml")
    conn = sqlite3.connect(out)
    reports = conn.execute("select agency, year, status, url, version_id from reports").fetchall()
    assert [r[:4] for r in reports] == [("甲区人民政府", 2022, "parsed", url)]
    others = conn.execute("select status, url, report_version_id from other_documents").fetchall()
    assert others and all(o[1] == url and o[2] == reports[0][4] for o in others)
    assert conn.execute("select count(*) from report_totals where agency is null").fetchone()[0] == 0
    assert conn.execute("select n_reports from source_health").fetchone()[0] == 1


def test_junk_after_a_tables_less_report_keeps_the_report_latest(tmp_path):
    """A URL-keyed report (no agency/year read) and later junk at its URL are one document: the
    report stays its latest version."""
    warcs = tmp_path / "warcs"
    warcs.mkdir()
    url = "http://gov.example/scan.html"
    scan = {"status": "no_tables", "title": "年度报告（扫描件）", "warnings": []}
    for i, payload in enumerate((body(scan), b'{"status": "unreadable", "warnings": ["broken"]}')):
        w = Warc(warcs / f"n{i}.warc.gz")
        w.response(url, payload, date=f"2026-02-0{i + 1}T00:00:00Z")
        w.close()
    out = tmp_path / "nianbao.db"
    build_archive(out, warcs=sorted(warcs.iterdir()), parse=json_parser, parser_version=FAKE_VERSION,
                  registry_path=tmp_path / "none.yaml")
    conn = sqlite3.connect(out)
    assert conn.execute("select status, version, n_versions from reports").fetchall() == [("no_tables", 1, 2)]
    assert conn.execute("select count(*) from other_documents").fetchone()[0] == 0


def test_absurd_cells_through_the_cli(tmp_path):
    """`nianbao build --from-files` with the absurd page: exit 0, one report per page."""
    import subprocess
    import sys

    src = tmp_path / "in"
    src.mkdir()
    (src / "absurd.html").write_bytes(absurd_page())
    (src / "normal.html").write_bytes(normal_page())
    out = tmp_path / "out" / "nianbao.db"
    proc = subprocess.run([sys.executable, "-m", "nianbao.cli", "build", "--from-files", str(src), "--db", str(out),
                           "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"built {out}: 2 documents, 2 versions")
    check_absurd(out)
