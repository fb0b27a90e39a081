"""One table cell's pixels → its text and confidence: blank by ink, numbers by a digits-only
reading, labels by chi_sim snapped to the template's known labels.

Why this order: value cells outnumber label cells about 3:1 in the template's tables, so each
inked cell is first read as a number (eng, whitelist 0-9 . -, one line: fast, and it cannot
invent a CJK character); only when that reading is not a clean number, or the ink is not shaped
like digits (a CJK glyph is about as wide as tall, a digit half as wide), is it read with chi_sim.
Blank cells are decided before any OCR by the ink left once ruling-line remnants and specks are
removed, so they cost nothing and never read as a stray "1".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from parsers.ocr.engine import Engine
from parsers.ocr.labels import snap

_NUMBER_RE = re.compile(r"^-?\d+(?:\.\d+)?$")
_DIGITISH_RE = re.compile(r"^[\d.,\-—－−\s]+$")


@dataclass
class CellReading:
    text: str            # what the report shows (snapped label, or the digits read); "" when blank
    raw: str             # what tesseract read, before snapping
    confidence: float    # 0-1; 1.0 for a blank decided by ink
    kind: str            # "blank", "number", "label", "text"


def ink_of(gray: np.ndarray, ink: np.ndarray, lines: np.ndarray, box: tuple[int, int, int, int],
           dpi: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The cell's crop (grey, paper outside the kept ink) and its ink mask, trimmed to the ink;
    None when nothing but specks and line remnants is left (a blank cell)."""
    x0, y0, x1, y1 = box
    pad = max(2, int(dpi * 0.01))
    x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 - pad, y1 - pad
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    mask = ink[y0:y1, x0:x1].copy()
    mask[lines[y0:y1, x0:x1] > 0] = 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    min_extent = max(4, int(dpi * 0.035))
    keep = np.zeros(count, dtype=bool)
    for i in range(1, count):
        x, y, w, h, area = stats[i]
        touches = x == 0 or y == 0 or x + w >= mask.shape[1] or y + h >= mask.shape[0]
        # a remnant of a ruling line hugs the crop's edge and is thin along it
        if touches and (w <= 3 or h <= 3):
            continue
        keep[i] = max(w, h) >= min_extent and area >= min_extent
    if not keep.any():
        return None
    kept = keep[labels]
    ys, xs = np.nonzero(kept)
    margin = max(3, int(dpi * 0.03))
    top, bottom = max(0, ys.min() - margin), min(mask.shape[0], ys.max() + margin + 1)
    left, right = max(0, xs.min() - margin), min(mask.shape[1], xs.max() + margin + 1)
    grey = gray[y0:y1, x0:x1].copy()
    near = cv2.dilate(kept.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    paper = int(np.percentile(grey, 95)) if grey.size else 255
    grey[~near] = paper
    return grey[top:bottom, left:right], kept[top:bottom, left:right]


def _looks_like_digits(mask: np.ndarray, dpi: int) -> bool:
    """Digits: one line whose glyphs are narrow (mean glyph width < 0.8 × line height)."""
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = mask.any(axis=0)
    height = rows.max() - rows.min() + 1
    if height > dpi * 0.28:   # more than one line of 10-12pt text
        return False
    # glyph runs along x, merging gaps of 1-2 px (broken strokes)
    runs, inside, gap = [], False, 0
    for x, on in enumerate(cols):
        if on:
            if not inside:
                runs.append([x, x])
                inside = True
            runs[-1][1] = x
            gap = 0
        else:
            gap += 1
            if gap > 2:
                inside = False
    if not runs:
        return False
    widths = [b - a + 1 for a, b in runs]
    return max(widths) < 0.9 * height or float(np.mean(widths)) < 0.7 * height


def _number_reading(engine: Engine, crop: np.ndarray, mask: np.ndarray, dpi: int) -> CellReading | None:
    """A digits-only reading, checked by a second model: chi_sim with the digit whitelist on the
    binarised crop (reads a lone "0" that eng misses), then eng on the grey crop. When both give a
    number and disagree the cell keeps chi_sim's reading at a confidence below any threshold."""
    binary = Image.fromarray(np.pad(np.where(mask, 0, 255).astype(np.uint8), 10, constant_values=255))
    first = engine.read(binary, "digits_cjk", dpi)
    text = first.text.replace(" ", "")
    if not _NUMBER_RE.match(text):
        return None
    grey = Image.fromarray(np.pad(crop, 10, constant_values=int(crop.max())))
    second = engine.read(grey, "digits", dpi)
    other = second.text.replace(" ", "")
    if other == text:
        confidence = max(first.confidence, second.confidence)
    elif _NUMBER_RE.match(other):
        confidence = min(first.confidence, second.confidence, 0.5)
    else:
        confidence = first.confidence
    return CellReading(text, first.text if other == text else f"{first.text} | {second.text}", confidence, "number")


def read_cell(engine: Engine, gray: np.ndarray, ink: np.ndarray, lines: np.ndarray,
              box: tuple[int, int, int, int], dpi: int) -> CellReading:
    found = ink_of(gray, ink, lines, box, dpi)
    if found is None:
        return CellReading("", "", 1.0, "blank")
    crop, mask = found
    if _looks_like_digits(mask, dpi):
        number = _number_reading(engine, crop, mask, dpi)
        if number is not None:
            return number
    image = Image.fromarray(np.pad(crop, 10, constant_values=int(crop.max())))
    one_line = mask.shape[0] <= dpi * 0.28
    reading = engine.read(image, "line" if one_line else "block", dpi)
    raw = reading.text
    flat = re.sub(r"\s+", "", raw)
    if _DIGITISH_RE.match(flat or "x"):
        return CellReading(flat, raw, reading.confidence, "number")
    label, confident = snap(flat)
    if label is not None:
        return CellReading(label, raw, max(reading.confidence, confident), "label")
    return CellReading(flat, raw, reading.confidence, "text")
