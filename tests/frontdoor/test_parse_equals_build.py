"""One door, one answer: `nianbao parse --json FILE` and `nianbao build --from-files FILE` give the same
report for every format the parser reads (HTML, PDF, DOCX, DOC, WPS, OFD, XLSX, XLS, RTF, image), the
same agency and year read from the document's own text, and the same value for every cell.

Both commands run as a user runs them (the CLI, a fresh data dir), on the committed format fixtures
(tests/fixtures/formats, generated from two reviewed real reports) and a born-digital PDF whose table 3
continues over a page break (tests/fixtures/layout).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

FORMATS = REPO / "tests" / "fixtures" / "formats"
LAYOUT = REPO / "tests" / "fixtures" / "layout"
FILES = [FORMATS / f"shuyang_fgj_2023.{suffix}" for suffix in
         ("pdf", "docx", "doc", "wps", "wpsx.wps", "ofd", "xlsx", "xls", "rtf", "png")] + \
        [FORMATS / "pingtan_2019.docx", LAYOUT / "pdf_a4_continued.pdf"] + \
        [REPO / "tests" / "fixtures" / "scans" / name  # scans read by OCR: no text layer, a broken one, an image
         for name in ("county_2023.pdf", "broken_text_2022.pdf", "pingtan_2025_p2.png")]
TABLES = {"active": ("active_disclosure", "row_key", "measure", "row", "measure"),
          "requests": ("requests", "row_key", "column_key", "row", "column"),
          "appeals": ("appeals", "procedure", "outcome", "procedure", "outcome")}


def nianbao(*args: str) -> subprocess.CompletedProcess:
    """The installed front door, as a user runs it."""
    return subprocess.run([str(Path(sys.executable).with_name("nianbao")), *args], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def parsed_and_built(tmp_path_factory):
    out = tmp_path_factory.mktemp("one-door")
    db = out / "nianbao.db"
    built = nianbao("build", "--data-dir", str(out / "data"), "--from-files", *map(str, FILES), "--db", str(db),
                    "--registry", str(out / "no-registry.yaml"))
    assert built.returncode == 0, built.stderr
    printed = nianbao("parse", "--json", *map(str, FILES))
    assert printed.returncode == 0, printed.stderr
    reports = {Path(r["source"]).resolve(): r for r in map(json.loads, printed.stdout.splitlines())}
    assert len(reports) == len(FILES)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    yield reports, conn
    conn.close()


def version_of(conn: sqlite3.Connection, path: Path) -> sqlite3.Row:
    url = path.resolve().as_uri()
    rows = conn.execute("select v.* from captures c join document_versions v on v.id = c.version_id "
                        "where c.url = ?", [url]).fetchall()
    assert len(rows) == 1, f"{path.name}: {len(rows)} versions"
    return rows[0]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_parse_and_build_give_the_same_report(parsed_and_built, path):
    reports, conn = parsed_and_built
    report = reports[path.resolve()]
    version = version_of(conn, path)
    assert (version["status"], version["agency"], version["year"], version["edition"], version["title"]) == \
        (report["status"], report["agency"], report["year"], report["edition"], report["title"])
    for key, (table, a, b, ra, rb) in TABLES.items():
        built = {(r[a], r[b]): (r["value"], r["raw"]) for r in conn.execute(
            f"select [{a}], [{b}], value, raw from [{table}] where version_id = ?", [version["id"]])}
        printed = {(c[ra], c[rb]): (c["value"], c["raw"]) for c in report[key]}
        assert built == printed, f"{path.name} {key}: differs"


@pytest.mark.parametrize("path", [p for p in FILES if p.suffix != ".png"], ids=lambda p: p.name)
def test_every_readable_format_names_its_body_and_year_from_its_own_text(parsed_and_built, path):
    """No registry, no file name to lean on: agency and year come from the document itself."""
    report = parsed_and_built[0][path.resolve()]
    want = {"shuyang_fgj_2023": ("沭阳县发展和改革局", 2023), "pingtan_2019": ("平潭综合实验区", 2019)}
    name = path.name.split(".")[0]
    if name in want:
        assert (report["agency"], report["year"], report["status"]) == (*want[name], "parsed")
    else:
        assert report["agency"] and report["year"] and report["status"] == "parsed"
    assert report["identity"]["agency"] and report["identity"]["year"]
