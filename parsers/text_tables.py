"""Plain-text / markdown reports: tab-separated (or |pipe|) rows are tables, other lines are text.

Text renderings lose colspans, so these tables are marked `spans=False` and the table readers
map their values by order rather than by grid column. A blank line inside a run of table rows
does not end the table (seed 003 prints one table in two blocks).
"""

from __future__ import annotations

import re

from nianbao.parsers.model import Cell, Table
from nianbao.parsers.values import clean_raw

_PIPE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
TABLE_MARK = "\x00table:"


def _cells(line: str) -> list[str] | None:
    if "\t" in line:
        return line.split("\t")
    stripped = line.strip()
    if stripped.startswith("|") and stripped.count("|") >= 3:
        return stripped.strip("|").split("|")
    return None


def split_text(text: str) -> tuple[list[str], list[Table]]:
    """Lines of running text (a table appears as one TABLE_MARK line) and the tables."""
    lines: list[str] = []
    tables: list[Table] = []
    current: Table | None = None
    blank_run: list[str] = []
    for raw_line in text.splitlines():
        if _PIPE_SEPARATOR.match(raw_line) and current is not None:
            continue
        cells = _cells(raw_line)
        if cells is None:
            if not raw_line.strip() and current is not None:
                blank_run.append(raw_line)
                continue
            current = None
            lines.extend(blank_run)
            blank_run = []
            lines.append(raw_line)
            continue
        blank_run = []
        if current is None:
            current = Table(index=len(tables), spans=False)
            tables.append(current)
            lines.append(f"{TABLE_MARK}{current.index}")
        r = len(current.rows)
        row = [Cell(clean_raw(text), current.index, r, c) for c, text in enumerate(cells)]
        current.rows.append(row)
        current.grid.append(list(row))
    return lines, tables
