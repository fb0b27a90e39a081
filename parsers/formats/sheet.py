"""XLSX (openpyxl) and XLS (xlrd) → HTML: each sheet's blocks of rows become paragraphs or a table.

Why these libraries: both are kept, pure Python, read from bytes and expose merged ranges (→ rowspan/
colspan), so a spreadsheet needs no LibreOffice call. A sheet is split into blocks at blank rows; the
single-cell rows opening a block (a title, a section heading, a sentence) are paragraphs, the rest of the
block a table, which is how statistical annexes are laid out in spreadsheets.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from nianbao.parsers.formats.page import GridCell, page, paragraph, table

Grid = dict[tuple[int, int], str]        # (row, col) -> text, 0-based, non-empty cells only
Merges = list[tuple[int, int, int, int]]  # (first row, first col, last row, last col), inclusive


def xlsx_to_html(data: bytes) -> str:
    import openpyxl

    # not read_only: merged ranges are only known to the full reader; data_only: formulas' cached values
    book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    parts: list[str] = []
    for sheet in book.worksheets:
        grid: Grid = {}
        for row in sheet.iter_rows():
            for cell in row:
                text = _text(cell.value)
                if text:
                    grid[(cell.row - 1, cell.column - 1)] = text
        merges = [(r.min_row - 1, r.min_col - 1, r.max_row - 1, r.max_col - 1) for r in sheet.merged_cells.ranges]
        parts += sheet_blocks(grid, merges)
    return page(parts)


def xls_to_html(data: bytes) -> str:
    import xlrd

    book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True)
    parts: list[str] = []
    for index in range(book.nsheets):
        sheet = book.sheet_by_index(index)
        grid: Grid = {}
        for r in range(sheet.nrows):
            for c, cell in enumerate(sheet.row(r)):
                value = cell.value
                if cell.ctype == xlrd.XL_CELL_DATE:
                    value = xlrd.xldate.xldate_as_datetime(value, book.datemode).date()
                if text := _text(value):
                    grid[(r, c)] = text
        merges = [(rlo, clo, rhi - 1, chi - 1) for rlo, rhi, clo, chi in sheet.merged_cells]
        parts += sheet_blocks(grid, merges)
    return page(parts)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def sheet_blocks(grid: Grid, merges: Merges) -> list[str]:
    """HTML blocks of one sheet: blank rows (no text, no merge reaching them) separate blocks."""
    covered = {(r, c): m for m in merges for r in range(m[0], m[2] + 1) for c in range(m[1], m[3] + 1)}
    used_rows = {r for r, _ in grid} | {r for r, _ in covered}
    if not used_rows:
        return []
    blocks: list[list[int]] = []
    for r in range(min(used_rows), max(used_rows) + 1):
        if r in used_rows:
            if blocks and blocks[-1][-1] == r - 1:
                blocks[-1].append(r)
            else:
                blocks.append([r])
    origin = {(m[0], m[1]): m for m in merges}
    by_row: dict[int, list[str]] = {}
    for (r, _c), text in sorted(grid.items()):
        by_row.setdefault(r, []).append(text)
    tall = {r for (r, _c), m in covered.items() if m[0] != m[2]}
    parts: list[str] = []
    for rows in blocks:
        lead = 0
        # a row is a line of text when it holds one cell and no merge of it reaches another row
        while lead < len(rows) and len(by_row.get(rows[lead], ())) <= 1 and rows[lead] not in tall:
            if by_row.get(rows[lead]):
                parts.append(paragraph(by_row[rows[lead]][0]))
            lead += 1
        body = rows[lead:]
        if not body:
            continue
        first, last = body[0], body[-1]
        cols = sorted({c for (r, c) in grid if first <= r <= last} | {c for (r, c) in covered if first <= r <= last})
        left = cols[0]  # (one pass over the sheet per table block: sheets hold a few blocks)
        cells = []
        for r in body:
            for c in range(left, cols[-1] + 1):
                merge = covered.get((r, c))
                if merge is not None and (r, c) != (merge[0], merge[1]):
                    continue
                span = origin.get((r, c))
                cells.append(GridCell(r - first, c - left, grid.get((r, c), ""),
                                      rowspan=(span[2] - span[0] + 1) if span else 1,
                                      colspan=(span[3] - span[1] + 1) if span else 1))
        parts.append(table(cells))
    return parts
