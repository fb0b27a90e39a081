"""Export the canonical tables (and the wide `reports` view) as CSV or JSON files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import sqlite_utils

CANONICAL = ["agencies", "sources", "documents", "document_versions", "version_documents",
             "active_disclosure", "requests",
             "appeals", "sections", "rule_results", "captures", "reports", "coverage"]


def export(db: sqlite_utils.Database, out: Path, fmt: str = "csv",
           tables: list[str] | None = None) -> dict[str, int]:
    """One file per table (`<table>.csv` UTF-8 with BOM-less header, or `<table>.json` array);
    rows in primary-key order so two exports of the same archive are identical."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name in tables or CANONICAL:
        if name in db.table_names():
            pks = db[name].pks
            order = ", ".join(f"[{p}]" for p in pks) if pks != ["rowid"] else "rowid"
        elif name in db.view_names():
            order = "1"
        else:
            raise ValueError(f"no table or view named {name!r}")
        cursor = db.execute(f"select * from [{name}] order by {order}")
        columns = [d[0] for d in cursor.description]
        n = 0
        path = out / f"{name}.{fmt}"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            if fmt == "csv":
                writer = csv.writer(fh)
                writer.writerow(columns)
                for row in cursor:
                    writer.writerow(row)
                    n += 1
            else:
                fh.write("[")
                for row in cursor:
                    fh.write(("," if n else "") + "\n" + json.dumps(dict(zip(columns, row)), ensure_ascii=False))
                    n += 1
                fh.write("\n]\n")
        counts[name] = n
    return counts
