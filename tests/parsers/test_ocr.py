"""OCR of scanned reports (parsers.ocr): the scans in tests/fixtures/scans (made by make_scans.py from
canonical reports, the truth beside each) read back cell by cell through parse_report.

Needs Debian's tesseract-ocr + tesseract-ocr-chi-sim (installed by the project's setup); nothing is
skipped when they are present.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from lxml import html as lxml_html

from nianbao.parsers import parse_report
from nianbao.parsers.labels import norm
from nianbao.parsers.ocr import THRESHOLD, needs_ocr, pages_needing_ocr, scan_images, scan_pdf
from nianbao.parsers.ocr.engine import Engine
from nianbao.parsers.ocr.labels import known_labels, snap

SCANS = Path(__file__).resolve().parents[1] / "fixtures" / "scans"
FIXTURES = ("county_2023", "shanghai_2019", "pingtan_2025", "broken_text_2022")
TABLE_KEYS = {"active": ("row", "measure"), "requests": ("row", "column"), "appeals": ("procedure", "outcome")}


@cache
def scanned(name: str) -> dict:
    """The OCR result of one fixture (a PDF, or its page images), read once per session."""
    pdf = SCANS / f"{name}.pdf"
    if pdf.exists():
        return scan_pdf(pdf.read_bytes(), 200)
    return scan_images([p.read_bytes() for p in sorted(SCANS.glob(f"{name}_p*"))])


def score(name: str) -> dict:
    """Every truth cell of a fixture: exact or not, its OCR confidence and flag (looked up by the
    parsed cell's grid position in the OCR'd tables)."""
    result = scanned(name)
    report = parse_report(result["html"])
    truth = json.loads((SCANS / f"{name}.truth.json").read_text(encoding="utf-8"))
    at = {}
    for cell in result["cells"]:
        for dr in range(cell["rowspan"]):
            for dc in range(cell["colspan"]):
                at[(cell["table"], cell["row"] + dr, cell["col"] + dc)] = cell
    cells = []
    for table, keys in TABLE_KEYS.items():
        parsed = {tuple(c[k] for k in keys): c for c in report[table]}
        for expected in truth[table]:
            got = parsed.get(tuple(expected[k] for k in keys)) or {}
            position = got.get("position")
            ocr = at.get((position["table"], position["row"], position["col"])) if position else None
            cells.append({"key": (table, *(expected[k] for k in keys)), "exact": got.get("value") == expected["value"],
                          "confidence": ocr["confidence"] if ocr else 0.0,
                          "flagged": bool(ocr and ocr["low_confidence"]), "got": got.get("raw"),
                          "want": expected["raw"]})
    return {"report": report, "truth": truth, "cells": cells}


# ---------------------------------------------------------------- which PDFs go to OCR


def test_image_only_and_broken_text_layers_need_ocr():
    for name in ("county_2023", "shanghai_2019"):
        data = (SCANS / f"{name}.pdf").read_bytes()
        assert needs_ocr(data)
        assert pages_needing_ocr(data) == [0, 1, 2]
    broken = (SCANS / "broken_text_2022.pdf").read_bytes()
    assert needs_ocr(broken), "a CID font without ToUnicode extracts as garbage: must not be trusted"
    assert pages_needing_ocr(broken) == [0, 1, 2]


def test_born_digital_pdf_is_trusted():
    data = (SCANS / "born_digital_2023.pdf").read_bytes()
    assert not needs_ocr(data)
    assert pages_needing_ocr(data) == []


def test_not_a_pdf_is_a_status_not_an_exception():
    assert needs_ocr(b"not a pdf") is False
    assert scan_pdf(b"not a pdf")["status"] == "unreadable"
    assert scan_images([b"not an image"])["status"] == "unreadable"


# ---------------------------------------------------------------- labels


def test_known_labels_come_from_the_template():
    labels = set(known_labels())
    assert norm("本年新收政府信息公开申请数量") in {label[2:] for label in labels} | labels
    assert norm("（七）总计") in labels and "总计" in labels and "信息内容" in labels
    assert norm("五、存在的主要问题及改进情况") in labels


def test_snap_fixes_small_misreadings_and_refuses_the_rest():
    assert snap("一、本年新收政府信息公开申请数呈") == (norm("一、本年新收政府信息公开申请数量"), 0.938)
    assert snap("总寺")[0] == "总计"
    assert snap("3其他")[0] == norm("3.其他")
    assert snap("其他") == ("其他", 1.0)
    assert snap("人") == (None, 0.0)                     # one character: no fuzzy match
    assert snap("本报告根据条例要求编制") == (None, 0.0)


# ---------------------------------------------------------------- reading the fixtures


@pytest.mark.slow
@pytest.mark.parametrize("name", FIXTURES)
def test_identity_is_read_from_the_title(name):
    result = score(name)
    report, truth = result["report"], result["truth"]
    assert report["year"] == truth["year"]
    assert report["agency"] == truth["agency"]


@pytest.mark.slow
@pytest.mark.parametrize("name", FIXTURES)
def test_cells_read_with_confidence_are_exact(name):
    """Numbers are never guessed: every cell at or above the threshold reads exactly."""
    wrong = [c for c in score(name)["cells"] if c["confidence"] >= THRESHOLD and not c["exact"]]
    assert wrong == []


@pytest.mark.slow
def test_cells_exact_across_fixtures():
    cells = [c for name in FIXTURES for c in score(name)["cells"]]
    exact = sum(c["exact"] for c in cells)
    assert len(cells) == 798
    assert exact / len(cells) >= 0.995, [c for c in cells if not c["exact"]][:20]   # measured 797/798
    flagged = sum(c["flagged"] for c in cells)
    assert flagged / len(cells) <= 0.08                                                # measured 5.5%
    assert all(c["flagged"] for c in cells if not c["exact"] and c["got"] is not None)


@pytest.mark.slow
def test_every_td_carries_its_provenance():
    result = scanned("county_2023")
    doc = lxml_html.fromstring(result["html"].encode())
    tds = [td for td in doc.findall(".//td") if td.get("data-ocr-filler") is None]
    assert len(tds) == len(result["cells"]) > 250
    for td in tds:
        assert 0.0 <= float(td.get("data-ocr-confidence")) <= 1.0
        assert int(td.get("data-page")) in (1, 2, 3)
        x0, y0, x1, y1 = (int(v) for v in td.get("data-box").split(","))
        assert 0 <= x0 < x1 <= 1654 and 0 <= y0 < y1 <= 2339
    assert doc.findtext(".//h1") == "青山县人民政府办公室2023年政府信息公开工作年度报告"
    flagged = [c for c in result["cells"] if c["low_confidence"]]
    assert all(c["confidence"] < THRESHOLD and c["kind"] != "blank" for c in flagged)
    blanks = [c for c in result["cells"] if c["kind"] == "blank"]
    assert blanks and all(c["text"] == "" and c["confidence"] == 1.0 for c in blanks)


# ---------------------------------------------------------------- cache


class Store:
    """A get/put cache, as the archive would back with a table."""

    def __init__(self) -> None:
        self.data: dict = {}

    def get(self, key):
        return self.data.get(key)

    def put(self, key, value):
        self.data[key] = json.loads(json.dumps(value))   # what a table would give back


@pytest.mark.slow
@pytest.mark.parametrize("cache_type", [dict, Store])
def test_second_read_with_the_cache_makes_no_tesseract_call(cache_type):
    engine, cache = Engine(), cache_type()
    data = (SCANS / "broken_text_2022.pdf").read_bytes()
    first = scan_pdf(data, 150, cache=cache, engine=engine)
    calls = engine.calls
    assert calls > 100
    again = scan_pdf(data, 150, cache=cache, engine=engine)
    assert engine.calls == calls
    assert again["html"] == first["html"]
    assert parse_report(again["html"])["requests"] == parse_report(first["html"])["requests"]
    other_dpi = scan_pdf(data, 200, cache=cache, engine=Engine())
    assert other_dpi["pages"][0]["dpi"] == 200      # a different render is a different key


@pytest.mark.slow
@pytest.mark.parametrize("degrees", [90, 180])
def test_a_page_scanned_sideways_or_upside_down_is_turned_upright(degrees):
    import io

    import pypdfium2 as pdfium

    page = pdfium.PdfDocument((SCANS / "county_2023.pdf").read_bytes())[0]
    image = page.render(scale=200 / 72, grayscale=True).to_pil().convert("L").rotate(degrees, expand=True)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    result = scan_images([buffer.getvalue()], 200)
    assert result["pages"][0]["size"] == [1654, 2339]          # upright again
    report = parse_report(result["html"])
    truth = json.loads((SCANS / "county_2023.truth.json").read_text(encoding="utf-8"))
    assert report["agency"] == truth["agency"] and report["year"] == truth["year"]
    assert [c["value"] for c in report["active"]] == [c["value"] for c in truth["active"]]
