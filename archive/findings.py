"""What kind of finding a failed rule is, and which printed cells it involves.

A failed rule is not always an arithmetic error in the report: a blank 总计 cell read as 0 fails a
sum that the body simply left unfilled, and a cell OCR read with low confidence may be our misreading.
`describe` names the cells a failure adds up (their keys and the text the report prints for them,
from the parser's own rule specs in parsers/checks.py) and classifies it:

- `page_attachment_mismatch`: a report's page and its attachment print different numbers;
- `possible_ocr_error`: a cell involved was read by OCR below the threshold (`confidence`,
  `low_confidence` or `method` on the parser's cell; absent keys simply never classify so);
- `blank_as_zero`: a cell involved was blank and read as 0;
- `arithmetic`: every cell involved printed a number and they do not add up.

The kind and the cells are stored in `rule_results.note` (JSON keys `kind`, `cells`) for failures
only, so the ~50 passing rules per report stay cheap; the `rule_failures` view reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nianbao.parsers.checks import rule_keys

KINDS = ("arithmetic", "blank_as_zero", "possible_ocr_error", "page_attachment_mismatch")
DEFAULT_OCR_THRESHOLD = 0.80  # parsers/ocr/scan.py THRESHOLD when importable

# The same classification in SQL for rows without a stored kind (older builds, synthetic archives).
KIND_SQL = ("coalesce(json_extract(r.note, '$.kind'), case when r.rule = 'page_attachment_mismatch' "
            "then 'page_attachment_mismatch' when r.blank_as_zero = 1 then 'blank_as_zero' "
            "else 'arithmetic' end)")


def ocr_threshold() -> float:
    try:
        from nianbao.parsers.ocr.scan import THRESHOLD  # type: ignore[import-not-found]
        return float(THRESHOLD)
    except Exception:  # noqa: BLE001 - OCR not installed: the default
        return DEFAULT_OCR_THRESHOLD


def involved_keys(rule: str, scope: str, edition: str | None) -> tuple[tuple, tuple] | None:
    """The cell keys of one rule: (computed side, printed side), or None for a rule not per report
    (parsers.checks.rule_keys: the rules' one definition)."""
    return rule_keys(rule, scope, edition)


def is_low_confidence(cell: dict[str, Any] | None, threshold: float) -> bool:
    """A cell OCR read doubtfully (keys absent on cells read from text: never)."""
    if not cell:
        return False
    if cell.get("low_confidence"):
        return True
    confidence = cell.get("confidence")
    return isinstance(confidence, (int, float)) and not isinstance(confidence, bool) and confidence < threshold


def _entry(key: str, cell: dict[str, Any] | None, side: str) -> dict[str, Any]:
    raw = None if cell is None else cell.get("raw")
    entry: dict[str, Any] = {"cell": key, "side": side,
                             "printed": raw if raw is not None else (None if cell is None else cell.get("value"))}
    if cell is not None and (raw is None or not str(raw).strip()) and cell.get("value") is None:
        entry["printed"] = ""  # blank as printed
    for name in ("confidence", "method"):
        if cell is not None and cell.get(name) is not None:
            entry[name] = cell[name]
    return entry


def classify(rule: str, blank: Any, cells: Iterable[dict[str, Any] | None], threshold: float) -> str:
    if rule == "page_attachment_mismatch":
        return "page_attachment_mismatch"
    if any(is_low_confidence(c, threshold) for c in cells):
        return "possible_ocr_error"
    if blank:
        return "blank_as_zero"
    return "arithmetic"


def cell_grid(report: dict[str, Any]) -> dict[tuple, dict[str, Any]]:
    """(row, column) and (procedure, outcome) -> the parser's cell, for `describe`."""
    grid = {(c.get("row"), c.get("column")): c for c in report.get("requests") or () if isinstance(c, dict)}
    grid.update({(c.get("procedure"), c.get("outcome")): c for c in report.get("appeals") or () if isinstance(c, dict)})
    return grid


def describe(check: dict[str, Any], grid: dict[tuple[str, str], dict[str, Any]], edition: str | None,
             threshold: float | None = None) -> dict[str, Any]:
    """{kind, cells} for one failed per-report rule; `grid` maps (row, column) / (procedure,
    outcome) to the parser's cell dicts of that report."""
    rule, scope = str(check.get("rule")), str(check.get("scope"))
    keys = involved_keys(rule, scope, edition)
    threshold = ocr_threshold() if threshold is None else threshold
    if keys is None:
        return {"kind": classify(rule, check.get("blank_as_zero"), (), threshold)}
    computed, printed = keys
    found = [(k, grid.get(k), side) for side, ks in (("computed", computed), ("printed", printed)) for k in ks]
    return {"kind": classify(rule, check.get("blank_as_zero"), (c for _, c, _ in found), threshold),
            "cells": [_entry(f"{a}/{b}", c, side) for (a, b), c, side in found if c is not None]}


def describe_chain(check: dict[str, Any], previous: dict, current: dict, threshold: float | None = None) -> dict:
    """{kind, cells} for a failed carry_chain: last year's 结转下年度 and this year's 上年结转 cell."""
    col = str(check.get("scope"))
    threshold = ocr_threshold() if threshold is None else threshold
    before = next((c for c in previous.get("requests") or [] if (c.get("row"), c.get("column")) ==
                   ("carried_forward", col)), None)
    now = next((c for c in current.get("requests") or [] if (c.get("row"), c.get("column")) ==
                ("carried_over", col)), None)
    cells = [_entry(f"{previous.get('year')}/carried_forward/{col}", before, "computed"),
             _entry(f"{current.get('year')}/carried_over/{col}", now, "printed")]
    return {"kind": classify("carry_chain", check.get("blank_as_zero"), (before, now), threshold), "cells": cells}
