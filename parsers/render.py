"""Render a canonical report dict as a report page in the national template, and make random ones.

Why: fixture portals, benchmark archives and the parser's round-trip property test all need
realistic report pages whose every number is known. `render_report` draws table 2 (主动公开),
table 3 (rowspan=22/20 block label, merged 法人或其他组织 header) and table 4 (two-level header)
the way real portals print them; `random_report` makes a report whose numbers are random but
consistent (balance, outcomes_sum, row_total and appeals_total all hold).

Styles: ``plain`` (clean tables), ``word`` (Word export: MsoNormalTable, <o:p>, one <span> per
label character, <font>), ``ueditor`` (labels split across <p>, values padded with newlines and
&nbsp;), ``fragment`` (a bare content fragment: no <html> wrapper, no charset, like a portal
front end serves it), ``text`` (the plain-text rendering of ../shared/seeds: markdown headings,
tab-separated table rows with colspans padded by empty cells and rowspan-covered positions left
empty, so rows shift like the seeds' do).

Why one module of ~450 lines: it does two jobs that are always used together. `random_report` makes the
numbers and `render_report` prints them, and some 25 callers (fixture portals, the demo, benchmarks, tests,
fixture generators) import both from here. Moving `random_report` into a module of its own would be a clean
split, but it would touch every one of those callers, bench/build.py among them, while that file is being
rewritten.
"""

from __future__ import annotations

import html
import random
from typing import Any

from nianbao.parsers.keys import (
    active_cells,
    appeal_outcomes,
    appeal_procedures,
    applicant_columns,
    request_columns,
    request_rows,
    result_rows,
    section_titles,
    template_keys,
)
from nianbao.parsers.template import edition as edition_data
from nianbao.parsers.template import editions, group_label

STYLES = ("plain", "word", "ueditor", "fragment", "text")
HTML_STYLES = STYLES[:-1]
CN_NUMERALS = "零一二三四五六七八九十"

_SENTENCES = [
    "坚持以公开为常态、不公开为例外，持续深化政务公开。",
    "规范做好政府信息公开申请的登记、审查、办理、答复和归档工作。",
    "严格落实信息发布保密审查制度，确保信息准确、安全。",
    "加强政府网站和政务新媒体建设，及时更新各类政府信息。",
    "将政务公开工作纳入绩效考核体系，强化监督保障。",
    "部分信息更新不够及时，政策解读形式较为单一。",
    "下一步将进一步完善工作机制，提升公开质量和实效。",
    "本年度未收取政府信息公开信息处理费。",
    "主动接受社会监督，对发现的问题及时整改。",
]


# ---------------------------------------------------------------- random reports


def _random_count(rng: random.Random, big: bool = False) -> int:
    roll = rng.random()
    if roll < 0.5:
        return 0
    if roll < 0.85 or not big:
        return rng.randint(1, 40)
    return rng.randint(41, 30000)


def _active(rng: random.Random, edition: str) -> list[dict[str, Any]]:
    out = []
    for row, measure in active_cells(edition):
        if measure == "amount_10k_yuan":
            value = round(rng.uniform(0, 30000), rng.choice([0, 2, 4, 6])) if rng.random() < 0.6 else 0.0
            raw = _fmt_decimal(value)
            out.append({"row": row, "measure": measure, "value": float(raw), "raw": raw})
            continue
        if measure == "amount_yuan":
            if rng.random() < 0.5:
                value = round(rng.uniform(0, 9e7), 2)
                raw = _fmt_decimal(value) + "元"
                out.append({"row": row, "measure": measure, "value": float(_fmt_decimal(value)), "raw": raw})
            else:
                wan = round(rng.uniform(0, 9000), 2)
                raw = _fmt_decimal(wan) + "万元"
                from decimal import Decimal

                out.append({"row": row, "measure": measure,
                            "value": float(Decimal(_fmt_decimal(wan)) * 10000), "raw": raw})
            continue
        if measure == "items_change":
            value = rng.randint(-60, 60) if rng.random() < 0.5 else 0
        else:
            value = _random_count(rng, big=True)
        out.append({"row": row, "measure": measure, "value": value, "raw": str(value)})
    return out


def _fmt_decimal(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _requests(rng: random.Random, edition: str, blank_rate: float) -> list[dict[str, Any]]:
    results = result_rows(edition)
    grid: dict[str, dict[str, int]] = {row: {} for row in request_rows(edition)}
    active_columns = [c for c in applicant_columns() if c == "natural_person" or rng.random() < 0.4]
    for column in applicant_columns():
        if column not in active_columns:
            for row in grid:
                grid[row][column] = 0
            continue
        for row in results:
            grid[row][column] = _random_count(rng) if rng.random() < 0.5 else 0
        total = sum(grid[row][column] for row in results)
        forward = rng.randint(0, 5) if rng.random() < 0.3 else 0
        carried_over = rng.randint(0, total + forward) if rng.random() < 0.3 else 0
        grid["total"][column] = total
        grid["carried_forward"][column] = forward
        grid["carried_over"][column] = carried_over
        grid["new_received"][column] = total + forward - carried_over
    for row in grid:
        grid[row]["total"] = sum(grid[row][c] for c in applicant_columns())
    out = []
    for row in request_rows(edition):
        for column in request_columns():
            value = grid[row][column]
            if value == 0 and column != "total" and rng.random() < blank_rate:
                out.append({"row": row, "column": column, "value": None, "raw": ""})
            else:
                out.append({"row": row, "column": column, "value": value, "raw": str(value)})
    return out


def _appeals(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for procedure in appeal_procedures():
        parts = {o: (rng.randint(0, 12) if rng.random() < 0.3 else 0) for o in appeal_outcomes() if o != "total"}
        parts["total"] = sum(parts.values())
        for outcome in appeal_outcomes():
            out.append({"procedure": procedure, "outcome": outcome,
                        "value": parts[outcome], "raw": str(parts[outcome])})
    return out


def random_report(
    rng: random.Random,
    *,
    year: int = 2023,
    agency: str = "某某县人民政府办公室",
    edition: str = "2021",
    blank_rate: float = 0.0,
) -> dict[str, Any]:
    """A consistent canonical report with random numbers (all four in-report rules hold).

    `blank_rate` leaves that share of zero applicant cells blank (value None, raw ""), which
    the rules read as 0, so they still hold.
    """
    if edition not in editions():
        raise ValueError(f"edition must be one of {', '.join(editions())}, not {edition!r}")
    sections = []
    for number, heading in section_titles().items():
        if number in (2, 3, 4):
            text = ""
        else:
            text = "\n".join(rng.choice(_SENTENCES) for _ in range(rng.randint(1, 3)))
        sections.append({"number": number, "heading": heading, "text": text})
    month, day = rng.randint(1, 3), rng.randint(1, 28)
    return {
        "source": "",
        "title": f"{agency}{year}年政府信息公开工作年度报告",
        "agency": agency,
        "year": year,
        "edition": edition,
        "status": "parsed",
        "published": f"{year + 1}-{month:02d}-{day:02d}",
        "active": _active(rng, edition),
        "requests": _requests(rng, edition, blank_rate),
        "appeals": _appeals(rng),
        "sections": sections,
        "checks": [],
        "warnings": [],
    }


# ---------------------------------------------------------------- rendering


class _Style:
    """How one style prints a label cell and a value cell."""

    def __init__(self, name: str) -> None:
        if name not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, not {name!r}")
        self.name = name

    def table_open(self) -> str:
        if self.name == "word":
            return ('<table class="MsoNormalTable" border="1" cellspacing="0" cellpadding="0" '
                    'style="border-collapse:collapse;border:none;mso-border-alt:solid windowtext .5pt">')
        if self.name == "ueditor":
            return '<table width="100%" border="1" style="border-collapse:collapse;"><tbody>'
        return '<table border="1" cellspacing="0" cellpadding="0"><tbody>'

    def table_close(self) -> str:
        return "</table>" if self.name == "word" else "</tbody></table>"

    def tr(self, cells: list[str]) -> str:
        if self.name == "word":
            return '<tr style="mso-yfti-irow:1">' + "".join(cells) + "</tr>\n"
        return "<tr>" + "".join(cells) + "</tr>\n"

    def _attrs(self, rowspan: int, colspan: int) -> str:
        attrs = ""
        if rowspan > 1:
            attrs += f' rowspan="{rowspan}"'
        if colspan > 1:
            attrs += f' colspan="{colspan}"'
        return attrs

    def label(self, text: str, rowspan: int = 1, colspan: int = 1) -> str:
        attrs = self._attrs(rowspan, colspan)
        esc = html.escape(text)
        if self.name == "word":
            spans = "".join(
                f'<span style="font-size:10.5pt;font-family:仿宋_GB2312">{html.escape(ch)}</span>'
                if i % 3 else f'<font face="仿宋">{html.escape(ch)}</font>'
                for i, ch in enumerate(text)
            )
            return (f'<td{attrs} valign="center" style="border:solid windowtext 1.0pt">'
                    f'<p class="MsoNormal" align="center" style="text-align:center">{spans}'
                    f'<span lang="EN-US"><o:p></o:p></span></p></td>')
        if self.name == "ueditor" and len(text) > 3:
            cut = len(text) // 2
            return (f'<td{attrs} style="word-break: break-all;"><p style="text-align:center">'
                    f'{html.escape(text[:cut])}</p><p style="text-align:center"><span>'
                    f'{html.escape(text[cut:])}</span></p></td>')
        return f"<td{attrs}>{esc}</td>"

    def value(self, raw: str | None, rowspan: int = 1, colspan: int = 1) -> str:
        attrs = self._attrs(rowspan, colspan)
        raw = raw or ""
        esc = html.escape(raw)
        if self.name == "word":
            inner = esc if raw else "&nbsp;"
            return (f'<td{attrs} valign="center" style="border:solid windowtext 1.0pt">'
                    f'<p class="MsoNormal" align="center"><span lang="EN-US" '
                    f'style="font-size:10.5pt;font-family:仿宋_GB2312">{inner}<o:p></o:p></span></p></td>')
        if self.name == "ueditor":
            return f'<td{attrs} style="word-break: break-all;">\n&nbsp;&nbsp;{esc}&nbsp;\n</td>'
        return f"<td{attrs}>{esc if raw else '&nbsp;'}</td>"

    def paragraph(self, text: str) -> str:
        if self.name == "word":
            return f'<p class="MsoNormal" style="text-indent:32pt"><span>{html.escape(text)}</span></p>\n'
        return f"<p>{html.escape(text)}</p>\n"

    def heading(self, text: str) -> str:
        if self.name == "word":
            return f'<p class="MsoNormal"><b><span>{html.escape(text)}</span></b></p>\n'
        if self.name == "ueditor":
            return f'<p style="text-indent:2em"><strong>{html.escape(text)}</strong></p>\n'
        return f"<h3>{html.escape(text)}</h3>\n"


def _raw_map(cells: list[dict[str, Any]], a: str, b: str) -> dict[tuple[str, str], str]:
    out = {}
    for cell in cells or []:
        raw = cell.get("raw")
        if raw is None:
            value = cell.get("value")
            raw = "" if value is None else (_fmt_decimal(value) if isinstance(value, float) else str(value))
        out[(cell[a], cell[b])] = raw
    return out


def _table2(report: dict[str, Any], edition: str, st: _Style) -> str:
    keys = template_keys()["active"][edition]
    labels, measures = keys["rows"], keys["measures"]
    raws = _raw_map(report.get("active", []), "row", "measure")
    width = 1 + max(len(block["measures"]) for block in edition_data(edition)["active"]["blocks"])
    blocks = [(b["caption"], b["measures"], b["rows"]) for b in edition_data(edition)["active"]["blocks"]]
    parts = [st.table_open()]
    for caption, block_measures, rows in blocks:
        parts.append(st.tr([st.label(caption, colspan=width)]))
        spans = _spans(len(block_measures), width - 1)
        parts.append(st.tr([st.label("信息内容")] + [
            st.label(measures[m], colspan=s) for m, s in zip(block_measures, spans)]))
        for row in rows:
            parts.append(st.tr([st.label(labels[row])] + [
                st.value(raws.get((row, m), ""), colspan=s) for m, s in zip(block_measures, spans)]))
    parts.append(st.table_close())
    return "".join(parts)


def _spans(count: int, width: int) -> list[int]:
    """Column spans giving `count` logical cells over `width` grid columns (last one widest)."""
    spans = [1] * count
    spans[-1] += width - count
    return spans


def _table3(report: dict[str, Any], edition: str, st: _Style) -> str:
    keys = template_keys()["requests"]
    row_labels, col_labels = keys["rows"], keys["columns"]
    raws = _raw_map(report.get("requests", []), "row", "column")
    results = result_rows(edition)
    columns = request_columns()

    def values(row: str) -> list[str]:
        return [st.value(raws.get((row, c), "")) for c in columns]

    parts = [st.table_open()]
    parts.append(st.tr([
        st.label("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", rowspan=3, colspan=3),
        st.label("申请人情况", colspan=7),
    ]))
    parts.append(st.tr([st.label(col_labels["natural_person"], rowspan=2), st.label("法人或其他组织", colspan=5),
                        st.label(col_labels["total"], rowspan=2)]))
    parts.append(st.tr([st.label(col_labels[c]) for c in applicant_columns()[1:]]))
    for row in ("new_received", "carried_over"):
        parts.append(st.tr([st.label(row_labels[row], colspan=3)] + values(row)))
    block = keys["groups"][results[0]]  # 三、本年度办理结果, the block the result rows sit in
    group_of = {row: group_label(row, keys["groups"]) for row in results}
    group_sizes: dict[str, int] = {}
    for group in group_of.values():
        if group and group != block:
            group_sizes[group] = group_sizes.get(group, 0) + 1
    seen_groups: set[str] = set()
    for index, row in enumerate(results):
        cells = []
        if index == 0:
            cells.append(st.label(block, rowspan=len(results) + 1))  # 22 / 20: 总计 is inside the block
        group = group_of[row]
        leaf = row_labels[row]
        if group in (None, block):  # a row of its own under the block: （一）予以公开, 2019's （六）其他处理
            cells.append(st.label(leaf, colspan=2))
        else:
            if group not in seen_groups:
                seen_groups.add(group)
                cells.append(st.label(group, rowspan=group_sizes[group]))
            cells.append(st.label(leaf))
        parts.append(st.tr(cells + values(row)))
    parts.append(st.tr([st.label(row_labels["total"], colspan=2)] + values("total")))
    parts.append(st.tr([st.label(row_labels["carried_forward"], colspan=3)] + values("carried_forward")))
    parts.append(st.table_close())
    return "".join(parts)


def _table4(report: dict[str, Any], st: _Style) -> str:
    outcome_labels = template_keys()["appeals"]["outcomes"]
    raws = _raw_map(report.get("appeals", []), "procedure", "outcome")
    outcomes = appeal_outcomes()
    # "行政诉讼·未经复议直接起诉": a procedure label with a "·" prints under a two-level header
    heads: dict[str, list[str]] = {}
    for label in template_keys()["appeals"]["procedures"].values():
        top, _, sub = label.partition("·")
        heads.setdefault(top, []).append(sub)
    second: list[str] = []
    for subs in heads.values():
        second += ([st.label(outcome_labels[o], rowspan=2) for o in outcomes] if subs == [""]
                   else [st.label(sub, colspan=len(outcomes)) for sub in subs])
    parts = [st.table_open()]
    parts.append(st.tr([st.label(top, colspan=len(outcomes) * len(subs)) for top, subs in heads.items()]))
    parts.append(st.tr(second))
    parts.append(st.tr([st.label(outcome_labels[o]) for o in outcomes]
                       * sum(len(subs) for subs in heads.values() if subs != [""])))
    parts.append(st.tr([st.value(raws.get((p, o), "")) for p in appeal_procedures() for o in outcomes]))
    parts.append(st.table_close())
    return "".join(parts)


def _html_table_to_text(table_html: str) -> str:
    """Tab-separated rows the way the seeds print them: spans lost, covered positions empty."""
    from lxml import html as lxml_html

    table = lxml_html.fragment_fromstring(table_html)
    covered: dict[tuple[int, int], bool] = {}
    lines = []
    for r, tr in enumerate(table.iter("tr")):
        out: list[str] = []
        c = 0
        for td in tr:
            while covered.get((r, c)):
                out.append("")
                c += 1
            rowspan, colspan = int(td.get("rowspan", 1)), int(td.get("colspan", 1))
            for dr in range(1, rowspan):
                for dc in range(colspan):
                    covered[(r + dr, c + dc)] = True
            text = " ".join(td.text_content().replace("\xa0", " ").split())
            out.extend([text] + [""] * (colspan - 1))
            c += colspan
        lines.append("\t".join(out))
    return "\n".join(lines)


def _render_text(report: dict[str, Any], edition: str, title: str) -> str:
    st = _Style("plain")
    tables = {2: _table2(report, edition, st), 3: _table3(report, edition, st), 4: _table4(report, st)}
    texts = {s["number"]: s for s in report.get("sections", [])}
    out = [f"# {title}", ""]
    if report.get("published"):
        out += [f"发布日期：{report['published']}", ""]
    for number, default in section_titles().items():
        section = texts.get(number, {"heading": default, "text": ""})
        out += [f"## {CN_NUMERALS[number]}、{section.get('heading') or default}", ""]
        for line in (section.get("text") or "").split("\n"):
            if line.strip():
                out += [line, ""]
        if number in tables:
            out += [_html_table_to_text(tables[number]), ""]
    return "\n".join(out)


def render_report(report: dict[str, Any], *, edition: str | None = "2021", style: str = "plain") -> str:
    """The report as an HTML page in the national template (edition from the report if it has one)."""
    edition = report.get("edition") if report.get("edition") in editions() else (edition or "2021")
    if style == "text":
        title = report.get("title") or f"{report.get('agency', '')}{report.get('year', '')}年政府信息公开工作年度报告"
        return _render_text(report, edition, title)
    st = _Style(style)
    title = report.get("title") or f"{report.get('agency', '')}{report.get('year', '')}年政府信息公开工作年度报告"
    texts = {s["number"]: s for s in report.get("sections", [])}
    body = []
    body.append(f'<p style="text-align:center;font-weight:bold">{html.escape(title)}</p>\n'
                if style == "fragment" else f"<h1>{html.escape(title)}</h1>\n")
    if report.get("published"):
        body.append(f'<p style="text-align:center">发布日期：{report["published"]}</p>\n')
    body.append(st.paragraph("本报告根据《中华人民共和国政府信息公开条例》要求编制。"))
    tables = {2: _table2(report, edition, st), 3: _table3(report, edition, st), 4: _table4(report, st)}
    for number, default in section_titles().items():
        section = texts.get(number, {"heading": default, "text": ""})
        body.append(st.heading(f"{CN_NUMERALS[number]}、{section.get('heading') or default}"))
        for line in (section.get("text") or "").split("\n"):
            if line.strip():
                body.append(st.paragraph(line))
        if number in tables:
            body.append(tables[number])
    content = "".join(body)
    if style == "fragment":
        return content
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
            f'<div class="article">\n{content}</div>\n</body>\n</html>\n')
