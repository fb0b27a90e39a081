"""Rule helpers the archive needs on its own: carry_chain across years, and re-running the
per-report rules over stored cells (`nianbao check`). The parser's functions win when present."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

APPLICANT_COLUMNS = ("natural_person", "commercial_enterprise", "research_institution",
                     "social_welfare_org", "legal_service_org", "other_org")
COLUMNS = APPLICANT_COLUMNS + ("total",)
RESULT_PREFIXES = ("granted", "partially_granted", "denied_", "unavailable_", "not_processed_", "other")


def _cells(report: dict, row: str) -> dict[str, Any]:
    return {c["column"]: c.get("value") for c in report.get("requests") or [] if c.get("row") == row}


def carry_chain_fallback(previous: dict, current: dict) -> list[dict]:
    """carried_over(Y) = carried_forward(Y-1), per column; blanks read as 0 and said so."""
    before, now = _cells(previous, "carried_forward"), _cells(current, "carried_over")
    out = []
    for col in COLUMNS:
        if col not in before and col not in now:
            continue
        exp, act = before.get(col), now.get(col)
        blank = exp is None or act is None
        exp, act = exp or 0, act or 0
        out.append({"rule": "carry_chain", "scope": col, "ok": exp == act, "expected": exp,
                    "actual": act, "blank_as_zero": blank})
    return out


def carry_chain_function() -> Callable[[dict, dict], list[dict]]:
    try:
        from nianbao.parsers import check_carry_chain  # type: ignore[attr-defined]
        return check_carry_chain
    except ImportError:
        return carry_chain_fallback


def _is_result_row(row: str) -> bool:
    return row in ("granted", "partially_granted", "other") or row.startswith(RESULT_PREFIXES[2:])


def report_rules(requests: Iterable[dict], appeals: Iterable[dict]) -> list[dict]:
    """balance, outcomes_sum, row_total, appeals_total over canonical cells (blank read as 0)."""
    grid: dict[str, dict[str, Any]] = {}
    for c in requests:
        grid.setdefault(c["row"], {})[c["column"]] = c.get("value")
    out: list[dict] = []

    def add(rule: str, scope: str, expected: list, actual: list) -> None:
        vals = expected + actual
        blank = any(v is None for v in vals)
        e, a = sum(v or 0 for v in expected), sum(v or 0 for v in actual)
        out.append({"rule": rule, "scope": scope, "ok": e == a, "expected": e, "actual": a,
                    "blank_as_zero": blank})

    if grid:
        result_rows = [r for r in grid if _is_result_row(r)]
        for col in COLUMNS:
            g = lambda r: grid.get(r, {}).get(col)  # noqa: E731
            if {"new_received", "carried_over", "total", "carried_forward"} <= set(grid):
                add("balance", col, [g("new_received"), g("carried_over")],
                    [g("total"), g("carried_forward")])
            if "total" in grid and result_rows:
                add("outcomes_sum", col, [g(r) for r in result_rows], [g("total")])
        for row, cols in grid.items():
            if "total" in cols:
                add("row_total", row, [cols.get(c) for c in APPLICANT_COLUMNS], [cols.get("total")])
    proc: dict[str, dict[str, Any]] = {}
    for c in appeals:
        proc.setdefault(c["procedure"], {})[c["outcome"]] = c.get("value")
    for p, outs in proc.items():
        if "total" in outs:
            add("appeals_total", p, [outs.get(o) for o in ("upheld", "corrected", "other", "pending")],
                [outs.get("total")])
    return out
