"""Page image → deskewed page, ruling lines, tables and their cells (with rowspan/colspan).

Why OpenCV morphology and not img2table: the template's tables are fully ruled, so opening the ink
with long thin kernels finds every ruling line; cells are then the connected regions the lines
enclose, which keeps merged cells merged (a rowspan cell is one region) and tolerates the slight
lean of a photographed page. This needs the line mask itself (to blank rules out of cell crops and
to close outlines cut by a page break), which img2table does not expose. img2table was NOT
measured against it; layout costs 0.2 s a page at 200 dpi (bench/ocr.py), so speed was no reason
to look further.

Sizes scale with the page's dpi: kernels are in inches, not pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class Cell:
    """One table cell: grid position after span expansion, its box in page pixels (x0, y0, x1, y1)."""

    row: int
    col: int
    rowspan: int
    colspan: int
    box: tuple[int, int, int, int]


@dataclass
class Table:
    box: tuple[int, int, int, int]
    cells: list[Cell] = field(default_factory=list)
    rows: int = 0
    cols: int = 0
    open_top: bool = False       # no rule along the top: continued from the previous page
    open_bottom: bool = False    # no rule along the bottom: continues on the next page


def binarise(gray: np.ndarray, dpi: int) -> np.ndarray:
    """Ink = 255. Adaptive (local) threshold: a photographed page is lit unevenly, so no single
    global level separates ink from paper everywhere. A light Gaussian, not a median: a median
    erases the 1-px ruling lines of a bilevel scan (specks are dropped later, by size)."""
    block = max(15, int(dpi * 0.16) | 1)
    smooth = cv2.GaussianBlur(gray, (3, 3), 0)
    return cv2.adaptiveThreshold(smooth, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY_INV, block, 15)


def horizontal_lines(ink: np.ndarray, dpi: int) -> np.ndarray:
    """Ink runs at least 0.35 in long and one pixel tall (a CJK stroke is ~0.15 in)."""
    length = max(20, int(dpi * 0.35))
    closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 1)))
    lines = cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    return lines


def deskew_angle(ink: np.ndarray, dpi: int) -> float:
    """The page's skew in degrees, from the long horizontal ruling lines (length-weighted median
    of each line's fitted angle); 0 when the page has no such lines."""
    lines = horizontal_lines(ink, dpi)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    angles: list[float] = []
    weights: list[float] = []
    min_len = dpi * 1.5
    for i in range(1, count):
        x, y, w, h, area = stats[i]
        if w < min_len or h > w * 0.1:
            continue
        ys, xs = np.nonzero(labels[y:y + h, x:x + w] == i)
        if len(xs) < 10:
            continue
        slope = np.polyfit(xs.astype(np.float64), ys.astype(np.float64), 1)[0]
        angles.append(float(np.degrees(np.arctan(slope))))
        weights.append(float(w))
    if not angles:
        return 0.0
    order = np.argsort(angles)
    cumulative = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(angles)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    """Rotate by `angle` degrees (positive: counter-clockwise in image coordinates fixes a
    clockwise-drifting line), paper-coloured border."""
    if abs(angle) < 0.05:
        return gray
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    paper = int(np.percentile(gray, 90))
    return cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_CUBIC, borderValue=paper)


def line_mask(ink: np.ndarray, dpi: int) -> np.ndarray:
    """Horizontal and vertical ruling lines. A vertical run counts as a line only when it joins
    horizontal lines at both ends (or at one end, when longer than any character: the side of
    a table cut by a page break): character strokes are as tall as the shortest table rows,
    but sit inside the cell's padding."""
    horizontal = horizontal_lines(ink, dpi)
    horizontal = cv2.dilate(horizontal, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3)))
    closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 5)))
    vertical = cv2.morphologyEx(closed, cv2.MORPH_OPEN,
                                cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(10, int(dpi * 0.09)))))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(vertical, connectivity=8)
    reach = max(4, int(dpi * 0.03))
    keep = np.zeros(count, dtype=bool)
    height = horizontal.shape[0]
    for i in range(1, count):
        x, y, w, h, _ = stats[i]
        if w > dpi * 0.05:
            continue
        top = horizontal[max(0, y - reach):y + reach, x:x + w].any()
        bottom = horizontal[max(0, y + h - reach):min(height, y + h + reach), x:x + w].any()
        # one end free: a table cut by a page break has no rule along the cut
        keep[i] = (top and bottom) or ((top or bottom) and h >= dpi * 0.5)
    vertical = np.where(keep[labels], 255, 0).astype(np.uint8)
    vertical = cv2.dilate(vertical, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 2 * reach + 1)))
    return cv2.bitwise_or(horizontal, vertical)


def _clusters(values: list[int], tolerance: int) -> list[int]:
    """Sorted cluster representatives (medians) of values closer than `tolerance` in a chain."""
    if not values:
        return []
    values = sorted(values)
    groups = [[values[0]]]
    for v in values[1:]:
        if v - groups[-1][-1] <= tolerance:
            groups[-1].append(v)
        else:
            groups.append([v])
    return [int(np.median(g)) for g in groups]


def _span(start: int, end: int, bounds: list[int], tolerance: int) -> tuple[int, int]:
    """(first index, count) of the grid bounds a cell from `start` to `end` covers."""
    first = int(np.argmin([abs(b - start) for b in bounds]))
    count = sum(1 for b in bounds[first:] if b < end - tolerance)
    return first, max(1, count)


def span_cells(boxes: list[tuple[int, int, int, int]], dpi: int) -> tuple[list[tuple[int, int, int, int]], int, int]:
    """(row, col, rowspan, colspan) of each cell box, and the grid's row and column counts: grid
    columns start where some cell's left edge is (clustered: a photographed page leans a little),
    rows where some cell's top edge is; a cell spans the starts it covers."""
    tolerance = max(6, int(dpi * 0.06))
    cols = _clusters([b[0] for b in boxes], tolerance)
    rows = _clusters([b[1] for b in boxes], tolerance)
    spans = []
    for b in boxes:
        col, colspan = _span(b[0], b[2], cols, tolerance)
        row, rowspan = _span(b[1], b[3], rows, tolerance)
        spans.append((row, col, rowspan, colspan))
    return spans, len(rows), len(cols)


def find_tables(lines: np.ndarray, dpi: int) -> list[Table]:
    """Tables (line structures at least 1 in wide) and the cells their lines enclose."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    tables = []
    for i in range(1, count):
        x, y, w, h, _ = stats[i]
        if w < dpi * 1.0 or h < dpi * 0.2:
            continue
        # a page break leaves the outline open along the cut, and the cut rows' text can run past
        # the ends of the vertical rules (人 of 自然/人 below them): extend an open side by a line
        # (only near the page's edge, where page breaks are; the band allows a leaning rule)
        band = max(4, int(dpi * 0.06))
        page_height = lines.shape[0]
        open_top = y < 0.25 * page_height and lines[y:y + band, x:x + w].any(axis=0).mean() < 0.8
        open_bottom = y + h > 0.75 * page_height and lines[y + h - band:y + h, x:x + w].any(axis=0).mean() < 0.8
        extend = int(dpi * 0.2)
        if open_top:
            top = max(0, y - extend)
            h, y = h + (y - top), top
        if open_bottom:
            h = min(lines.shape[0], y + h + extend) - y
        table = Table(box=(int(x), int(y), int(x + w), int(y + h)), open_top=bool(open_top),
                      open_bottom=bool(open_bottom))
        region = lines[y:y + h, x:x + w].copy()
        cv2.rectangle(region, (0, 0), (w - 1, h - 1), 255, 2)
        inside = cv2.bitwise_not(region)
        n, labels, cstats, _ = cv2.connectedComponentsWithStats(inside, connectivity=4)
        min_w, min_h = max(6, int(dpi * 0.06)), max(6, int(dpi * 0.06))
        boxes = []
        for j in range(1, n):
            cx, cy, cw, ch, area = cstats[j]
            if cw < min_w or ch < min_h:
                continue
            if cx == 0 or cy == 0 or cx + cw >= w or cy + ch >= h:   # outside the outer border
                continue
            if area < 0.5 * cw * ch:   # not a cell-shaped region (an open border let the outside in)
                continue
            boxes.append((int(x + cx), int(y + cy), int(x + cx + cw), int(y + cy + ch)))
        if len(boxes) < 2:
            continue
        spans, table.rows, table.cols = span_cells(boxes, dpi)
        table.cells = [Cell(*span, box) for span, box in zip(spans, boxes)]
        table.cells.sort(key=lambda c: (c.row, c.col))
        tables.append(table)
    tables.sort(key=lambda t: t.box[1])
    return tables
