"""One report in every format, through the one door (parsers.document.parse_document).

tests/fixtures/formats/ holds two real reports (a 2021-edition county bureau report, a 2019-edition
district report) as DOCX, PDF, DOC, WPS (OLE2 and DOCX inside), OFD, XLSX, XLS and PNG, made by
make_fixtures.py from the reviewed canonical reports; <name>.expected.json is what every format must
give: agency, year, edition and every cell's value. DOC and WPS go through LibreOffice (a system
dependency: make system-deps), so those cases take about a second each.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from nianbao.cli import main
from nianbao.parsers import document
from nianbao.parsers.document import parse_document
from nianbao.parsers.formats import office, sniff
from tests.conftest import REPO

FORMATS = REPO / "tests" / "fixtures" / "formats"
SOURCES = ("shuyang_fgj_2023", "pingtan_2019")
SUFFIXES = {".docx": "docx", ".pdf": "pdf", ".doc": "doc", ".wps": "wps", ".wpsx.wps": "wps", ".rtf": "rtf",
            ".ofd": "ofd", ".cells.ofd": "ofd", ".fills.ofd": "ofd",
            ".xlsx": "xlsx", ".xls": "xls", ".png": "png"}
KEYS = {"active": ("row", "measure"), "requests": ("row", "column"), "appeals": ("procedure", "outcome")}
_CACHE: dict[Path, dict] = {}


def fixtures() -> list[Path]:
    return [FORMATS / f"{name}{suffix}" for name in SOURCES for suffix in SUFFIXES]


def parsed(path: Path) -> dict:
    """parse_document of a fixture, once per session (DOC/WPS cost a LibreOffice run each)."""
    if path not in _CACHE:
        _CACHE[path] = parse_document(path.read_bytes(), filename=path.name, source=path.name)
    return _CACHE[path]


def facts(report: dict) -> dict:
    return {"agency": report["agency"], "year": report["year"], "edition": report["edition"],
            "status": report["status"],
            **{name: [[c[a], c[b], c["value"]] for c in report[name]] for name, (a, b) in KEYS.items()}}


def expected(path: Path) -> dict:
    return json.loads((FORMATS / f"{path.name.split('.')[0]}.expected.json").read_text(encoding="utf-8"))


def kind_of(path: Path) -> str:
    return SUFFIXES[path.name[path.name.index("."):]]


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name)
def test_every_format_gives_the_source_report(path):
    report = parsed(path)
    kind = kind_of(path)
    assert report["format"] == kind
    if kind == "png":
        if document._ocr() is None:
            assert report["status"] == "image_only"
            assert report["warnings"] == ["PNG image: no text layer and no OCR available"]
            assert report["active"] == report["requests"] == report["appeals"] == []
        return
    want, got = expected(path), facts(report)
    assert (got["agency"], got["year"], got["edition"], got["status"]) == \
        (want["agency"], want["year"], want["edition"], "parsed")
    for name in KEYS:
        wrong = [(w, g) for w, g in zip(want[name], got[name]) if w != g]
        assert len(got[name]) == len(want[name]) and not wrong, f"{name}: {wrong[:5]}"
    assert all(check["ok"] for check in report["checks"]) == all(
        check["ok"] for check in parsed(FORMATS / f"{path.name.split('.')[0]}.docx")["checks"])


def test_nianbao_parse_json_is_parse_document(capsys, monkeypatch):
    # one source in every format; of the LibreOffice kinds only WPS (DOC and RTF take the same path)
    paths = [p for p in fixtures() if p.name.startswith(SOURCES[0]) and kind_of(p) not in ("doc", "rtf")]
    assert main(["parse", "--json", *map(str, paths)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(paths)
    for path, line in zip(paths, lines):
        want = {**parsed(path), "source": str(path)}  # the CLI names the source by the path it was given
        assert json.loads(line) == json.loads(json.dumps(want, ensure_ascii=False))
    monkeypatch.setenv("COLUMNS", "200")  # rich folds the summary table to the terminal's width
    assert main(["parse", *map(str, paths[:3])]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "shuyang_fgj_2023" in line]
    assert [row.split("│")[2].strip() for row in rows] == ["docx", "pdf", "wps"]
    assert all("沭阳县发展和改革局" in row and "parsed" in row and "200/200" in row for row in rows)


def test_mislabelled_bytes_dispatch_by_content():
    pdf = (FORMATS / "shuyang_fgj_2023.pdf").read_bytes()
    report = parse_document(pdf, content_type="text/html; charset=utf-8", filename="report.html")
    assert (report["format"], report["status"], report["year"]) == ("pdf", "parsed", 2023)
    docx = (FORMATS / "pingtan_2019.docx").read_bytes()
    report = parse_document(docx, content_type="application/msword", filename="报告.doc")
    assert (report["format"], report["status"], report["edition"]) == ("docx", "parsed", "2019")
    ofd = (FORMATS / "pingtan_2019.ofd").read_bytes()
    assert parse_document(ofd, content_type="application/zip", filename="a.zip")["format"] == "ofd"
    xlsx = (FORMATS / "shuyang_fgj_2023.xlsx").read_bytes()
    assert parse_document(xlsx, content_type="application/octet-stream", filename="a.xls")["format"] == "xlsx"
    # a WPS file that says so inside (the KSOProductBuildVer stamp) is WPS whatever its name
    wps = (FORMATS / "shuyang_fgj_2023.wpsx.wps").read_bytes()
    assert sniff(wps, None, "report.docx").kind == "wps"
    assert sniff((FORMATS / "shuyang_fgj_2023.wps").read_bytes(), None, "report.doc").kind == "wps"
    # an OLE2 Word file with no stamp: DOC, unless its name says WPS (the tie the name may break)
    doc = (FORMATS / "shuyang_fgj_2023.doc").read_bytes()
    assert (sniff(doc).kind, sniff(doc, None, "a.wps").kind, sniff(doc, "text/html", "a.pdf").kind) == \
        ("doc", "wps", "doc")


def test_text_in_any_charset_and_images_by_magic():
    page = "<html><head><title>某县2023年政府信息公开工作年度报告</title></head><body><p>正文</p></body></html>"
    for data in (page.encode("gb18030"), page.encode("utf-16"), page.encode("utf-8"), b"plain text\n"):
        assert sniff(data).kind == "html"
    assert parse_document(page.encode("gb18030"), filename="a.pdf")["format"] == "html"
    magic = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff\xe0": "jpeg", b"II*\x00": "tiff", b"MM\x00*": "tiff",
             b"GIF89a": "gif", b"RIFF\x00\x00\x00\x00WEBP": "webp"}
    for head, kind in magic.items():
        report = parse_document(head + bytes(64), filename="x.bin")
        assert (report["format"], report["status"]) == (kind, "image_only") or document._ocr() is not None
    bmp = b"BM" + (1078).to_bytes(4, "little") + bytes(4) + (54).to_bytes(4, "little") + (40).to_bytes(4, "little")
    assert sniff(bmp + bytes(60)).kind == "bmp"


def test_unknown_bytes_are_unsupported_never_guessed():
    report = parse_document(b"\x7fELF\x02\x01\x01" + bytes(100), content_type="application/pdf", filename="a.pdf")
    assert (report["status"], report["format"]) == ("unsupported_format", None)
    assert report["warnings"] == ["unsupported format: first bytes 7f 45 4c 46 02 01 01 00 00 00 00 00 00 00 00 00 "
                                  "('.ELF............')"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("data/readme.txt", "hello")
    report = parse_document(archive.getvalue(), filename="report.docx")
    assert report["status"] == "unsupported_format"
    assert "zip archive without a known document (data/readme.txt)" in report["warnings"][0]
    # the report keeps every key of the canonical report, empty
    assert set(report) >= {"source", "title", "agency", "year", "edition", "active", "requests", "appeals",
                           "sections", "checks", "warnings", "parser_version", "format"}


@pytest.mark.parametrize("name, cut", [("shuyang_fgj_2023.pdf", 20000), ("shuyang_fgj_2023.docx", 4000),
                                       ("pingtan_2019.ofd", 5000), ("pingtan_2019.xlsx", 3000),
                                       ("pingtan_2019.xls", 6000),
                                       ("shuyang_fgj_2023.doc", 3000), ("shuyang_fgj_2023.wpsx.wps", 2000)])
def test_truncated_files_are_unreadable(name, cut):
    path = FORMATS / name
    report = parse_document(path.read_bytes()[:cut], filename=name)
    assert report["status"] == "unreadable"
    assert report["format"] == kind_of(path)
    assert len(report["warnings"]) == 1 and report["warnings"][0]


def test_damaged_files_never_raise():
    docx = bytearray((FORMATS / "pingtan_2019.docx").read_bytes())
    ofd = (FORMATS / "pingtan_2019.ofd").read_bytes()
    broken_ofd = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(ofd)) as src, zipfile.ZipFile(broken_ofd, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item.filename, data[: len(data) // 2] if item.filename.endswith("Content.xml") else data)
    cases = {"empty.pdf": b"", "flipped.docx": bytes(b ^ 0x5A if 500 < i < 900 else b for i, b in enumerate(docx)),
             "half.ofd": broken_ofd.getvalue(), "pdf-header-only.pdf": b"%PDF-1.7\n%%EOF"}
    for name, data in cases.items():
        report = parse_document(data, filename=name)
        assert report["status"] in ("unreadable", "not_a_report", "no_tables", "partial"), name
        assert isinstance(report["warnings"], list)
    assert parse_document(b"", filename="empty.pdf")["warnings"] == ["empty file (declared pdf)"]


def test_without_libreoffice_doc_is_unreadable_with_a_clear_reason(monkeypatch):
    doc = (FORMATS / "shuyang_fgj_2023.doc").read_bytes()
    monkeypatch.setattr(office, "soffice", lambda: None)
    monkeypatch.setattr(office.shutil, "which", lambda name: None)
    report = parse_document(doc, filename="a.doc")
    assert (report["status"], report["format"]) == ("unreadable", "doc")
    assert report["warnings"] == ["LibreOffice not installed (make system-deps)"]


def test_antiword_fallback_reads_text_when_libreoffice_is_missing(monkeypatch):
    if office.shutil.which("antiword") is None:
        pytest.skip("antiword not installed")
    monkeypatch.setattr(office, "soffice", lambda: None)
    report = parse_document((FORMATS / "shuyang_fgj_2023.doc").read_bytes(), filename="a.doc")
    assert (report["format"], report["agency"], report["year"]) == ("doc", "沭阳县发展和改革局", 2023)
    assert report["warnings"][0].startswith("LibreOffice not installed (make system-deps): read by antiword")


def test_ofd_without_rulings_gives_text_not_shifted_numbers():
    """A table laid out by glyph positions alone hides its blank cells: no numbers rather than wrong ones."""
    import re

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO((FORMATS / "shuyang_fgj_2023.ofd").read_bytes())) as src, \
            zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("Content.xml"):
                data = re.sub(rb"<ofd:PathObject .*?</ofd:PathObject>", b"", data)
            dst.writestr(name, data)
    report = parse_document(out.getvalue(), filename="report.ofd")
    assert (report["format"], report["status"], report["agency"], report["year"]) == \
        ("ofd", "no_tables", "沭阳县发展和改革局", 2023)
    assert report["warnings"][0] == \
        "OFD without table rulings: its text is read, tables laid out by position only are not"
    assert [s["heading"] for s in report["sections"]][:2] == ["总体情况", "主动公开政府信息情况"]


def test_html_pages_are_parse_report_unchanged(shared_dir):
    """The door adds only `format` to what parse_report gives for an HTML page (any charset)."""
    from nianbao.parsers import parse_report

    pages = sorted((shared_dir / "real").glob("*.html"))
    assert pages
    for page in pages:
        data = page.read_bytes()
        report = parse_document(data, content_type="text/html", filename=page.name, source=page.name)
        assert report == {**parse_report(data, source=page.name), "format": "html"}, page.name


def test_libreoffice_profiles_are_per_process_and_swept(tmp_path, monkeypatch):
    """A profile left by a process that died (kill -9) is removed when the next process makes its own."""
    import os
    import subprocess
    import sys

    monkeypatch.setattr(office.tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"nianbao-lo-profile-{int(dead.stdout)}-x"
    stale.mkdir()
    mine = tmp_path / f"nianbao-lo-profile-{os.getpid()}-y"
    mine.mkdir()
    monkeypatch.setattr(office, "_PROFILE", {})
    made = Path(office._profile())
    assert made.parent == tmp_path and made.name.startswith(f"nianbao-lo-profile-{os.getpid()}-")
    assert not stale.exists() and mine.exists()


def test_hints_reach_parse_report(monkeypatch):
    seen = []

    def spy(data, source="", hints=None):
        seen.append(hints)
        return {"warnings": [], "source": source}

    monkeypatch.setattr(document, "parse_report", spy)
    monkeypatch.setattr(document, "_TAKES_HINTS", True)
    report = parse_document((FORMATS / "pingtan_2019.docx").read_bytes(), hints={"agency": "平潭综合实验区"})
    assert seen == [{"agency": "平潭综合实验区"}] and report["format"] == "docx"


def _ofd(content: str, template: str | None = None) -> bytes:
    """A minimal OFD package: one page of `content` objects, optionally over a template page."""
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    tpl = '<ofd:TemplatePage ID="2" BaseLoc="Tpls/Tpl_0/Content.xml"/>' if template else ""
    ref = '<ofd:Template TemplateID="2" ZOrder="Background"/>' if template else ""
    files = {
        "OFD.xml": f'<ofd:OFD {ns} Version="1.1" DocType="OFD"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml'
                   "</ofd:DocRoot></ofd:DocBody></ofd:OFD>",
        "Doc_0/Document.xml": f"<ofd:Document {ns}><ofd:CommonData>{tpl}</ofd:CommonData><ofd:Pages>"
                              '<ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>',
        "Doc_0/Pages/Page_0/Content.xml": f"<ofd:Page {ns}>{ref}<ofd:Content><ofd:Layer ID='3'>{content}"
                                          "</ofd:Layer></ofd:Content></ofd:Page>",
    }
    if template:
        files["Doc_0/Tpls/Tpl_0/Content.xml"] = (f"<ofd:Page {ns}><ofd:Content><ofd:Layer ID='4'>{template}"
                                                 "</ofd:Layer></ofd:Content></ofd:Page>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return out.getvalue()


def test_ofd_rulings_in_pieces_on_a_template_page_make_one_table():
    """A form's rulings drawn per cell edge (pieces that only touch end to end), on the template page the
    page names, with text under a points→mm CTM: one 3×3 table whose top row is one merged cell."""
    from nianbao.parsers.formats.ofd import ofd_to_html

    def path(x0: float, y0: float, x1: float, y1: float) -> str:
        return (f'<ofd:PathObject ID="9" Boundary="0 0 200 200"><ofd:AbbreviatedData>M {x0} {y0} L {x1} {y1} '
                "</ofd:AbbreviatedData></ofd:PathObject>")

    rulings = "".join(path(x, y, x + 30, y) for y in (10, 20, 30, 40) for x in (10, 40, 70))  # pieces
    rulings += path(10, 10, 10, 40) + path(100, 10, 100, 40)
    rulings += "".join(path(x, 20, x, 40) for x in (40, 70))  # no inner verticals in the top row
    def text(x: float, y: float, s: str) -> str:
        return (f'<ofd:TextObject ID="8" Boundary="{x} {y} 40 5" Size="10" CTM="0.3528 0 0 0.3528 0 0">'
                f'<ofd:TextCode X="0" Y="8.8" DeltaX="g {len(s) - 1} 10">{s}</ofd:TextCode></ofd:TextObject>')
    body = text(12, 12, "统计表") + text(12, 22, "项目") + text(42, 22, "数量") + text(72, 22, "备注")
    body += text(12, 32, "申请") + text(42, 32, "26") + text(72, 32, "无")
    html = ofd_to_html(_ofd(body, template=rulings))
    assert '<table><tr><td colspan="3">统计表</td></tr><tr><td>项目</td><td>数量</td><td>备注</td></tr>' \
           "<tr><td>申请</td><td>26</td><td>无</td></tr></table>" in html


def test_libreoffice_timeout_is_unreadable_and_leaves_no_process(monkeypatch):
    import os
    import subprocess

    monkeypatch.setattr(office, "TIMEOUT", 0.05)
    report = parse_document((FORMATS / "pingtan_2019.doc").read_bytes(), filename="a.doc")
    assert (report["status"], report["format"]) == ("unreadable", "doc")
    assert report["warnings"] == ["soffice timed out after 0.05 s"]
    left = subprocess.run(["pgrep", "-f", "nianbao-lo-profile-"], capture_output=True, text=True).stdout.split()
    assert not [pid for pid in left if Path(f"/proc/{pid}/cmdline").exists()
                and f"nianbao-lo-profile-{os.getpid()}-" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]
    monkeypatch.setattr(office, "TIMEOUT", 120)  # and the next conversion works (a fresh profile)
    report = parse_document((FORMATS / "pingtan_2019.doc").read_bytes(), filename="a.doc")
    assert (report["status"], report["format"], report["year"]) == ("parsed", "doc", 2019)
