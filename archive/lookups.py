"""Lookup tables with the template's Chinese labels, so every key is explained in the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlite_utils

_REPO = Path(__file__).resolve().parent.parent
KEYS_CANDIDATES = (
    _REPO / "parsers" / "template_keys.json",          # the parser's shipped copy
    _REPO.parent / "shared" / "template" / "keys.json",  # the reference, in a development checkout
)

RULES = [
    ("balance", "each column of requests",
     "new_received + carried_over = total + carried_forward", "stated in the template header cell"),
    ("outcomes_sum", "each column of requests",
     "total = sum of all result rows (granted … other*)", "implied by structure"),
    ("row_total", "each row of requests",
     "total column = sum of the six applicant columns", "implied"),
    ("appeals_total", "each procedure",
     "total = upheld + corrected + other + pending", "implied"),
    ("carry_chain", "agency, year Y, per column",
     "carried_over(Y) = carried_forward(Y-1)", "across reports"),
    ("page_attachment_mismatch", "a report published as a page and an attachment (scope: the other document's URL)",
     "the page's tables = the attachment's tables, cell by cell (expected: the page's values, actual: "
     "the attachment's)", "one report, one version"),
]


def load_keys() -> dict[str, Any]:
    """The template keys: the parser's copy when it ships one, else the reference file."""
    for path in KEYS_CANDIDATES:
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"template keys not found in {[str(p) for p in KEYS_CANDIDATES]}")


def _group_label(row: str, groups: dict[str, str]) -> str | None:
    for pattern, label in groups.items():
        if pattern == row or (pattern.endswith("*") and row.startswith(pattern[:-1])):
            return label
    return None


def lookup_rows(keys: dict[str, Any]) -> dict[str, list[dict]]:
    """Rows for every lookup table, in a fixed order."""
    active = keys["active"]
    editions = sorted(active)
    row_keys: list[str] = []
    measure_keys: list[str] = []
    for ed in reversed(editions):  # 2021 order first, then rows only 2019 has
        for r in active[ed]["rows"]:
            if r not in row_keys:
                row_keys.append(r)
        for m in active[ed]["measures"]:
            if m not in measure_keys:
                measure_keys.append(m)
    active_rows = [{
        "key": r,
        "label_2021": active.get("2021", {}).get("rows", {}).get(r),
        "label_2019": active.get("2019", {}).get("rows", {}).get(r),
        "measures_2021": json.dumps(active.get("2021", {}).get("cells", {}).get(r), ensure_ascii=False)
        if r in active.get("2021", {}).get("cells", {}) else None,
        "measures_2019": json.dumps(active.get("2019", {}).get("cells", {}).get(r), ensure_ascii=False)
        if r in active.get("2019", {}).get("cells", {}) else None,
        "sort": i,
    } for i, r in enumerate(row_keys)]
    active_measures = []
    for i, m in enumerate(measure_keys):
        eds = [ed for ed in editions if m in active[ed]["measures"]]
        label = next(active[ed]["measures"][m] for ed in reversed(editions) if m in active[ed]["measures"])
        active_measures.append({"key": m, "label": label, "editions": ",".join(eds), "sort": i})
    req = keys["requests"]
    order = req.get("row_order", {})
    request_rows = []
    for r, label in req["rows"].items():
        eds = [ed for ed in sorted(order) if r in order[ed]]
        request_rows.append({
            "key": r, "label": label, "group_label": _group_label(r, req.get("groups", {})),
            "editions": ",".join(eds),
            "sort_2021": order.get("2021", []).index(r) if r in order.get("2021", []) else None,
            "sort_2019": order.get("2019", []).index(r) if r in order.get("2019", []) else None,
        })
    applicants = set(req.get("applicant_columns", []))
    request_columns = [{"key": c, "label": label, "is_applicant": int(c in applicants), "sort": i}
                       for i, (c, label) in enumerate(req["columns"].items())]
    app = keys["appeals"]
    return {
        "active_rows": active_rows,
        "active_measures": active_measures,
        "request_rows": request_rows,
        "request_columns": request_columns,
        "appeal_procedures": [{"key": k, "label": v, "sort": i}
                              for i, (k, v) in enumerate(app["procedures"].items())],
        "appeal_outcomes": [{"key": k, "label": v, "sort": i}
                            for i, (k, v) in enumerate(app["outcomes"].items())],
        "rules": [{"rule": r, "scope": s, "statement": st, "source": so} for r, s, st, so in RULES],
        "section_numbers": [{"number": int(n), "label": label}
                            for n, label in keys.get("sections", {}).items()],
    }


def write_lookups(db: sqlite_utils.Database, keys: dict[str, Any] | None = None) -> None:
    for table, rows in lookup_rows(keys or load_keys()).items():
        db[table].upsert_all(rows)
