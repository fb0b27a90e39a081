"""One page image → its tables (cells read) and its text lines outside the tables.

Stages (timed separately for bench/ocr.py): `layout` (binarise, deskew, ruling lines, cells),
`ocr` (cells, then the page's text with tables blanked out).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from parsers.ocr import layout
from parsers.ocr.cells import CellReading, read_cell
from parsers.ocr.engine import Engine


@dataclass
class OcrCell:
    page: int                         # 0-based page index
    table: int                        # index of the table on its page
    row: int
    col: int
    rowspan: int
    colspan: int
    box: tuple[int, int, int, int]    # pixels at the page's dpi, after deskew
    text: str
    raw: str
    confidence: float
    kind: str                         # blank / number / label / text
    low_confidence: bool = False

    def as_dict(self) -> dict:
        return dict(self.__dict__, box=list(self.box))


@dataclass
class TextLine:
    page: int
    text: str
    confidence: float
    box: tuple[int, int, int, int]


@dataclass
class PageResult:
    page: int
    dpi: int
    size: tuple[int, int]
    angle: float
    tables: list[layout.Table] = field(default_factory=list)
    cells: list[list[OcrCell]] = field(default_factory=list)     # per table
    lines: list[TextLine] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def read_page(engine: Engine, image: Image.Image, page: int, dpi: int, threshold: float) -> PageResult:
    started = time.process_time()
    gray = np.asarray(image.convert("L"))
    angle = layout.deskew_angle(layout.binarise(gray, dpi), dpi)
    gray = layout.rotate(gray, angle)
    ink = layout.binarise(gray, dpi)
    lines = layout.line_mask(ink, dpi)
    tables = layout.find_tables(lines, dpi)
    result = PageResult(page, dpi, (gray.shape[1], gray.shape[0]), round(angle, 3), tables)
    result.timings["layout"] = time.process_time() - started

    started = time.process_time()
    for t, table in enumerate(tables):
        out = []
        for cell in table.cells:
            reading: CellReading = read_cell(engine, gray, ink, lines, cell.box, dpi)
            out.append(OcrCell(page, t, cell.row, cell.col, cell.rowspan, cell.colspan, cell.box,
                               reading.text, reading.raw, reading.confidence, reading.kind,
                               reading.kind != "blank" and reading.confidence < threshold))
        result.cells.append(out)
    result.lines = _text_lines(engine, gray, ink, tables, page, dpi)
    result.timings["ocr"] = time.process_time() - started
    return result


def _text_lines(engine: Engine, gray: np.ndarray, ink: np.ndarray, tables: list[layout.Table], page: int,
                dpi: int) -> list[TextLine]:
    """chi_sim over the page with its tables painted out: title, headings, paragraphs."""
    masked = gray.copy()
    paper = int(np.percentile(gray, 90))
    for table in tables:
        x0, y0, x1, y1 = table.box
        masked[max(0, y0 - 3):y1 + 3, max(0, x0 - 3):x1 + 3] = paper
    if not (layout.binarise(masked, dpi) > 0).any():
        return []
    out = []
    for text, confidence, box in engine.lines(Image.fromarray(masked), dpi):
        out.append(TextLine(page, text, round(confidence, 3), box))
    return out
