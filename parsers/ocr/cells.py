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

from nianbao.parsers.ocr.engine import Engine
from nianbao.parsers.ocr.labels import snap

_NUMBER_RE = re.compile(r"^-?\d+(?:\.\d+)?$")
SINGLE_READING_CAP = 0.75   # below parsers.ocr.scan.THRESHOLD: what one model alone read is flagged
_MONEY_RE = re.compile(r"^-?\d+(?:\.\d+)?万?元$")
_TRAILING_RE = re.compile(r"[.,，。、·]+$")   # a speck after the last digit is not part of the number


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
    # small pieces near the kept ink are part of the text (a decimal point, the dot of 安, quotes);
    # specks further away are dust
    near = cv2.dilate(kept.astype(np.uint8), cv2.getStructuringElement(
        cv2.MORPH_RECT, (int(dpi * 0.06) | 1, int(dpi * 0.03) | 1))) > 0
    text = (labels > 0) & near & ~_edge_remnants(labels, stats, keep, mask.shape)
    ys, xs = np.nonzero(kept)
    # ... but only between the first and last real glyph: a decimal point sits between digits,
    # a speck just left of a "1" would make it a "4"
    text[:, :xs.min()] = kept[:, :xs.min()]
    text[:, xs.max() + 1:] = kept[:, xs.max() + 1:]
    margin = max(3, int(dpi * 0.03))
    top, bottom = max(0, ys.min() - margin), min(mask.shape[0], ys.max() + margin + 1)
    left, right = max(0, xs.min() - margin), min(mask.shape[1], xs.max() + margin + 1)
    grey = gray[y0:y1, x0:x1].copy()
    paper = int(np.percentile(grey, 95)) if grey.size else 255
    grey[~cv2.dilate(text.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)] = paper
    return grey[top:bottom, left:right], text[top:bottom, left:right]


def _edge_remnants(labels: np.ndarray, stats: np.ndarray, keep: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels of thin components hugging the crop's edge (what is left of a ruling line)."""
    remnant = np.zeros(len(stats), dtype=bool)
    for i in range(1, len(stats)):
        x, y, w, h, _ = stats[i]
        touches = x == 0 or y == 0 or x + w >= shape[1] or y + h >= shape[0]
        remnant[i] = touches and (w <= 3 or h <= 3) and not keep[i]
    return remnant[labels]


def _looks_like_digits(mask: np.ndarray, dpi: int) -> bool:
    """Digits: one line whose glyphs are narrow (mean glyph width < 0.8 × line height)."""
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = mask.any(axis=0)
    height = rows.max() - rows.min() + 1
    if len(_text_lines(mask, dpi)) > 1:
        return False
    # glyph runs along x, merging 1-px gaps (broken strokes)
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
            if gap > 1:
                inside = False
    if not runs:
        return False
    widths = [b - a + 1 for a, b in runs]
    return float(np.mean(widths)) < 0.9 * height


def _number_reading(engine: Engine, crop: np.ndarray, mask: np.ndarray, dpi: int) -> CellReading | None:
    """A digits-only reading by two models: eng on the grey crop and chi_sim (same whitelist) on
    the binarised crop. Each fails differently (eng drops a lone "0", chi_sim garbles some short
    numbers), so: both agree → 1 - (1-c1)(1-c2); only one reads a number → that one; they
    read different numbers → the one a third reading (eng, binarised) sides with, else the
    more confident one, at a confidence below any threshold (flagged either way)."""
    crop = cv2.GaussianBlur(crop, (3, 3), 0)
    _, otsu = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    grey = _upscaled(np.pad(crop, 10, constant_values=int(crop.max())))
    binary = Image.fromarray(np.pad(otsu, 10, constant_values=255))
    readings = []
    for image, kind in ((grey, "digits"), (binary, "digits_cjk")):
        reading = engine.read(image, kind, dpi)
        text = _TRAILING_RE.sub("", reading.text.replace(" ", ""))
        if _NUMBER_RE.match(text) and reading.confidence > 0:
            readings.append((reading.confidence, text, reading.text))
    if not readings:
        return None
    readings.sort(reverse=True)
    confidence, text, raw = readings[0]
    if len(readings) == 2 and readings[1][1] != text:
        # a third reading breaks the tie (eng on the binarised crop: chi_sim without a whitelist
        # drops the same leading digit chi_sim with one does); the cell stays flagged
        third = engine.read(_upscaled(np.pad(otsu, 10, constant_values=255)), "digits", dpi)
        vote = _TRAILING_RE.sub("", third.text.replace(" ", ""))
        if vote == readings[1][1]:
            confidence, text = readings[1][0], vote
        raw = " | ".join([r[2] for r in readings] + [third.text])
        return CellReading(text, raw, min(confidence, 0.5), "number")
    if len(readings) == 1:   # one model read nothing: ask the third reader for a second opinion
        third = engine.read(_upscaled(np.pad(otsu, 10, constant_values=255)), "digits", dpi)
        if _TRAILING_RE.sub("", third.text.replace(" ", "")) == text and third.confidence > 0:
            readings.append((third.confidence, text, third.text))
    if len(readings) == 2:   # two models agree: wrong only if both are (noisy-OR of their confidences)
        confidence = 1 - (1 - readings[0][0]) * (1 - readings[1][0])
    else:                    # only one model could read it: never above the flagging threshold
        confidence = min(confidence, SINGLE_READING_CAP)
    return CellReading(text, raw, round(confidence, 3), "number")


def _upscaled(a: np.ndarray) -> Image.Image:
    """1.5x: digits of 10-12pt text at 150-200 dpi are 20-25 px tall, below what tesseract's
    models read reliably one or two at a time (chi_sim read "29" as "3" at 1x, right at 1.5x)."""
    image = Image.fromarray(a)
    return image.resize((image.width * 3 // 2, image.height * 3 // 2), Image.BICUBIC)


def _text_lines(mask: np.ndarray, dpi: int) -> list[tuple[int, int]]:
    """(top, bottom) rows of each text line in a cell's ink. Pieces split at blank pixel rows are
    joined while together they are no taller than one character of 10-12pt text (总 falls apart
    into 丷/口/心 at blank rows; two lines of 总/计 are twice as tall)."""
    rows = mask.any(axis=1)
    pieces, start = [], None
    for y, on in enumerate(rows):
        if on and start is None:
            start = y
        elif not on and start is not None:
            pieces.append([start, y])
            start = None
    if start is not None:
        pieces.append([start, len(rows)])
    em = dpi * 12.5 / 72
    merged: list[list[int]] = []
    for a, b in pieces:
        if merged and b - merged[-1][0] <= em:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _one_line(crop: np.ndarray, mask: np.ndarray, dpi: int) -> np.ndarray:
    """The cell's text lines set side by side as one line: a wrapped label ("法律服/务机构") or
    vertical text ("总/计") then reads as the single phrase it is, with the context tesseract's
    line recogniser needs (a lone "计" read alone came back as "寺")."""
    lines = _text_lines(mask, dpi)
    paper = int(crop.max())
    if len(lines) <= 1:
        return crop
    strips = []
    for top, bottom in lines:
        cols = np.nonzero(mask[top:bottom].any(axis=0))[0]
        strips.append(crop[top:bottom, cols.min():cols.max() + 1])
    height = max(s.shape[0] for s in strips)
    gap = np.full((height, max(4, int(dpi * 0.04))), paper, dtype=crop.dtype)
    parts = []
    for strip in strips:
        extra = height - strip.shape[0]
        parts.append(np.pad(strip, ((extra // 2, extra - extra // 2), (0, 0)), constant_values=paper))
        parts.append(gap)
    return np.hstack(parts[:-1])


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
    one_line = len(_text_lines(mask, dpi)) == 1
    line = _one_line(crop, mask, dpi)
    padded = np.pad(line, 10, constant_values=int(crop.max()))
    # softened first: chi_sim returned nothing for a clean 行政事业性收费 whose paper had been
    # flattened around the glyphs, and read it once blurred
    reading = engine.read(Image.fromarray(cv2.GaussianBlur(padded, (3, 3), 0)), "line", dpi)
    raw = reading.text
    flat = _TRAILING_RE.sub("", re.sub(r"\s+", "", raw))
    if _MONEY_RE.match(flat):   # a number with its unit (251000元, 12.5万元): chi_sim's reading, unit kept
        return CellReading(flat, raw, reading.confidence, "number")
    label, confident = snap(flat)
    if label is not None:
        return CellReading(label, raw, max(reading.confidence, confident), "label")
    if len(flat) > 3 or not flat:
        # chi_sim sometimes returns nothing or noise for a line it reads at another scale
        # ("1.信访举报投诉类申请": "" at 1x, right at 1.25x): retry before giving up on a label
        for factor, soften in ((1.0, False), (1.5, True), (1.25, False)):
            image = Image.fromarray(cv2.GaussianBlur(padded, (3, 3), 0) if soften else padded)
            if factor != 1.0:
                image = image.resize((int(image.width * factor), int(image.height * factor)), Image.BICUBIC)
            retry = engine.read(image, "line", dpi)
            label, confident = snap(retry.text)
            if label is not None:
                return CellReading(label, retry.text, max(retry.confidence, confident), "label")
    if one_line and len(flat) <= 12:
        # digits the shape test missed (touching glyphs), read by chi_sim as CJK ("25" → "双S") or
        # short of a digit ("30" → "0"): the digit models decide, and a disagreement is flagged
        number = _number_reading(engine, crop, mask, dpi)
        if number is not None:
            if _NUMBER_RE.match(flat) and flat != number.text:
                return CellReading(number.text, f"{number.raw} | {raw}", min(number.confidence, 0.5), "number")
            return number
        if _NUMBER_RE.match(flat):
            return CellReading(flat, raw, min(reading.confidence, 0.5), "number")
        if flat in ("O", "o", "〇", "○"):   # a lone zero read as a letter: kept as 0, flagged
            return CellReading("0", raw, min(reading.confidence, 0.5), "number")
    return CellReading(flat, raw, reading.confidence, "text")
