"""The HTML every converter hands to parse_report: text as <p>, headings as <h1>/<h2>, tables with spans.

Why one module: parse_report reads HTML, so each format's converter only has to say what is a paragraph,
a heading and a table cell (with its rowspan/colspan); how that is written down is decided once here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass
class GridCell:
    """One cell of a table as printed: top-left grid position, extent, text (lines joined by newlines)."""

    row: int
    col: int
    text: str
    rowspan: int = 1
    colspan: int = 1


def page(parts: list[str], title: str | None = None) -> str:
    """A whole UTF-8 page around the converted blocks."""
    head = f"<title>{html.escape(title)}</title>" if title else ""
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8">' + head + "</head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def heading(text: str, level: int = 1) -> str:
    return f"<h{level}>{html.escape(text)}</h{level}>"


def table(cells: list[GridCell]) -> str:
    """A <table> from cells placed on a grid; rows are emitted in order, cells left to right."""
    rows: dict[int, list[GridCell]] = {}
    for cell in cells:
        rows.setdefault(cell.row, []).append(cell)
    if not rows:
        return ""
    out = ["<table>"]
    for r in range(max(rows) + 1):
        tds = []
        for cell in sorted(rows.get(r, []), key=lambda c: c.col):
            attrs = (f' rowspan="{cell.rowspan}"' if cell.rowspan > 1 else "") + \
                    (f' colspan="{cell.colspan}"' if cell.colspan > 1 else "")
            text = "<br>".join(html.escape(line) for line in cell.text.strip().split("\n"))
            tds.append(f"<td{attrs}>{text}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table>")
    return "".join(out)
