"""Hypothesis tests with bench/fuzz.py's mutation classes (issue 15, point 6), bounded and derandomized.

Any mutation of a real page or a generated report: parse_report and parse_document never raise, the
status is a documented one, every value is an int, a float or None. Mutations that change nothing a
reader sees — a deep wrapper, the page re-encoded with a right declaration (or BOM), whitespace and
full-width digits in cells — leave every cell as the unmutated page's.
"""

from __future__ import annotations

import codecs
import importlib.util
import math
import random
import re
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nianbao.parsers import parse_report
from nianbao.parsers.document import parse_document
from nianbao.parsers.render import HTML_STYLES, STYLES, random_report, render_report
from tests.conftest import REPO, SHARED

_spec = importlib.util.spec_from_file_location("bench_fuzz", REPO / "bench" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)

# derandomize: the same examples on every run (no example database), so the suite is deterministic
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
REAL = ("pingtan_2021.html", "pingtan_2024.html", "shanghai_shifuban_2019.html", "shuyang_fgj_2023.html")


@cache
def real(name: str) -> bytes:
    return (SHARED / "real" / name).read_bytes()


@cache
def generated(seed: int, style: str) -> bytes:
    report = random_report(random.Random(seed), year=2022, agency="测试市统计局", edition="2021", blank_rate=0.2)
    return render_report(report, style=style).encode("utf-8")


def cells(report: dict, raw: bool = True) -> list[tuple]:
    return [(key, c.get("row"), c.get("measure"), c.get("column"), c.get("procedure"), c.get("outcome"),
             c["value"], c["raw"] if raw else None) for key in ("active", "requests", "appeals") for c in report[key]]


def assert_contract(report: dict) -> None:
    assert report["status"] in fuzz.STATUSES
    assert not any(w.startswith(("parser error", "document error")) for w in report["warnings"]), report["warnings"]
    for key in ("active", "requests", "appeals"):
        for cell in report[key]:
            value = cell["value"]
            assert value is None or type(value) is int or (type(value) is float and math.isfinite(value)), cell


_bases = st.one_of(st.sampled_from(REAL).map(real),
                   st.tuples(st.integers(0, 50), st.sampled_from(STYLES)).map(lambda a: generated(*a)))


@SETTINGS
@given(_bases, st.sampled_from(fuzz.TEXT_CLASSES), st.integers(0, 2**32), st.booleans())
def test_any_mutation_of_a_page_is_read_without_error(base, cls, seed, through_document):
    if cls == "deep_nest":
        seed = seed | 1  # the 1% of 100,000-deep nests belongs to bench/fuzz.py, not the suite
    data = fuzz.TEXT_MUTATIONS[cls](random.Random(seed), base)
    assert_contract(parse_document(data) if through_document else parse_report(data))


@settings(SETTINGS, max_examples=12)
@given(st.sampled_from(["docx", "xlsx", "ofd", "pdf"]), st.integers(0, 2**32))
def test_damaged_documents_are_a_status(kind, seed):
    path = {"docx": "formats/shuyang_fgj_2023.docx", "xlsx": "formats/shuyang_fgj_2023.xlsx",
            "ofd": "formats/shuyang_fgj_2023.ofd", "pdf": "layout/pdf_cut_row.pdf"}[kind]
    base = (REPO / "tests" / "fixtures" / path).read_bytes()
    rng = random.Random(seed)
    cls = rng.choice(fuzz.DOC_CLASSES[kind])
    assert_contract(parse_document(fuzz.DOC_MUTATIONS[cls](rng, base), filename=f"report.{kind}"))


def _wrap(page: str, depth: int, kind: str) -> str:
    opening, closing = {"div": ("<div>" * depth, "</div>" * depth),
                        "font": ("<font color=red>" * depth, "</font>" * depth),
                        "table": ("<table><tr><td>" * depth, "</td></tr></table>" * depth)}[kind]
    body = re.search(r"<body[^>]*>", page, re.I)
    end = page.lower().rfind("</body>")
    if body and end > body.end():
        return page[: body.end()] + opening + page[body.end(): end] + closing + page[end:]
    return opening + page + closing


_CHARSET_RE = re.compile(r"<meta[^>]*charset[^>]*>", re.I)


def _redeclared(page: str, target: str) -> bytes:
    """The page in `target`, its declaration telling the truth (a BOM for the UTF-16/32 forms)."""
    if target in ("gbk", "gb18030"):
        meta = f'<meta http-equiv="Content-Type" content="text/html; charset={target}">'
        return (meta + _CHARSET_RE.sub("", page)).encode(target)
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-32-le": codecs.BOM_UTF32_LE,
           "utf-32-be": codecs.BOM_UTF32_BE, "utf-8": codecs.BOM_UTF8}[target]
    return bom + _CHARSET_RE.sub("", page).encode(target)


_FULL = str.maketrans("0123456789", "０１２３４５６７８９")
_CELL_RE = re.compile(r"(<t[dh]\b[^>]*>)(.*?)(</t[dh]>)", re.S | re.I)
_PADS = [" ", "\n", "&nbsp;", "\u3000", "\t", "&#160;", " \n "]


def _respaced(page: str, rng: random.Random, fullwidth: bool) -> str:
    def edit(m: re.Match) -> str:
        inner = m.group(2).translate(_FULL) if fullwidth else m.group(2)
        return m.group(1) + rng.choice(_PADS) + inner + rng.choice(_PADS) + m.group(3)

    return _CELL_RE.sub(edit, page)


_html_bases = st.one_of(st.sampled_from(REAL).map(real),
                        st.tuples(st.integers(0, 50), st.sampled_from(HTML_STYLES)).map(lambda a: generated(*a)))
HARMLESS = ["wrap", "gbk", "gb18030", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-8", "whitespace",
            "fullwidth"]


@pytest.mark.parametrize("kind", HARMLESS)  # each class covered on every run
@settings(SETTINGS, max_examples=5)
@given(_html_bases, st.sampled_from([300, 1000, 3000]), st.sampled_from(["div", "font", "table"]),
       st.integers(0, 2**32))
def test_harmless_changes_keep_every_cell(kind, base, depth, wrapper, seed):
    page = base.decode("utf-8")
    before = parse_report(base)
    if kind == "wrap":
        data: bytes | str = _wrap(page, depth, wrapper)
    elif kind in ("whitespace", "fullwidth"):
        data = _respaced(page, random.Random(seed), kind == "fullwidth")
    else:
        data = _redeclared(page, kind)
    after = parse_report(data)
    assert_contract(after)
    assert after["status"] == before["status"]
    # padding and full-width digits change the raw text, not the number read
    raw = kind not in ("whitespace", "fullwidth")
    assert cells(after, raw) == cells(before, raw)
