"""Scans through the one door (parsers.document.parse_document): image-only PDFs, PDFs whose text layer is
broken (a CID font without ToUnicode) and page images are read by OCR (parsers.ocr), and every OCR'd cell
carries its provenance (method 'ocr', confidence 0-1, page, pixel box, low_confidence when flagged); a
born-digital PDF is read from its text, never OCR'd, and its cells get no new key.

Fixtures: tests/fixtures/scans (make_scans.py), each with the truth it was made from.
"""

from __future__ import annotations

import json

import pytest
from lxml import etree

from nianbao.parsers.document import parse_document
from nianbao.parsers.grid import ocr_provenance
from nianbao.parsers.ocr.engine import default_engine
from nianbao.parsers.report import parse_report
from tests.conftest import REPO

SCANS = REPO / "tests" / "fixtures" / "scans"
TABLES = {"active": ("row", "measure"), "requests": ("row", "column"), "appeals": ("procedure", "outcome")}
OCR_KEYS = {"method", "confidence", "page", "box", "low_confidence"}
_PARSED: dict[str, tuple[dict, int, dict]] = {}


def parsed(name: str) -> tuple[dict, int, dict]:
    """(report, tesseract calls it took, the cache it filled): each fixture OCR'd once per session."""
    if name not in _PARSED:
        engine, cache = default_engine(), {}
        before = engine.calls
        report = parse_document((SCANS / name).read_bytes(), filename=name, source=name, cache=cache)
        _PARSED[name] = (report, engine.calls - before, cache)
    return _PARSED[name]


def cells(report: dict) -> list[dict]:
    return [c for table in TABLES for c in report[table]]


def truth_of(name: str) -> dict:
    return json.loads((SCANS / f"{name.split('.')[0].rsplit('_p', 1)[0]}.truth.json").read_text(encoding="utf-8"))


def test_a_born_digital_pdf_is_read_from_its_text_and_never_ocrd():
    report, calls, cache = parsed("born_digital_2023.pdf")
    assert calls == 0 and cache == {}
    assert (report["status"], report["format"], report["year"]) == ("parsed", "pdf", 2023)
    assert "ocr" not in report
    assert all(not OCR_KEYS & set(c) for c in cells(report))  # text cells: the output as before


@pytest.mark.parametrize("name", ["broken_text_2022.pdf", "county_2023.pdf"])
def test_a_pdf_without_a_usable_text_layer_is_read_by_ocr(name):
    """county_2023: no text layer; broken_text_2022: an invisible CID-font layer with no ToUnicode
    (its text is not trusted: the report equals the truth the scan was printed from)."""
    report, calls, _ = parsed(name)
    truth = truth_of(name)
    assert calls > 0
    assert (report["status"], report["format"], report["agency"], report["year"], report["edition"]) == \
        ("parsed", "pdf", truth["agency"], truth["year"], truth["edition"])
    assert report["ocr"]["pages"] == [1, 2, 3] and report["ocr"]["dpi"] == [200]
    assert report["warnings"][0].startswith("PDF without a usable text layer read by OCR (page(s) 1, 2, 3)")
    got = {(t, c[a], c[b]): c["value"] for t, (a, b) in TABLES.items() for c in report[t]}
    want = {(t, c[a], c[b]): c["value"] for t, (a, b) in TABLES.items() for c in truth[t]}
    exact = sum(got.get(k) == v for k, v in want.items())
    assert len(want) == 200 and exact / len(want) >= 0.99, f"{exact}/{len(want)} exact"
    # every wrong reading is flagged: a confident cell is exact
    wrong_confident = [c for t, (a, b) in TABLES.items() for c in report[t]
                       if c["position"] and not c.get("low_confidence") and c["value"] != want[(t, c[a], c[b])]]
    assert wrong_confident == []


@pytest.mark.parametrize("name", ["broken_text_2022.pdf", "county_2023.pdf", "pingtan_2025_p1.jpg"])
def test_every_ocrd_cell_carries_method_confidence_page_and_box(name):
    report, _, _ = parsed(name)
    found = [c for c in cells(report) if c["position"] is not None]
    assert found
    for c in found:
        assert c["method"] == "ocr"
        assert isinstance(c["confidence"], float) and 0.0 <= c["confidence"] <= 1.0
        assert isinstance(c["page"], int) and c["page"] >= 1
        x0, y0, x1, y1 = c["box"]
        assert 0 <= x0 < x1 and 0 <= y0 < y1
        assert c.get("low_confidence", False) is (c["confidence"] < report["ocr"]["threshold"])
    # a cell no table held has no provenance (nothing was read)
    assert all(not OCR_KEYS & set(c) for c in cells(report) if c["position"] is None)
    low = sum(1 for c in found if c.get("low_confidence"))
    assert low < len(found) * 0.2


def test_a_page_image_is_read_by_ocr():
    report, calls, _ = parsed("pingtan_2025_p1.jpg")
    assert calls > 0 and report["format"] == "jpeg"
    assert (report["agency"], report["year"]) == ("平潭综合实验区", 2025)
    assert report["warnings"][0].startswith("page image read by OCR (page(s) 1)")
    truth = truth_of("pingtan_2025_p1.jpg")
    got = {(c["row"], c["measure"]): c["value"] for c in report["active"] if c["position"]}
    want = {(c["row"], c["measure"]): c["value"] for c in truth["active"]}
    assert len(got) >= 10 and all(got[k] == want[k] for k in got if k in want)


def test_a_second_read_with_the_cache_makes_no_tesseract_call_and_gives_the_same_report():
    report, calls, cache = parsed("county_2023.pdf")
    assert calls > 0 and len(cache) == 1 and next(iter(cache)).startswith("ocr:")
    engine = default_engine()
    before = engine.calls
    again = parse_document((SCANS / "county_2023.pdf").read_bytes(), filename="county_2023.pdf",
                           source="county_2023.pdf", cache=cache)
    assert engine.calls == before
    assert again == report


def test_provenance_is_read_from_the_td_attributes():
    html = ('<html><body><h1>某县2023年政府信息公开工作年度报告</h1><table>'
            '<tr><td>x</td><td data-ocr-confidence="0.412" data-page="2" data-box="10,20,110,60" '
            'data-ocr-raw="l2" data-low-confidence="1">12</td>'
            '<td data-ocr-confidence="1.5" data-page="x" data-box="1,2,3">3</td><td>4</td></tr></table>'
            '</body></html>')
    tds = etree.HTML(html).findall(".//td")
    assert ocr_provenance(tds[1]) == {"method": "ocr", "confidence": 0.412, "page": 2, "box": [10, 20, 110, 60],
                                      "low_confidence": True}
    # a damaged attribute is null, never an exception; confidence is kept within 0-1
    assert ocr_provenance(tds[2]) == {"method": "ocr", "confidence": 1.0, "page": None, "box": None}
    report = parse_report(html.encode())
    assert report["status"]  # parsed without raising, whatever it found


def test_a_flagged_cell_keeps_its_reading():
    """Numbers are never guessed: a low-confidence cell keeps its value and says so."""
    report, _, _ = parsed("broken_text_2022.pdf")
    flagged = [c for c in cells(report) if c.get("low_confidence")]
    assert flagged and all(c["raw"] is not None and c["confidence"] < 0.8 for c in flagged)
    assert any(c["value"] is not None for c in flagged)
