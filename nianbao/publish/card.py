"""A report card: one report version as printed, read from the archive (`/-/report/<version_id>`).

Everything the page shows comes from the archive's tables: the version, its agency and documents
(version_documents: the page and its attachment), the same body's previous/next report, the cells
of tables 2–4 laid out in the order of the report's edition with its Chinese labels (the lookup tables
archive/lookups.py writes from the template's data: edition_request_rows and edition_active_rows for
the edition's rows, labels and measures, request_rows, request_columns, active_rows, active_measures,
appeal_procedures, appeal_outcomes; nothing is restated here, so a new edition needs nothing here),
the failed rules (rule_results) marked on the cells they add up (parsers.checks.rule_keys when the
finding stores none), and the report's text by section with anchors that
survive rebuilds (nianbao.publish.search.section_anchor).

Blank is not zero: a cell whose value is null shows empty (its raw text, if any, in the tooltip); a
rule that read blanks as 0 says so on the finding and on those cells. Cells may later carry OCR
columns (`method`, `confidence`, `low_confidence`): when the table has them, a read-by-OCR cell is
marked and one below the OCR threshold is flagged; when it does not, nothing changes.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from nianbao.archive.pairing import REPORTISH
from nianbao.parsers.checks import rule_keys
from nianbao.parsers.keys import appeal_procedures
from nianbao.publish.search import section_anchor

# Cells read by OCR below this confidence are flagged (parsers/ocr/scan.py THRESHOLD, read there
# when the OCR package is importable).
DEFAULT_OCR_THRESHOLD = 0.80

# The headline numbers at the top of the card: (key in the totals, label key in request_rows or
# appeal_procedures, how it is computed from table 3's 总计 column or table 4's totals).
HEADLINE = [
    ("received", ("requests", "new_received")),
    ("granted", ("requests", "granted")),
    ("partially_granted", ("requests", "partially_granted")),
    ("denied", ("groups", "denied_")),
    ("unavailable", ("groups", "unavailable_")),
    ("not_processed", ("groups", "not_processed_")),
    ("review_total", ("appeals", "review")),
    ("litigation_total", ("appeals", "litigation")),
]


@dataclass
class Cell:
    value: Any = None
    raw: str | None = None
    reading: str | None = None
    present: bool = False  # a row exists in the archive for this cell
    rules: list[int] = field(default_factory=list)  # indexes into Card.failures
    blank_read_as_zero: bool = False
    ocr: bool = False
    low_confidence: bool = False
    confidence: float | None = None

    @property
    def blank(self) -> bool:
        return self.value is None

    @property
    def css(self) -> str:
        classes = ["num"]
        if self.blank:
            classes.append("blank")
        if self.rules:
            classes.append("fail")
        if self.blank_read_as_zero:
            classes.append("blank-as-zero")
        if self.ocr:
            classes.append("ocr")
        if self.low_confidence:
            classes.append("low-confidence")
        return " ".join(classes)

    def tooltip(self, failures: list[dict]) -> str:
        parts = []
        if self.raw not in (None, "") and str(self.raw) != str(self.value):
            parts.append(f"原文 printed: {self.raw}")
        if self.reading:
            parts.append(f"读法 reading: {self.reading}")
        if self.blank and self.present:
            parts.append("空白 blank (not 0)")
        for i in self.rules:
            f = failures[i]
            parts.append(f"✗ {f['rule']} {f['scope']}: 应为 expected {f['expected']}, 实印 printed {f['actual']}")
        if self.blank_read_as_zero:
            parts.append("规则按 0 计入此空白 a rule read this blank as 0")
        if self.confidence is not None:
            parts.append(f"OCR confidence {self.confidence:.2f}" + (" (low)" if self.low_confidence else ""))
        return "\n".join(parts)


def ocr_threshold() -> float:
    try:
        from nianbao.parsers.ocr.scan import THRESHOLD  # type: ignore[import-not-found]
        return float(THRESHOLD)
    except Exception:  # noqa: BLE001 - OCR not installed: the default
        return DEFAULT_OCR_THRESHOLD


def _cell(row: sqlite3.Row, threshold: float) -> Cell:
    keys = row.keys()
    c = Cell(value=row["value"], raw=row["raw"], reading=row["reading"] if "reading" in keys else None, present=True)
    confidence = row["confidence"] if "confidence" in keys else None
    method = row["method"] if "method" in keys else None
    flagged = row["low_confidence"] if "low_confidence" in keys else None
    c.confidence = float(confidence) if isinstance(confidence, (int, float)) else None
    c.ocr = (method or "").lower() == "ocr" or c.confidence is not None
    c.low_confidence = bool(flagged) or (c.confidence is not None and c.confidence < threshold)
    return c


def rule_cells(rule: str, scope: str, edition: str | None) -> list[tuple[str, str, str]]:
    """The cells a rule adds up: (table, row, column), from the rules' one definition
    (parsers.checks.rule_keys); carry_chain marks this year's 上年结转 cell."""
    if rule == "carry_chain":
        return [("requests", "carried_over", scope)]
    keys = rule_keys(rule, scope, edition)
    if keys is None:
        return []
    procedures = appeal_procedures()
    return [("appeals" if a in procedures else "requests", a, b) for side in keys for a, b in side]


def _rows(conn: sqlite3.Connection, sql: str, params=()) -> list[sqlite3.Row]:
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.row_factory = None


def load_card(conn: sqlite3.Connection, version_id: str) -> dict | None:
    """Everything the report card shows, or None when there is no such version."""
    factory = conn.row_factory
    try:
        return _load(conn, version_id)
    finally:
        conn.row_factory = factory


def _load(conn: sqlite3.Connection, version_id: str) -> dict | None:
    found = _rows(conn, """
        select v.*, a.province, a.city, a.county, a.level, a.division_code, d.n_versions as doc_versions
        from document_versions v
        left join agencies a on a.name = v.agency
        left join documents d on d.id = v.document_id
        where v.id = ?""", [version_id])
    if not found:
        return None
    v = dict(found[0])
    threshold = ocr_threshold()

    # Lookups: the template's rows, columns and labels, in the report's edition's order (rows of
    # other editions after, in the order over all editions; sort null: not in this edition).
    req_rows = [dict(r) for r in _rows(conn, """
        select r.key, r.label, r.group_label, r.editions, e.sort as sort from request_rows r
        left join edition_request_rows e on e.key = r.key and e.edition = ?
        order by e.sort is null, e.sort, r.sort""", [v["edition"]])]
    req_cols = [dict(r) for r in _rows(conn, "select key, label, is_applicant from request_columns order by sort")]
    procedures = [dict(r) for r in _rows(conn, "select key, label from appeal_procedures order by sort")]
    outcomes = [dict(r) for r in _rows(conn, "select key, label from appeal_outcomes order by sort")]
    act_rows = [dict(r) for r in _rows(conn, """
        select r.key, r.label, e.label as edition_label, e.measures from active_rows r
        left join edition_active_rows e on e.key = r.key and e.edition = ?
        order by e.sort is null, e.sort, r.sort""", [v["edition"]])]
    known_edition = bool(_rows(conn, "select 1 from editions where edition = ?", [v["edition"]]))
    measures = {r["key"]: r["label"] for r in _rows(conn, "select key, label from active_measures")}

    # Cells (whatever columns the tables have: OCR columns are read when present).
    requests = {(r["row_key"], r["column_key"]): _cell(r, threshold)
                for r in _rows(conn, "select * from requests where version_id = ?", [version_id])}
    appeals = {(r["procedure"], r["outcome"]): _cell(r, threshold)
               for r in _rows(conn, "select * from appeals where version_id = ?", [version_id])}
    active = {(r["row_key"], r["measure"]): _cell(r, threshold)
              for r in _rows(conn, "select * from active_disclosure where version_id = ?", [version_id])}

    # Rows shown: the edition's, plus any row this report has cells for.
    have_rows = {k[0] for k in requests}
    shown_rows = [r for r in req_rows
                  if r["sort"] is not None or r["key"] in have_rows]
    if not known_edition:
        shown_rows = [r for r in req_rows if r["key"] in have_rows]

    # Failed rules, and the cells they involve.
    labels = {("requests_row", r["key"]): r["label"] for r in req_rows}
    labels.update({("requests_col", c["key"]): c["label"] for c in req_cols})
    labels.update({("procedure", p["key"]): p["label"] for p in procedures})
    statements = {r["rule"]: r["statement"] for r in _rows(conn, "select rule, statement from rules")}
    failures: list[dict] = []
    for r in _rows(conn, "select * from rule_results where version_id = ? and ok = 0 order by rule, scope",
                   [version_id]):
        f = dict(r)
        note = _json(f.get("note"))
        f["statement"] = statements.get(f["rule"])
        f["scope_label"] = (labels.get(("requests_col", f["scope"])) or labels.get(("requests_row", f["scope"]))
                            or labels.get(("procedure", f["scope"])) or f["scope"])
        f["difference"] = (f["actual"] - f["expected"]
                           if isinstance(f["actual"], (int, float)) and isinstance(f["expected"], (int, float))
                           else None)
        f["blank_cells"] = note.get("blank_cells", []) if isinstance(note, dict) else []
        f["note_text"] = None if isinstance(note, dict) else f.get("note")
        f["kind"] = _kind(f, note)
        involved = _noted_cells(note, requests, appeals)
        if involved is None:  # no cells stored with the finding (older builds): the rule's definition
            involved = rule_cells(f["rule"], f["scope"], v["edition"])
        grid = {"requests": requests, "appeals": appeals}
        f["cells"] = []
        for table, row, col in involved:
            cell = grid[table].setdefault((row, col), Cell())
            cell.rules.append(len(failures))
            f["cells"].append({"row": row, "column": col, "value": cell.value, "raw": cell.raw})
            if f["blank_as_zero"] and cell.value is None:
                cell.blank_read_as_zero = True
        for ref in f["blank_cells"]:
            row, _, col = str(ref).partition("/")
            if (row, col) in requests:
                requests[(row, col)].blank_read_as_zero = True
            elif (row, col) in appeals:
                appeals[(row, col)].blank_read_as_zero = True
        if f.get("other_version_id"):
            f["other"] = _rows(conn, "select id, agency, year from document_versions where id = ?",
                               [f["other_version_id"]])
        failures.append(f)

    # Table 3: group labels as row spans, as printed.
    table3 = []
    for i, r in enumerate(shown_rows):
        group = r["group_label"]
        span = 0
        if group and (i == 0 or shown_rows[i - 1]["group_label"] != group):
            span = 1
            while i + span < len(shown_rows) and shown_rows[i + span]["group_label"] == group:
                span += 1
        table3.append({"key": r["key"], "label": r["label"], "group": group, "group_span": span,
                       "cells": [requests.get((r["key"], c["key"]), Cell()) for c in req_cols]})

    # Table 2: consecutive rows measured alike form one block (one header row), as printed.
    blocks: list[dict] = []
    for r in act_rows:
        label = r.get("edition_label")
        names = _json(r.get("measures"))
        if not label or not isinstance(names, list):
            if not any(k[0] == r["key"] for k in active):
                continue
            label = r.get("label") or r["key"]
            names = [m for (row, m) in active if row == r["key"]]
        if not blocks or blocks[-1]["measures"] != names:
            blocks.append({"measures": names, "labels": [measures.get(m, m) for m in names], "rows": []})
        blocks[-1]["rows"].append({"key": r["key"], "label": label,
                                   "cells": [active.get((r["key"], m), Cell()) for m in names]})

    # Table 4: procedures × outcomes in one printed row; "行政诉讼·未经复议直接起诉" is a two-level header.
    heads: list[dict] = []
    for p in procedures:
        top, _, sub = p["label"].partition("·")
        if heads and heads[-1]["label"] == top and sub:
            heads[-1]["subs"].append(p)
        else:
            heads.append({"label": top, "subs": [p] if sub else [], "procedure": None if sub else p})
    for p in procedures:
        p["sub_label"] = p["label"].partition("·")[2]
    table4 = [appeals.get((p["key"], o["key"]), Cell()) for p in procedures for o in outcomes]

    # Headline numbers (as report_totals sums them: blank stays blank).
    def total(row: str) -> Any:
        return requests.get((row, "total"), Cell()).value

    def group_total(prefix: str) -> Any:
        values = [c.value for (row, col), c in requests.items()
                  if col == "total" and (row.startswith(prefix) or (prefix == "other_" and row == "other"))]
        values = [x for x in values if x is not None]
        return sum(values) if values else None

    def appeal_total(prefix: str) -> Any:
        values = [c.value for (p, o), c in appeals.items() if o == "total" and p.startswith(prefix)]
        values = [x for x in values if x is not None]
        return sum(values) if values else None

    row_label = {r["key"]: r["label"] for r in req_rows}
    def group_label(prefix: str) -> str | None:
        return next((r["group_label"] for r in req_rows if r["key"].startswith(prefix) and r["group_label"]), None)

    proc_label = {p["key"]: p["label"] for p in procedures}
    headline = []
    for key, (kind, ref) in HEADLINE:
        if kind == "requests":
            value, label = total(ref), row_label.get(ref, ref)
        elif kind == "groups":
            value, label = group_total(ref), group_label(ref) or ref
        else:
            value = appeal_total(ref)
            label = proc_label.get(ref) or (proc_label.get("litigation_direct", ref).partition("·")[0])
        headline.append({"key": key, "label": _short(label), "value": value})

    # Where the report came from: the page and its attachment(s).
    originals = [dict(r) for r in _rows(conn, """
        select vd.capture_id, vd.url, vd.role, vd.status, vd.numbers, vd.identity, c.fetched, c.content_type
        from version_documents vd left join captures c on c.id = vd.capture_id
        where vd.version_id = ? order by vd.numbers desc, vd.identity desc, vd.url""", [version_id])]
    if not originals and v.get("capture_id"):
        originals = [dict(r) for r in _rows(conn, """
            select id as capture_id, url, role, null as status, 1 as numbers, 1 as identity, fetched, content_type
            from captures where id = ?""", [v["capture_id"]])]

    reportish = tuple(REPORTISH)
    marks = ",".join("?" for _ in reportish)
    prev = next_ = None
    if v["agency"] and v["year"] is not None:
        prev = _rows(conn, f"""select id, year from document_versions where agency = ? and year < ? and is_latest = 1
                           and status in ({marks}) order by year desc, published desc limit 1""",
                     [v["agency"], v["year"], *reportish])
        next_ = _rows(conn, f"""select id, year from document_versions where agency = ? and year > ? and is_latest = 1
                            and status in ({marks}) order by year, published desc limit 1""",
                      [v["agency"], v["year"], *reportish])
    versions = [dict(r) for r in _rows(conn, """select id, version, is_latest, first_seen, last_seen, n_rule_failures
        from document_versions where document_id = ? order by version""", [v["document_id"]])]

    # Text by section, each with its stable anchor and the table printed in it.
    sections = []
    seen: dict[int | None, int] = {}
    for s in _rows(conn, "select number, seq, heading, text from sections where version_id = ? order by seq",
                   [version_id]):
        seen[s["number"]] = seen.get(s["number"], 0) + 1
        sections.append({"number": s["number"], "heading": s["heading"], "text": s["text"] or "",
                         "anchor": section_anchor(s["number"], s["seq"], seen[s["number"]]),
                         "table": {2: "active", 3: "requests", 4: "appeals"}.get(s["number"])
                         if seen[s["number"]] == 1 else None})
    placed = {s["table"] for s in sections if s["table"]}
    section_labels = {r["number"]: r["label"] for r in _rows(conn, "select number, label from section_numbers")}
    missing_tables = [(t, section_labels.get(n)) for n, t in ((2, "active"), (3, "requests"), (4, "appeals"))
                      if t not in placed]

    return {
        "version": v, "headline": headline, "failures": failures, "originals": originals,
        "prev": dict(prev[0]) if prev else None, "next": dict(next_[0]) if next_ else None,
        "versions": versions, "sections": sections, "missing_tables": missing_tables,
        "table2": blocks, "table3": table3, "table3_columns": req_cols, "table4": table4,
        "table4_heads": heads, "procedures": procedures, "outcomes": outcomes,
        "has_cells": bool(requests or appeals or active), "has_ocr": any(
            c.ocr for grid in (requests, appeals, active) for c in grid.values()),
        "ocr_threshold": threshold,
    }


def _kind(failure: dict, note: Any) -> str:
    """The finding's kind as archive/findings.py stores it in the note, else as its KIND_SQL derives it."""
    if isinstance(note, dict) and note.get("kind"):
        return str(note["kind"])
    if failure["rule"] == "page_attachment_mismatch":
        return "page_attachment_mismatch"
    return "blank_as_zero" if failure.get("blank_as_zero") else "arithmetic"


def _noted_cells(note: Any, requests: dict, appeals: dict) -> list[tuple[str, str, str]] | None:
    """The cells archive/findings.py stored with a failure (`note.cells`: "row/column",
    "procedure/outcome", or "YEAR/row/column" for carry_chain, of which this report's are marked)."""
    if not isinstance(note, dict) or not isinstance(note.get("cells"), list):
        return None
    out = []
    for entry in note["cells"]:
        key = str(entry.get("cell", "")) if isinstance(entry, dict) else ""
        parts = key.split("/")
        if len(parts) == 3:
            if entry.get("side") != "printed":
                continue  # last year's cell of a carry chain: on last year's card
            parts = parts[1:]
        if len(parts) != 2:
            continue
        table = "appeals" if (parts[0], parts[1]) in appeals else "requests"
        out.append((table, parts[0], parts[1]))
    return out


def _short(label: str | None) -> str:
    """A row label without its template ordinal: "（一）予以公开" → "予以公开", "一、本年新收…" → "本年新收…"."""
    import re

    text = label or ""
    text = re.sub(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\d+\.)", "", text)
    return re.sub(r"（[^）]*）$", "", text) or (label or "")


def _json(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
