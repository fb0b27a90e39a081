"""The template's consistency rules (勾稽关系), run over the published numbers as printed.

Each result carries expected and actual; a rule over blank cells reads them as 0 and lists them
in `blank_as_zero`. Cells the parser could not find (position None) make the rule skip, because a
missing reading is not a finding. Nothing here changes a number.

The arithmetic cannot overflow or raise: values are bounded where they are read (parsers/values.py
`BOUNDS`: a cell beyond them has value None and its raw text, so its rules skip like any unreadable
cell), Python's integers do not wrap, and a value that is not a number skips its rule too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from nianbao.parsers.keys import (
    appeal_outcomes,
    appeal_procedures,
    applicant_columns,
    editions,
    request_columns,
    result_rows,
)
from nianbao.parsers.template import cached

Number = int | float
_NUMBERS = (int, float)


def _index(cells: list[dict[str, Any]], a: str, b: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c[a], c[b]): c for c in cells}


def _sum(cells: Iterable[dict[str, Any] | None], names: Sequence[str]) -> tuple[Number | None, list[str]]:
    """Sum of values (blank as 0); None when a cell is missing or unreadable."""
    total: Number = 0
    blanks = []
    for cell, name in zip(cells, names):
        if cell is None or cell.get("position") is None and cell.get("raw") is None:
            return None, []
        value = cell.get("value")
        if value is None:
            if (cell.get("raw") or "").strip():
                return None, []  # printed but unreadable (or beyond the bounds): not a finding of this rule
            blanks.append(name)
            continue
        if value.__class__ not in _NUMBERS:
            return None, []  # not a number (another reader's cell): nothing to add up
        total += value
    return total, blanks


def _check(rule: str, scope: str, expected_parts: list, expected_names: list[str],
           actual_parts: list, actual_names: list[str]) -> dict[str, Any] | None:
    expected, blanks_e = _sum(expected_parts, expected_names)
    actual, blanks_a = _sum(actual_parts, actual_names)
    if expected is None or actual is None:
        return None
    return {"rule": rule, "scope": scope, "ok": expected == actual, "expected": expected,
            "actual": actual, "blank_as_zero": blanks_e + blanks_a}


Keys = tuple[tuple[str, str], ...]
Spec = tuple[str, str, Keys, tuple[str, ...], Keys, tuple[str, ...]]  # rule, scope, keys and names each side


@cached
def _column_specs(edition: str) -> tuple[Spec, ...]:
    """balance and outcomes_sum of each table 3 column, in output order (a pure function of the
    edition: built once, not ~14 times per report with their cell names)."""
    results = result_rows(edition)
    specs: list[Spec] = []
    for col in request_columns():
        specs.append(("balance", col, (("new_received", col), ("carried_over", col)),
                      (f"new_received/{col}", f"carried_over/{col}"),
                      (("total", col), ("carried_forward", col)), (f"total/{col}", f"carried_forward/{col}")))
        specs.append(("outcomes_sum", col, tuple((r, col) for r in results), tuple(f"{r}/{col}" for r in results),
                      (("total", col),), (f"total/{col}",)))
    return tuple(specs)


@cached
def _row_total_spec(row: str) -> Spec:
    columns = applicant_columns()
    return ("row_total", row, tuple((row, c) for c in columns), tuple(f"{row}/{c}" for c in columns),
            ((row, "total"),), (f"{row}/total",))


@cached
def _appeal_specs() -> tuple[Spec, ...]:
    parts = [o for o in appeal_outcomes() if o != "total"]
    return tuple(("appeals_total", procedure, tuple((procedure, o) for o in parts),
                  tuple(f"{procedure}/{o}" for o in parts), ((procedure, "total"),), (f"{procedure}/total",))
                 for procedure in appeal_procedures())


def _run(specs: tuple[Spec, ...], cells: dict[tuple[str, str], dict[str, Any]],
         checks: list[dict[str, Any]]) -> None:
    """_check over each spec, the cells looked up by key (no intermediate lists: ~45 rules a report)."""
    get = cells.get
    for rule, scope, expected_keys, expected_names, actual_keys, actual_names in specs:
        expected, blanks_e = _sum(map(get, expected_keys), expected_names)
        if expected is None:
            continue
        actual, blanks_a = _sum(map(get, actual_keys), actual_names)
        if actual is None:
            continue
        checks.append({"rule": rule, "scope": scope, "ok": expected == actual, "expected": expected,
                       "actual": actual, "blank_as_zero": blanks_e + blanks_a})


def rule_keys(rule: str, scope: str, edition: str | None) -> tuple[Keys, Keys] | None:
    """The cell keys one per-report rule adds up: (computed side, printed side), or None for a rule
    that is not per report (carry_chain) or a scope the edition does not have."""
    if rule == "row_total":
        spec: Spec | None = _row_total_spec(scope)
    else:
        specs = _appeal_specs() + (_column_specs(edition) if edition in editions() else ())
        spec = next((s for s in specs if s[0] == rule and s[1] == scope), None)
    return None if spec is None else (spec[2], spec[4])


def run_checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    """balance, outcomes_sum, row_total (table 3) and appeals_total (table 4) for one report."""
    edition = report.get("edition")
    checks: list[dict[str, Any]] = []
    if edition in editions() and report.get("requests"):
        req = _index(report["requests"], "row", "column")
        _run(_column_specs(edition), req, checks)
        rows = list(dict.fromkeys(row for row, _ in req))
        _run(tuple(_row_total_spec(row) for row in rows), req, checks)
    if report.get("appeals"):
        _run(_appeal_specs(), _index(report["appeals"], "procedure", "outcome"), checks)
    return checks


CHAIN_ROWS = ("carried_over", "carried_forward")  # the only table 3 rows carry_chain reads (this year, last year)


def check_carry_chain(previous: dict[str, Any], current: dict[str, Any]) -> list[dict[str, Any]]:
    """carry_chain: carried_over(Y) = carried_forward(Y−1), per column of table 3.

    For the archive to call with one agency's reports of consecutive years. Returns [] when the
    years are not consecutive or either report lacks table 3.
    """
    try:
        if int(current.get("year")) - int(previous.get("year")) != 1:
            return []
    except (TypeError, ValueError):
        return []
    before = _index(previous.get("requests") or [], "row", "column")
    now = _index(current.get("requests") or [], "row", "column")
    checks = []
    for col in request_columns():
        check = _check("carry_chain", col,
                       [before.get(("carried_forward", col))], [f"{previous.get('year')}/carried_forward/{col}"],
                       [now.get(("carried_over", col))], [f"{current.get('year')}/carried_over/{col}"])
        if check:
            check["previous_year"] = previous.get("year")
            check["year"] = current.get("year")
            checks.append(check)
    return checks
