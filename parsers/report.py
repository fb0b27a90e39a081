"""parse_report: a report page (HTML bytes/text or plain text) → the canonical report dict.

Pure: no network, no database, no files. Never raises: bad input gives a status and warnings.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from lxml import etree

from nianbao.parsers import identity, metadata, nesting
from nianbao.parsers.checks import run_checks
from nianbao.parsers.decode import decode_bytes
from nianbao.parsers.grid import build_table
from nianbao.parsers.htmltext import chrome_scan, has_hidden_hint, html_lines, lowered_bytes
from nianbao.parsers.keys import (
    active_cells,
    appeal_outcomes,
    appeal_procedures,
    editions,
    request_columns,
    request_rows,
)
from nianbao.parsers.model import Cell, Table
from nianbao.parsers.sections import LINK_MARK, split_sections
from nianbao.parsers.tables import Found, edition_of, read_tables
from nianbao.parsers.template import cached
from nianbao.parsers.text_tables import split_text
from nianbao.parsers.values import KIND_COUNT, measure_kind, read_value

PARSER_VERSION = "1.0.0"

_HTML_SNIFF_RE = re.compile(r"<\s*(?:html|body|table|div|p|td|tr|span|h[1-6]|meta|head|br|font)\b", re.I)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
# C0 controls (lxml refuses them in text) and the private-use sentinels htmltext.py uses
# (and U+FFFE/U+FFFF, which libxml2 passes through but lxml refuses to set: a misaligned UTF-16 BOM)
_UNSAFE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ue000-\ue002\ufffe\uffff]")
_OLD_STATS_RE = re.compile(r"政府信息公开情况统计表|指标名称|依申请公开信息总数|主动公开文件数")
# plain etree (not lxml.html): its per-element class lookup cost more than the whole table reading.
# huge_tree: libxml2's default depth limit (256) silently dropped every table after a page's 256th
# nested tag; huge_tree raises it to 2048 at no measured cost (bench/parse.py --baseline), and pages
# deeper still are flattened and parsed again (parsers/nesting.py)
_PARSER = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True)
# one parser per thread: its error log (read after each parse, below) is the parser's, not the thread's
_LOCAL = threading.local()
_MAX_DEPTH = 2048  # libxml2's element depth limit under huge_tree (XML_PARSE_HUGE)
_DEPTH_BUDGET = 1500  # what a flattened page may still use, with room for the parser's implied elements


def _empty(source: str) -> dict[str, Any]:
    return {"source": source, "title": None, "agency": None, "year": None, "edition": None,
            "status": "not_a_report", "published": None, "parser_version": PARSER_VERSION,
            "identity": dict.fromkeys(("title", "agency", "year", "published")),
            "active": [], "requests": [], "appeals": [], "sections": [], "checks": [], "warnings": []}


def parse_report(data: bytes | str, source: str = "", hints: dict[str, Any] | None = None) -> dict[str, Any]:
    """The canonical report of ../shared/template/README.md (see docs/architecture.md).

    `hints` (optional): what the registry knows of the column, the weakest evidence —
    `agency` (used only when nothing on the page names the body) and `region` (the portal's,
    e.g. "广东省深圳市龙岗区": agency names are spelled relative to it, see
    `metadata.normalize_agency`).
    """
    report = _empty(source)
    try:
        _parse(data, report, hints)
    except Exception as error:  # noqa: BLE001 - the contract: never raise on any input
        report["status"] = "partial" if report.get("title") else "not_a_report"
        report["warnings"].append(f"parser error: {type(error).__name__}: {error}")
    return report


def _parse(data: bytes | str, report: dict[str, Any], hints: dict[str, Any] | None = None) -> None:
    warnings: list[str] = report["warnings"]
    utf8: bytes | None = None  # the page as UTF-8 bytes when we already have them (no re-encode)
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        text, encoding, notes = decode_bytes(data)
        warnings.extend(notes)
        if encoding == "utf-8" and not data.startswith(b"\xef\xbb\xbf"):
            utf8 = data
    elif isinstance(data, str):
        text = data
    else:
        warnings.append(f"input is {type(data).__name__}, not bytes or str")
        return
    if "\x00" in text:
        text, utf8 = text.replace("\x00", ""), None
    if not text.strip():
        warnings.append("empty input")
        return
    if _HTML_SNIFF_RE.search(text[:200000]):
        try:
            lines, tables, evidence = _from_html(text, warnings, utf8)
        except ValueError:  # control characters in the page's text: lxml refuses to edit such nodes
            lines, tables, evidence = _from_html(_UNSAFE_RE.sub("", text), warnings, None)
    else:
        plain, tables = split_text(text)
        lines = [(line, False) for line in plain]
        evidence = identity.PageEvidence()
    _assemble(report, lines, tables, evidence, hints)


def _from_html(text: str, warnings: list[str], utf8: bytes | None
               ) -> tuple[list[tuple[str, bool]], list[Table], identity.PageEvidence]:
    if utf8 is not None and not utf8[:200].lstrip()[:5].lower().startswith(b"<?xml"):
        encoded = utf8
    else:
        encoded = _XML_DECL_RE.sub("", text, count=1).encode("utf-8", "replace")
    try:
        root = _parse_tree(encoded, warnings)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as error:
        warnings.append(f"HTML not parsable: {error}")
        return [], [], identity.PageEvidence()
    if root is None:
        warnings.append("HTML without content")
        return [], [], identity.PageEvidence()
    # leaf tables only: a layout table wrapping the report tables is not itself a report table
    leaves = {i: el for i, el in enumerate(root.iter("table")) if next(el.iterdescendants("table"), None) is None}
    tables = [build_table(el, i) for i, el in leaves.items()]
    lowered = lowered_bytes(text, utf8)
    nav, titled = chrome_scan(root, leaves)
    evidence = page_evidence(root, nav, titled)
    lines = html_lines(root, leaves, has_hidden=has_hidden_hint(text, utf8, lowered), nav=nav)
    return lines, tables, evidence


def _stopped(parser: etree.HTMLParser) -> str | None:
    """The fatal error that ended the last parse early (the tree then holds only what came before)."""
    error = parser.error_log.last_error
    return error.message if error is not None and error.level == etree.ErrorLevels.FATAL else None


def _html_parser() -> etree.HTMLParser:
    if threading.current_thread() is threading.main_thread():
        return _PARSER
    parser = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = _PARSER.copy()
    return parser


def _parse_tree(encoded: bytes, warnings: list[str]) -> etree._Element | None:
    """The page's tree; a page nested deeper than libxml2 builds is flattened and parsed again, and
    a parse that still stopped early says so (libxml2 keeps the partial tree without raising)."""
    parser = _html_parser()
    root = etree.fromstring(encoded, parser=parser)
    stopped = _stopped(parser)
    if stopped and "depth" in stopped.lower():
        flat, dropped = nesting.flatten(encoded.decode("utf-8", "replace"), _DEPTH_BUDGET)
        warnings.append(f"HTML nested deeper than {_MAX_DEPTH} elements: {dropped} wrapper tags dropped "
                        "before parsing")
        root = etree.fromstring(flat.encode("utf-8"), parser=parser)
        stopped = _stopped(parser)
    if stopped:
        warnings.append(f"HTML parser stopped early, the rest of the page is not read: {stopped}")
    return root


def page_evidence(root: etree._Element, nav: list[etree._Element], titled: list[etree._Element]
                  ) -> identity.PageEvidence:
    """<title>, the CMS's meta tags and the page's headings (h1–h3, title-class elements) that sit
    outside the page chrome and are not link text (a related-link list's items are not titles)."""
    # iterdescendants(tag) is find(".//tag") without ElementPath's Python-level path parsing
    title_el = next(root.iterdescendants("title"), None)
    page_title = "".join(title_el.itertext()).strip() if title_el is not None else None
    metas: dict[str, str] = {}
    for meta in root.iter("meta"):
        key = (meta.get("name") or meta.get("property") or "").strip().lower()
        if key in identity.META_KEYS and key not in metas:
            content = " ".join((meta.get("content") or "").split())
            if content:
                metas[key] = content
    chrome = set(nav)
    headings = []
    # document order (a title-class div before an h3 of the body), by source line: cheap and stable
    for element in sorted([*root.iter("h1", "h2", "h3"), *titled], key=lambda e: e.sourceline or 0):
        if element in chrome or any(parent in chrome or parent.tag == "a" for parent in element.iterancestors()):
            continue
        if next(element.iterdescendants("h1", "h2", "h3", "h4", "h5", "h6"), None) is not None:
            continue  # an unclosed heading swallowing the next ones: those are read by themselves
        text = " ".join(etree.tostring(element, method="text", encoding="unicode").split())
        if not text or len(text) > 120:
            continue
        linked = "".join("".join(a.itertext()) for a in element.iter("a"))
        if linked and len(linked.strip()) * 2 >= len(text.replace(" ", "")):
            continue
        headings.append(text)
    return identity.PageEvidence(page_title=page_title, metas=metas, headings=headings)


def _assemble(report: dict[str, Any], lines: list[tuple[str, bool]], tables: list[Table],
              evidence: identity.PageEvidence, hints: dict[str, Any] | None = None) -> None:
    warnings = report["warnings"]
    plain = [LINK_MARK if linked else line for line, linked in lines]
    sections, first_heading, end = split_sections(plain)
    report["sections"] = sections

    found = read_tables(tables)
    warnings.extend(found.warnings)

    head = [line for line in plain[: first_heading if first_heading is not None else 120]
            if not line.startswith("\x00")]
    first_report_table = min((c.table for c in _all_cells(found)), default=None)
    for table in found.other_tables:
        if first_report_table is None or table.index < first_report_table:
            head.extend(" ".join(c.text for c in row if c.text) for row in table.rows)
    tail = [line for line in plain[:end] if not line.startswith("\x00")]

    facts = identity.decide(lines, plain, head, tail, evidence, hints)
    title, year = facts.title, facts.year
    if facts.kind == "news" and found.kinds and facts.report_titles:
        # a notice carrying the whole report (its own title line and the tables): the report
        title, facts.kind = facts.report_titles[0], "report"
        facts.sources["title"] = "text"
    report.update(title=title, agency=facts.agency, year=year, published=facts.published,
                  identity=facts.sources)
    warnings.extend(facts.warnings)

    if facts.kind == "interpretation":
        report["status"] = "not_a_report"
        warnings.append("an interpretation (解读) page, not the report itself")
        return
    if facts.kind == "news":
        report["status"] = "not_a_report"
        warnings.append("a news item or notice about the report, not the report itself")
        return
    if not found.kinds:
        old_stats = any(_OLD_STATS_RE.search(" ".join(c.text for c in row)) for t in tables for row in t.rows)
        report_title = bool(title) and metadata.is_report_title(title)
        if report_title and ((year is not None and year <= 2018) or old_stats):
            report["status"] = "pre2019"
            report["edition"] = "pre2019"
        elif report_title:
            report["status"] = "no_tables"
            warnings.append("report text without the template tables (image or attachment only?)")
        elif len(sections) >= 3:
            report["status"] = "no_tables"
            warnings.append("report sections without a report title or the template tables")
        else:
            report["status"] = "not_a_report"
            if not title:
                report["published"] = None  # a list or other page: its dates are not a report's
                report["identity"]["published"] = None
        return

    edition = edition_of(found)
    if edition is None:
        warnings.append("template edition not recognisable from the tables")
        report["status"] = "partial"
        if found.appeals:  # table 4 is the same in both editions
            report["appeals"] = _appeal_cells(found, warnings)
            report["checks"] = run_checks(report)
        return
    report["edition"] = edition
    report["active"] = _active_cells(found, edition, warnings)
    report["requests"] = _request_cells(found, edition, warnings)
    report["appeals"] = _appeal_cells(found, warnings)
    complete = [name for name in ("active", "requests", "appeals")
                if sum(1 for c in report[name] if c["position"] is not None) * 2 >= len(report[name])]
    report["status"] = "parsed" if len(complete) == 3 else "partial"
    if len(complete) < 3:
        missing = sorted({"active", "requests", "appeals"} - set(complete))
        warnings.append(f"table(s) not found or mostly unreadable: {', '.join(missing)}")
    if year is not None and year <= 2018:
        warnings.append(f"report year {year} predates the 2019 template, yet template tables were found")
    report["checks"] = run_checks(report)


def _all_cells(found: Found) -> list[Cell]:
    return [*found.active.values(), *found.requests.values(), *found.appeals.values()]


def _cells_out(k1: str, k2: str, keys: tuple[tuple[str, str], ...], cells: dict[tuple[str, str], Cell],
               warnings: list[str], kinds: dict[str, str] | None = None,
               units: dict[tuple[str, str], str | None] | None = None) -> list[dict[str, Any]]:
    """The output cells of one table, keyed (k1: v1, k2: v2) for each (v1, v2) of `keys`, in order.

    One loop building dict literals (~230 cells a report): a call per cell cost a tenth of the parse.
    `kinds` maps v2 to its value kind (default count); `units` gives header units by key.
    """
    out = []
    for key in keys:
        v1, v2 = key
        cell = cells.get(key)
        if cell is None:
            out.append({k1: v1, k2: v2, "value": None, "raw": None, "position": None})
            continue
        text = cell.text
        reading = read_value(text, kinds[v2] if kinds else KIND_COUNT, units.get(key) if units else None)
        item = {k1: v1, k2: v2, "value": reading.value, "raw": text,
                "position": cell.position()}
        if reading.reading:
            item["reading"] = reading.reading
        if cell.ocr is not None:  # a scan's cell: method, confidence, page, box (parsers/grid.py)
            item.update(cell.ocr)
        if reading.warning:
            warnings.append(f"{v1}/{v2}: {reading.warning}")
        out.append(item)
    return out


def _active_cells(found: Found, edition: str, warnings: list[str]) -> list[dict[str, Any]]:
    wanted = active_cells(edition)
    extra = sorted(set(found.active) - set(wanted))
    if extra:
        warnings.append("table 2 cells outside the edition ignored: " + ", ".join(f"{r}/{m}" for r, m in extra))
    kinds = {measure: measure_kind(measure) for _, measure in wanted}
    out = _cells_out("row", "measure", wanted, found.active, warnings, kinds, found.active_units)
    missing = [f"{r}/{m}" for (r, m), c in zip(wanted, out) if c["position"] is None]
    if missing and len(missing) < len(wanted):
        warnings.append("table 2 cells not found: " + ", ".join(missing))
    return out


@cached
def _request_keys(edition: str) -> tuple[tuple[str, str], ...]:
    return tuple((r, c) for r in request_rows(edition) for c in request_columns())


@lru_cache(maxsize=1)
def _appeal_keys() -> tuple[tuple[str, str], ...]:
    return tuple((p, o) for p in appeal_procedures() for o in appeal_outcomes())


def _request_cells(found: Found, edition: str, warnings: list[str]) -> list[dict[str, Any]]:
    rows, columns = request_rows(edition), request_columns()
    extra = sorted({r for r, _ in found.requests} - set(rows))
    # hybrid editions: rows of another edition (a 2021 table printing 其他处理 as one row) are kept
    # as printed, before 总计; the edition's own rows there stay null (position null: rules skip them)
    others = dict.fromkeys(r for other in editions() if other != edition for r in request_rows(other))
    hybrid = [r for r in others if r in extra]
    if hybrid:
        warnings.append(f"table 3 prints row(s) {', '.join(hybrid)} of the other edition: kept as printed")
    if len(hybrid) < len(extra):
        warnings.append("table 3 rows outside the edition ignored: " + ", ".join(r for r in extra if r not in hybrid))
    keys = _request_keys(edition)
    if hybrid:
        at = rows.index("total") * len(columns)
        keys = keys[:at] + tuple((r, c) for r in hybrid for c in columns) + keys[at:]
    out = _cells_out("row", "column", keys, found.requests, warnings)
    missing_rows = [r for r in rows if all((r, c) not in found.requests for c in columns)]
    if missing_rows and len(missing_rows) < len(rows):
        warnings.append("table 3 rows not found: " + ", ".join(missing_rows))
    return out


def _appeal_cells(found: Found, warnings: list[str]) -> list[dict[str, Any]]:
    return _cells_out("procedure", "outcome", _appeal_keys(), found.appeals, warnings)
