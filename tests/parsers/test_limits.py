"""Parser limits (issue 15, point 6): deep nesting and byte-order-mark / charset mixes.

libxml2 stops building the tree at a fixed depth (256 by default, 2048 with huge_tree) and keeps
what it had, silently: every table after the 256th nested tag used to be lost. A page is read
whole at any depth now, and charset mixes are read with a warning, never an error inside the parser.
"""

from __future__ import annotations

import codecs
import random
import time
from functools import lru_cache

import pytest

from parsers import parse_report
from parsers.decode import decode_bytes
from parsers.nesting import flatten
from parsers.render import random_report, render_report
from tests.conftest import SHARED

STATUSES = {"parsed", "partial", "no_tables", "pre2019", "not_a_report"}


def cells(report: dict) -> list[tuple]:
    """Every cell of the three tables with its value and raw text, in order."""
    return [(key, c.get("row"), c.get("measure"), c.get("column"), c.get("procedure"), c.get("outcome"),
             c["value"], c["raw"]) for key in ("active", "requests", "appeals") for c in report[key]]


@lru_cache(maxsize=None)
def real(name: str) -> str:
    return (SHARED / "real" / name).read_bytes().decode("utf-8")


def generated() -> str:
    return render_report(random_report(random.Random(7), year=2023, agency="测试县人民政府办公室",
                                       edition="2021"), style="word")


def wrap(page: str, depth: int, kind: str) -> str:
    """The page's body wrapped in `depth` nested wrappers of one kind."""
    opening, closing = {
        "div": ("<div>" * depth, "</div>" * depth),
        "font": ("<font size='3'>" * depth, "</font>" * depth),
        "table": ("<table><tr><td>" * depth, "</td></tr></table>" * depth),
        "mixed": ("<div class='w'>\n<font>" * depth, "</font></div>" * depth),
    }[kind]
    start = page.find(">", page.find("<body")) + 1 if "<body" in page else 0
    end = page.rfind("</body>") if "</body>" in page else len(page)
    return page[:start] + opening + page[start:end] + closing + page[end:]


@pytest.mark.parametrize("name", ["pingtan_2021.html", "shuyang_fgj_2023.html"])
@pytest.mark.parametrize("depth", [300, 1000, 5000])
@pytest.mark.parametrize("kind", ["div", "table", "font"])
def test_deep_wrappers_keep_every_cell_and_warning(shared_dir, name, depth, kind):
    page = real(name)
    before = parse_report(page.encode("utf-8"))
    after = parse_report(wrap(page, depth, kind).encode("utf-8"))
    assert before["status"] == "parsed" and len(cells(before)) > 100
    assert cells(after) == cells(before)
    assert (after["status"], after["title"], after["agency"], after["year"], after["edition"]) == (
        before["status"], before["title"], before["agency"], before["year"], before["edition"])
    assert [c for c in after["checks"]] == [c for c in before["checks"]]
    # no warning lost; one added only when the page was deeper than libxml2 builds (2048)
    added = [w for w in after["warnings"] if w not in before["warnings"]]
    assert all(w in after["warnings"] for w in before["warnings"])
    if depth * (3 if kind == "table" else 1) < 2000:
        assert added == []
    else:
        assert len(added) == 1 and added[0].startswith("HTML nested deeper than 2048 elements")


def test_text_bearing_deep_nest_keeps_the_tables():
    """Wrappers with text between them (no wrapper run to collapse): the depth budget drops the
    deepest non-table tags, the report's table structure is kept."""
    page = generated()
    before = parse_report(page)
    after = parse_report(wrap(page, 5000, "mixed"))
    assert before["status"] == "parsed"
    assert cells(after) == cells(before)


@pytest.mark.parametrize("kind", ["div", "table"])
def test_pathological_nest_is_bounded(kind):
    page = wrap(generated(), 100_000, kind)
    start = time.process_time()
    report = parse_report(page.encode("utf-8"))
    assert time.process_time() - start < 30  # CPU seconds: ~0.3-0.7 s measured, generous for loaded CI
    assert report["status"] == "parsed"
    assert any(w.startswith("HTML nested deeper than 2048") for w in report["warnings"])


def test_unclosed_deep_nest_is_a_status_not_a_crash():
    page = "<html><body>" + "<div><span>x" * 100_000 + "<table><tr><td>规章</td><td>1</td></tr></table>"
    report = parse_report(page.encode("utf-8"))
    assert report["status"] in STATUSES
    assert not any(w.startswith("parser error") for w in report["warnings"])


def test_flatten_collapses_wrapper_runs_and_keeps_text():
    text = "<body>" + "<div>" * 100 + "<table><tr><td>规章</td></tr></table>" + "</div>" * 100 + "</body>"
    flat, dropped = flatten(text, budget=50)
    run = 1 + 100 + 3  # <body>, the divs, <table><tr><td>: one run of opening tags
    assert dropped == 2 * (run - 4 - 32)  # the run's middle (first 4 and last 32 kept), opening and closing tags
    assert "<table><tr><td>规章</td></tr></table>" in flat
    assert flat.count("<div>") == flat.count("</div>") == 100 - dropped // 2


# ------------------------------------------------------------------ encodings

def page_with(charset: str | None) -> str:
    page = real("shanghai_shifuban_2019.html")  # a fragment: no charset of its own
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">' if charset else ""
    return f"<html><head>{meta}<title>t</title></head><body>{page}</body></html>"


BASE = "base"
CASES = {
    # name: (bytes builder, a warning that must be there (substring) or None)
    "utf16le_bom_odd_length": (lambda p: codecs.BOM_UTF16_LE + p.encode("utf-16-le") + b"A", "UTF-16-LE"),
    "utf16be_bom_odd_length": (lambda p: codecs.BOM_UTF16_BE + p.encode("utf-16-be") + b"A", "UTF-16-BE"),
    "utf16le_bom_lone_surrogate": (
        lambda p: codecs.BOM_UTF16_LE + p[:40].encode("utf-16-le") + b"\x00\xd8" + p[40:].encode("utf-16-le"),
        "illegal UTF-16 surrogate"),
    "utf16be_bom_lone_surrogate": (
        lambda p: codecs.BOM_UTF16_BE + p[:40].encode("utf-16-be") + b"\xdc\x00" + p[40:].encode("utf-16-be"),
        "1 undecodable byte sequence"),
    "utf16le_bom_reversed_bom_inside": (
        lambda p: codecs.BOM_UTF16_LE + p[:40].encode("utf-16-le") + b"\xfe\xff" + p[40:].encode("utf-16-le"),
        "U+FFFE"),
    "utf16le_bom_utf8_fragment": (lambda p: codecs.BOM_UTF16_LE + p.encode("utf-16-le") + "尾".encode(), None),
    "utf8_bom_gbk_body": (lambda p: codecs.BOM_UTF8 + p.replace("utf-8", "gbk").encode("gbk"), "UTF-8 byte-order mark"),
    "utf32le_bom": (lambda p: codecs.BOM_UTF32_LE + p.encode("utf-32-le"), None),
    "utf32be_bom": (lambda p: codecs.BOM_UTF32_BE + p.encode("utf-32-be"), None),
    "utf32le_bom_stray": (lambda p: codecs.BOM_UTF32_LE + p.encode("utf-32-le") + b"xy", "UTF-32-LE"),
    "nul_bytes": (lambda p: p[:50].encode() + b"\x00" * 7 + p[50:].encode(), None),
    "meta_gbk_body_utf8": (lambda p: p.replace("utf-8", "gbk").encode("utf-8"), "valid UTF-8"),
    "meta_utf8_body_gbk": (lambda p: p.encode("gbk"), "does not decode"),
    "meta_utf16_body_utf8": (lambda p: p.replace("utf-8", "utf-16").encode("utf-8"), "valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_encoding_mixes_read_every_cell(shared_dir, case):
    build, warning = CASES[case]
    page = page_with("utf-8")
    expected = parse_report(page.encode("utf-8"))
    report = parse_report(build(page))
    assert expected["status"] == "parsed"
    assert report["status"] == "parsed", report["warnings"]
    assert cells(report) == cells(expected)
    assert not any(w.startswith(("parser error", "HTML not parsable")) for w in report["warnings"])
    if warning:
        assert any(warning in w for w in report["warnings"]), report["warnings"]


def test_noncharacters_in_utf8_do_not_fail_inside_the_parser(shared_dir):
    """U+FFFE/U+FFFF (what a stray reversed BOM decodes to) used to raise inside lxml."""
    page = page_with("utf-8")
    for ch in ("\ufffe", "\uffff"):
        for data in ((page[:60] + ch + page[60:]).encode("utf-8"), page[:60] + ch + page[60:]):
            report = parse_report(data)
            assert report["status"] == "parsed", report["warnings"]
            assert cells(report) == cells(parse_report(page))


def test_utf32_bom_beats_utf16_bom():
    text = "<p>规章</p>"
    assert decode_bytes(codecs.BOM_UTF32_LE + text.encode("utf-32-le"))[:2] == (text, "utf-32-le")
    # FF FE 00 00 that is a UTF-16-LE page starting with U+0000, not UTF-32
    assert decode_bytes(codecs.BOM_UTF16_LE + "\x00<p>规章 ok</p>".encode("utf-16-le"))[1] == "utf-16-le"


@pytest.mark.parametrize("name", ["utf-16-le", "utf-16-be"])
def test_utf16_stray_byte_mid_page_is_realigned(shared_dir, name):
    """One stray byte inside a UTF-16 page shifts every later code unit: the rest used to decode as
    CJK mojibake (status partial or worse). Realigned at the next markup, only a few characters of
    text around the stray byte are garbled."""
    page = page_with("utf-8")
    expected = parse_report(page.encode("utf-8"))
    bom = codecs.BOM_UTF16_LE if name == "utf-16-le" else codecs.BOM_UTF16_BE
    cut = page.index("<body>") + 6  # in markup before the report: no cell text lost
    for stray in (b"\x41", b"\x00\x01\x02"):
        report = parse_report(bom + page[:cut].encode(name) + stray + page[cut:].encode(name))
        assert report["status"] == "parsed", report["warnings"]
        assert cells(report) == cells(expected)
        assert any("realigned at byte" in w for w in report["warnings"]), report["warnings"]
