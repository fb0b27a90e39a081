"""One page image → its tables (cells read) and its text lines outside the tables.

Stages (timed separately for bench/ocr.py): `layout` (binarise, deskew, ruling lines, cells),
`ocr` (cells, then the page's text with tables blanked out).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from nianbao.parsers.ocr import layout
from nianbao.parsers.ocr.cells import CellReading, read_cell
from nianbao.parsers.ocr.engine import Engine


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


WORKING_DPI = 200   # pages below it are upscaled first: chi_sim misreads 10-12pt labels at 150 dpi


def read_page(engine: Engine, image: Image.Image, page: int, dpi: int, threshold: float) -> PageResult:
    """Tables, cells and text lines of one page; boxes in the pixels of `image` (at `dpi`)."""
    if dpi < WORKING_DPI:
        factor = WORKING_DPI / dpi
        big = image.convert("L").resize((round(image.width * factor), round(image.height * factor)), Image.BICUBIC)
        result = read_page(engine, big, page, WORKING_DPI, threshold)
        return _rescaled(result, 1 / factor, dpi, (image.width, image.height))
    started = time.process_time()
    image = upright(engine, image.convert("L"))
    gray = np.asarray(image)
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


OSD_MIN_CONFIDENCE = 2.0   # tesseract's OSD confidence below which a page is left as it is


def upright(engine: Engine, image: Image.Image) -> Image.Image:
    """The page turned upright when tesseract's OSD is sure it was scanned sideways or upside down
    (boxes are then in the upright page's pixels)."""
    degrees, confidence = engine.orientation(image)
    if degrees and confidence >= OSD_MIN_CONFIDENCE:
        return image.rotate(degrees, expand=True, fillcolor=int(np.percentile(np.asarray(image), 90)))
    return image


def _scale_box(box: tuple[int, int, int, int], f: float) -> tuple[int, int, int, int]:
    return (int(box[0] * f), int(box[1] * f), int(round(box[2] * f)), int(round(box[3] * f)))


def _rescaled(result: PageResult, f: float, dpi: int, size: tuple[int, int]) -> PageResult:
    """A page read upscaled, with its boxes back in the original image's pixels."""
    result.dpi, result.size = dpi, size
    for table in result.tables:
        table.box = _scale_box(table.box, f)
        for cell in table.cells:
            cell.box = _scale_box(cell.box, f)
    for cells in result.cells:
        for cell in cells:
            cell.box = _scale_box(cell.box, f)
    for line in result.lines:
        line.box = _scale_box(line.box, f)
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
    found = engine.lines(Image.fromarray(masked), dpi)
    heights = sorted(box[3] - box[1] for _, _, box in found)
    median = heights[len(heights) // 2] if heights else 0
    out = []
    for index, (text, confidence, (x0, y0, x1, y1)) in enumerate(found):
        if index < 2 or (y1 - y0 >= 1.25 * median and len(found) > 2):
            # the page's first lines, a heading or the title in larger type: read again as one line at a few scales, the
            # most confident kept (bold 17pt 县 came back as 有具, 白 as 自, at full size); the
            # title carries the report's identity
            pad = max(4, int(dpi * 0.03), (y1 - y0) // 3)   # the layout's line box can clip a large glyph
            top, left = max(0, y0 - pad), max(0, x0 - pad)
            crop = masked[top:y1 + pad, left:x1 + pad]
            # rows with real ink only (a line box swollen by specks holds the line and paper)
            dense = np.nonzero(ink[top:y1 + pad, left:x1 + pad].sum(axis=1) > 255 * 0.01 * crop.shape[1])[0]
            if len(dense):
                margin = max(3, int(dpi * 0.02))
                crop = crop[max(0, dense[0] - margin):dense[-1] + margin + 1]
            image = Image.fromarray(np.pad(crop, 10, constant_values=paper))
            best = max((engine.read(image.resize((int(image.width * f), int(image.height * f)), Image.LANCZOS),
                                    "line", dpi) for f in (0.6, 0.75, 1.0)), key=lambda r: r.confidence)
            if best.text:
                text, confidence = best.text, best.confidence
        out.append(TextLine(page, text, round(confidence, 3), (x0, y0, x1, y1)))
    return out
