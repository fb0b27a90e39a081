"""An HTML <table> → a grid with rowspan/colspan expanded (each position points at its cell).

Only the table's own rows count (rows of nested tables belong to those tables).
"""

from __future__ import annotations

from functools import lru_cache

from lxml import etree

from nianbao.parsers.model import Cell, Table
from nianbao.parsers.values import clean_raw

MAX_SPAN = 200  # real spans are < 30; a hostile "colspan=99999" must not eat memory


@lru_cache(maxsize=256)
def _span(value: str | None) -> int:
    if not value:
        return 1
    digits = "".join(ch for ch in value.strip() if ch.isdigit())[:4]
    if not digits:
        return 1
    return max(1, min(int(digits), MAX_SPAN))


def own_rows(table: etree._Element) -> list[etree._Element]:
    rows = []
    for child in table:
        tag = child.tag
        if tag == "tr":
            rows.append(child)
        elif tag in ("tbody", "thead", "tfoot"):
            rows.extend(gc for gc in child if gc.tag == "tr")
    return rows


# Cell texts repeat across cells and reports (numbers, template labels): cleaning each distinct
# raw text once saves a regex pass per cell.
_clean_cached = lru_cache(maxsize=65536)(clean_raw)
_tostring = etree.tostring


def cell_text(td: etree._Element) -> str:
    """The cell's printed text; labels split across <p>/<span>/<font> join up (comments were
    removed by the parser).

    lxml's text serialiser does the join in C: ~8x faster than "".join(td.itertext()) on cells
    made of many <span>s (Word pages), same text; a cell without children is just its .text.
    """
    raw = _tostring(td, method="text", encoding="unicode", with_tail=False) if len(td) else td.text or ""
    return _clean_cached(raw)


def _number(text: str | None, kind: type) -> float | int | None:
    try:
        return kind(text) if text is not None else None
    except ValueError:
        return None


def ocr_provenance(td: etree._Element) -> dict:
    """The output keys of an OCR'd cell, from the data attributes parsers.ocr writes on its <td>:
    method 'ocr', confidence (0-1), page (1-based), box [x0, y0, x1, y1] (pixels at the render dpi,
    after deskew) and low_confidence: true when the reading is below the OCR threshold."""
    confidence = _number(td.get("data-ocr-confidence"), float)
    box = [_number(v, int) for v in (td.get("data-box") or "").split(",")]
    out: dict = {"method": "ocr",
                 "confidence": None if confidence is None else max(0.0, min(1.0, confidence)),
                 "page": _number(td.get("data-page"), int),
                 "box": box if len(box) == 4 and None not in box else None}
    if td.get("data-low-confidence"):
        out["low_confidence"] = True
    return out


def build_table(element: etree._Element, index: int) -> Table:
    table = Table(index=index)
    grid: list[list[Cell | None]] = []
    rows = table.rows
    inherited: set[int] = set()  # rows holding a cell that a rowspan brought down from above
    for r, tr in enumerate(own_rows(element)):
        row_cells: list[Cell] = []
        if len(grid) <= r:
            grid.append([])
        line = grid[r]
        width = len(line)  # kept in step with line: this loop runs for every cell of every table
        c = 0
        for td in tr:
            if td.tag not in ("td", "th"):
                continue
            while c < width and line[c] is not None:
                c += 1
            rowspan = td.get("rowspan")
            rowspan = _span(rowspan) if rowspan else 1
            colspan = td.get("colspan")
            colspan = _span(colspan) if colspan else 1
            cell = Cell(cell_text(td), index, r, c, rowspan, colspan)
            if td.get("data-ocr-confidence") is not None:  # a scan's cell (parsers/ocr): keep where it came from
                cell.ocr = ocr_provenance(td)
            row_cells.append(cell)
            if rowspan == 1 and colspan == 1:  # the common case, without the span loops
                if c < width:
                    line[c] = cell  # None here: the while above stopped on it
                else:
                    line.append(cell)  # c == width: the row grows by one
                    width += 1
                c += 1
                continue
            for dr in range(rowspan):
                while len(grid) <= r + dr:
                    grid.append([])
                target = grid[r + dr]
                if len(target) < c + colspan:
                    target.extend([None] * (c + colspan - len(target)))
                for dc in range(colspan):
                    if target[c + dc] is None:
                        target[c + dc] = cell
                        if dr:
                            inherited.add(r + dr)
            width = len(line)
            c += colspan
        rows.append(row_cells)
    # rows created only by a rowspan past the last <tr> carry no own cells
    while len(rows) < len(grid):
        rows.append([])
    table.grid = grid
    # A row no rowspan reaches into is covered by exactly its own cells, in order: give
    # Table.covering its answer now rather than have it rebuilt from the grid (asked of every row).
    for r, row_cells in enumerate(rows):
        if r not in inherited:
            table._covering[r] = list(row_cells)
    return table
