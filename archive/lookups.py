"""Lookup tables with the template's Chinese labels, so every key is explained in the database."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from nianbao.parsers import template

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
    """The template keys, composed from the parser's edition files (parsers/template/)."""
    return template.keys()


def lookup_rows(keys: dict[str, Any]) -> dict[str, list[dict]]:
    """Rows for every lookup table, in a fixed order.

    What differs between editions is rows of `editions`, `edition_active_rows` and
    `edition_request_rows`, keyed (edition, key), never a column per edition: a new edition adds rows.
    """
    active = keys["active"]
    editions = list(keys["editions"])
    row_keys: list[str] = []
    measure_keys: list[str] = []
    for ed in reversed(editions):  # the newest edition's order first, then rows only older ones have
        for r in active[ed]["rows"]:
            if r not in row_keys:
                row_keys.append(r)
        for m in active[ed]["measures"]:
            if m not in measure_keys:
                measure_keys.append(m)
    active_rows = [{"key": r, "label": next(active[ed]["rows"][r] for ed in reversed(editions)
                                            if r in active[ed]["rows"]), "sort": i}
                   for i, r in enumerate(row_keys)]
    edition_active_rows = [{"edition": ed, "key": r, "label": active[ed]["rows"][r],
                            "measures": json.dumps(measures, ensure_ascii=False), "sort": i}
                           for ed in editions for i, (r, measures) in enumerate(active[ed]["cells"].items())]
    active_measures = []
    for i, m in enumerate(measure_keys):
        eds = [ed for ed in editions if m in active[ed]["measures"]]
        label = next(active[ed]["measures"][m] for ed in reversed(editions) if m in active[ed]["measures"])
        active_measures.append({"key": m, "label": label, "editions": ",".join(eds), "sort": i})
    req = keys["requests"]
    order = req.get("row_order", {})
    request_rows = []
    for i, (r, label) in enumerate(req["rows"].items()):
        eds = [ed for ed in editions if r in order.get(ed, [])]
        request_rows.append({"key": r, "label": label, "group_label": template.group_label(r, req.get("groups", {})),
                             "editions": ",".join(eds), "sort": i})
    edition_request_rows = [{"edition": ed, "key": r, "sort": i}
                            for ed in editions for i, r in enumerate(order.get(ed, []))]
    applicants = set(req.get("applicant_columns", []))
    request_columns = [{"key": c, "label": label, "is_applicant": int(c in applicants), "sort": i}
                       for i, (c, label) in enumerate(req["columns"].items())]
    app = keys["appeals"]
    known = set(template.editions())
    return {
        "editions": [{"edition": ed, "issued_by": template.edition(ed).get("issued_by") if ed in known else None,
                      "years": template.edition(ed).get("years") if ed in known else None, "sort": i}
                     for i, ed in enumerate(editions)],
        "active_rows": active_rows,
        "active_measures": active_measures,
        "edition_active_rows": edition_active_rows,
        "request_rows": request_rows,
        "edition_request_rows": edition_request_rows,
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
