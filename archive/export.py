"""Export the archive's tables and views as CSV or JSON files, with a Frictionless `datapackage.json`.

What researchers take away: the canonical tables, the wide `reports` view and its `report_totals`,
the findings (`rule_failures`), the coverage, and the label tables that explain every key. CSV can
carry a UTF-8 byte-order mark (`bom=True`) so Excel opens the Chinese text as UTF-8. The data package
describes every exported file: fields with types and descriptions (the same descriptions as the
site's metadata, archive/columns.py), primary keys, and the compiled data's licence.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import sqlite_utils

from nianbao.archive.columns import describe

CANONICAL = ["agencies", "sources", "documents", "document_versions", "version_documents",
             "active_disclosure", "requests", "appeals", "sections", "rule_results", "captures",
             "reports", "report_totals", "outcome_totals", "rule_failures", "coverage", "other_documents",
             # label tables: every key's Chinese label and order (lookups from the template)
             "active_rows", "active_measures", "request_rows", "request_columns", "appeal_procedures",
             "appeal_outcomes", "rules", "section_numbers"]

# The compiled data's licence (the code is Apache-2.0: pyproject.toml); datasette-metadata.json says the same.
DATA_LICENSE = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0 International",
                "path": "https://creativecommons.org/licenses/by/4.0/"}

_TYPES = {"INTEGER": "integer", "INT": "integer", "FLOAT": "number", "REAL": "number", "NUMERIC": "number",
          "TEXT": "string"}


def _order(db: sqlite_utils.Database, name: str) -> tuple[str, list[str]]:
    if name in db.table_names():
        pks = db[name].pks
        return (", ".join(f"[{p}]" for p in pks) if pks != ["rowid"] else "rowid"), (pks if pks != ["rowid"] else [])
    if name in db.view_names():
        return "1", []
    raise ValueError(f"no table or view named {name!r}")


def _field_type(declared: str, seen: set[type]) -> str:
    """Frictionless type: the declared SQLite type when it has one, else what the exported values are."""
    kind = _TYPES.get((declared or "").upper())
    if kind:
        return kind
    seen = seen - {type(None)}
    if not seen:
        return "any"
    if seen <= {int}:
        return "integer"
    if seen <= {int, float}:
        return "number"
    if seen <= {str}:
        return "string"
    return "any"


def export(db: sqlite_utils.Database, out: Path, fmt: str = "csv",
           tables: list[str] | None = None, bom: bool = False, datapackage: bool = True) -> dict[str, int]:
    """One file per table (`<table>.csv`, UTF-8, with a byte-order mark when `bom`; or `<table>.json`,
    an array of objects); rows in primary-key order so two exports of the same archive are identical.
    A blank cell is an empty CSV field / JSON null (blank is not zero). Writes `datapackage.json`
    describing the files unless `datapackage=False`."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    resources = []
    encoding = "utf-8-sig" if bom and fmt == "csv" else "utf-8"
    for name in tables or CANONICAL:
        order, pks = _order(db, name)
        declared = {c.name: c.type for c in db[name].columns}
        cursor = db.execute(f"select * from [{name}] order by {order}")
        columns = [d[0] for d in cursor.description]
        seen: list[set[type]] = [set() for _ in columns]
        n = 0
        path = out / f"{name}.{fmt}"
        with open(path, "w", encoding=encoding, newline="") as fh:
            if fmt == "csv":
                writer = csv.writer(fh)
                writer.writerow(columns)
                for row in cursor:
                    writer.writerow(row)
                    for i, v in enumerate(row):
                        seen[i].add(type(v))
                    n += 1
            else:
                fh.write("[")
                for row in cursor:
                    fh.write(("," if n else "") + "\n" + json.dumps(dict(zip(columns, row)), ensure_ascii=False))
                    for i, v in enumerate(row):
                        seen[i].add(type(v))
                    n += 1
                fh.write("\n]\n")
        counts[name] = n
        fields = [{"name": c, "type": _field_type(declared.get(c, ""), seen[i]),
                   "description": describe(name, c) or ""} for i, c in enumerate(columns)]
        schema: dict = {"fields": fields, "missingValues": [""]}
        if pks:
            schema["primaryKey"] = pks
        resource = {"name": name.replace("_", "-"), "path": path.name, "profile": "tabular-data-resource",
                    "format": fmt, "mediatype": "text/csv" if fmt == "csv" else "application/json",
                    "encoding": encoding, "schema": schema}
        if fmt == "json":
            resource["profile"] = "data-resource"
        resources.append(resource)
    if datapackage:
        package = {
            "profile": "tabular-data-package" if fmt == "csv" else "data-package",
            "name": "nianbao",
            "title": "年报 nianbao: 政府信息公开工作年度报告存档 · "
                     "Chinese government information-disclosure annual reports",
            "description": "Every table cell of the archived reports as one row, the findings of the template's "
                           "consistency rules, coverage by agency and year, and the labels of every key. Columns "
                           "are described in docs/schema.md. Blank cells are empty (blank is not zero).",
            "licenses": [DATA_LICENSE],
            "resources": resources,
        }
        (out / "datapackage.json").write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n",
                                              encoding="utf-8")
    return counts
