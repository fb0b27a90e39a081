"""Scanned report (image-only PDF or page images) → HTML the table reader understands, and every
OCR'd cell with its confidence, page and pixel box.

Why HTML: the scan then goes through the same reader as every other format (parsers.parse_report),
so OCR only has to recover the page's structure: the title as <h1>, text lines as <p>, each ruled
table as a <table> with rowspan/colspan. Each <td> carries data-ocr-confidence, data-page,
data-box (x0,y0,x1,y1 pixels at the render dpi, after deskew) and, when the reading was snapped
to a known label or flagged, data-ocr-raw / data-low-confidence.

Cache: OCR is the cost (seconds a page), so results are kept by payload digest. The parser stays
pure: the caller passes `cache`, any object with get(key) and put(key, value) (or a dict); the
archive backs it with a table. A hit makes no tesseract call.
"""

from __future__ import annotations

import hashlib
import html
import io
import time
from collections.abc import Iterable
from typing import Any

from PIL import Image

from nianbao.parsers.ocr.engine import Engine, default_engine
from nianbao.parsers.ocr.layout import span_cells
from nianbao.parsers.ocr.page import PageResult, read_page

OCR_VERSION = "1"          # bump when a change alters readings: cached results of older versions are ignored
THRESHOLD = 0.80           # cells read below this confidence are flagged low_confidence (bench/ocr.py measures)
DEFAULT_DPI = 200
# Bounds on one document's OCR (issue 15, point 6: no input may stall or blow memory). OCR costs
# ≈ 2.3 s CPU a page and an annual report has ≤ ~20 pages, so pages past MAX_PAGES are not read (a
# warning says which); a page whose mediabox is absurd (≤ 0, or over 5 m a side, as a damaged PDF
# gives) is skipped, and a page that would render to more than MAX_PIXELS is rendered at a lower dpi.
MAX_PAGES = 30
MAX_PAGE_POINTS = 5000 / 25.4 * 72   # 5 m in PDF points
MAX_PIXELS = 40_000_000              # ≈ 40 MB greyscale; an A4 page at 200 dpi is 3.9 Mpx


# ---------------------------------------------------------------- cache


def cache_key(payload: bytes, dpi: int | None, kind: str) -> str:
    return f"ocr:{OCR_VERSION}:{kind}:{dpi or 'auto'}:{hashlib.sha1(payload).hexdigest()}"


def _cache_get(cache: Any, key: str) -> Any:
    if cache is None:
        return None
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - a failing cache is a miss
        return None


def _cache_put(cache: Any, key: str, value: Any) -> None:
    if cache is None:
        return
    try:
        if hasattr(cache, "put"):
            cache.put(key, value)
        else:
            cache[key] = value
    except Exception:  # noqa: BLE001 - a failing cache only costs time
        pass


# ---------------------------------------------------------------- inputs


def render_dpi(width: float, height: float, dpi: int) -> int | None:
    """The dpi to render a page of `width` x `height` points at: `dpi`, lowered so the image stays
    within MAX_PIXELS; None for a page size no real page has (≤ 0 or over MAX_PAGE_POINTS)."""
    if not (0 < width <= MAX_PAGE_POINTS and 0 < height <= MAX_PAGE_POINTS):
        return None
    pixels = width * height * (dpi / 72) ** 2
    if pixels <= MAX_PIXELS:
        return dpi
    return max(1, int(dpi * (MAX_PIXELS / pixels) ** 0.5))


def render_pdf_pages(pdf: bytes, dpi: int, pages: Iterable[int] | None = None,
                     warnings: list[str] | None = None) -> list[tuple[int, Image.Image, int]]:
    """(page index, greyscale image, dpi it was rendered at), within the bounds above."""
    import pypdfium2 as pdfium

    warnings = warnings if warnings is not None else []
    doc = pdfium.PdfDocument(pdf)
    try:
        wanted = list(range(len(doc)) if pages is None else pages)
        if len(wanted) > MAX_PAGES:
            skipped = wanted[MAX_PAGES:]
            warnings.append(f"OCR limited to {MAX_PAGES} pages: page(s) {_ranges(skipped)} not read")
            wanted = wanted[:MAX_PAGES]
        out = []
        for i in wanted:
            page = doc[i]
            try:
                width, height = page.get_size()
                page_dpi = render_dpi(width, height, dpi)
                if page_dpi is None:
                    warnings.append(f"page {i + 1} not read by OCR: page size {width:.0f} x {height:.0f} pt "
                                    "is not a real page (damaged PDF?)")
                    continue
                if page_dpi < dpi:
                    warnings.append(f"page {i + 1} ({width:.0f} x {height:.0f} pt) rendered at {page_dpi} dpi, "
                                    f"not {dpi}, to stay within {MAX_PIXELS // 1_000_000} Mpx")
                image = page.render(scale=page_dpi / 72, grayscale=True).to_pil().convert("L")
                out.append((i, image, page_dpi))
            finally:
                page.close()
        return out
    finally:
        doc.close()


def _ranges(pages: list[int]) -> str:
    """0-based page indexes as 1-based ranges: [30, 31, 32, 40] → '31-33, 41'."""
    spans: list[list[int]] = []
    for p in pages:
        if spans and p == spans[-1][1] + 1:
            spans[-1][1] = p
        else:
            spans.append([p, p])
    return ", ".join(f"{a + 1}-{b + 1}" if b > a else f"{a + 1}" for a, b in spans)


def image_dpi(image: Image.Image) -> int:
    """The image's dpi: its own tag when sane, else from its width taken as an A4 page (8.27 in)."""
    tagged = image.info.get("dpi")
    if tagged and 100 <= float(tagged[0]) <= 600 and abs(float(tagged[0]) - 72) > 1:
        return int(round(float(tagged[0])))
    return int(min(600, max(100, round(image.size[0] / 8.27))))


# ---------------------------------------------------------------- HTML


def _merge_continuations(pages: list[PageResult]) -> list[tuple[int, int, list[dict]]]:
    """Tables as (page, y, cells) with a table that runs over a page break joined into one: a page
    that starts with a table as wide as the table that ended the previous page continues it."""
    merged: list[tuple[int, int, list[dict]]] = []
    previous_last: tuple[PageResult, int] | None = None
    for page in pages:
        for t, table in enumerate(page.tables):
            cells = [c.as_dict() for c in page.cells[t]]
            first_item = t == 0 and not any(line.box[3] <= table.box[1] for line in page.lines)
            if first_item and previous_last is not None and merged:
                prev_page, prev_t = previous_last
                prev_box = prev_page.tables[prev_t].box
                width = prev_box[2] - prev_box[0]
                if abs((table.box[2] - table.box[0]) - width) <= 0.02 * width and \
                        abs(table.box[0] - prev_box[0]) <= 0.03 * width:
                    merged[-1][2].extend(cells)
                    continue
            merged.append((page.page, table.box[1], cells))
        last_table = len(page.tables) - 1
        ends_with_table = last_table >= 0 and not any(
            line.box[1] >= page.tables[last_table].box[3] for line in page.lines)
        previous_last = (page, last_table) if ends_with_table else None
    return merged


def _regrid(cells: list[dict], dpi: int) -> None:
    """Rows/cols/spans of a (possibly page-joined) table from all its cell boxes together; later
    pages' boxes are stacked below earlier ones so their rows stay apart."""
    offset, stacked, last_page, page_bottom = 0, [], None, 0
    for cell in cells:
        if cell["page"] != last_page:
            if last_page is not None:
                offset += page_bottom + dpi
            last_page, page_bottom = cell["page"], 0
        x0, y0, x1, y1 = cell["box"]
        page_bottom = max(page_bottom, y1)
        stacked.append((x0, y0 + offset, x1, y1 + offset))
    spans, _, _ = span_cells(stacked, dpi)
    for cell, (row, col, rowspan, colspan) in zip(cells, spans):
        cell.update(row=row, col=col, rowspan=rowspan, colspan=colspan)


def _td(cell: dict) -> str:
    attrs = ""
    if cell["rowspan"] > 1:
        attrs += f' rowspan="{cell["rowspan"]}"'
    if cell["colspan"] > 1:
        attrs += f' colspan="{cell["colspan"]}"'
    attrs += (f' data-ocr-confidence="{cell["confidence"]:.3f}" data-page="{cell["page"] + 1}"'
              f' data-box="{",".join(str(v) for v in cell["box"])}"')
    if cell["raw"] and cell["raw"] != cell["text"]:
        attrs += f' data-ocr-raw="{html.escape(cell["raw"], quote=True)}"'
    if cell["low_confidence"]:
        attrs += ' data-low-confidence="1"'
    return f"<td{attrs}>{html.escape(cell['text'])}</td>"


def table_html(cells: list[dict]) -> str:
    """The cells as a <table>, laid out so that the HTML grid (spans expanded, as parsers.grid
    reads it) puts every cell at its own (row, col): a grid position no detected cell covers gets
    an empty filler <td data-ocr-filler="1">, else every later cell of the row would shift left."""
    if not cells:
        return '<table border="1"></table>'
    rows = max(c["row"] + c["rowspan"] for c in cells)
    cols = max(c["col"] + c["colspan"] for c in cells)
    taken = [[False] * cols for _ in range(rows)]
    starts = {}
    for cell in sorted(cells, key=lambda c: (c["row"], c["col"])):
        spots = [(r, c) for r in range(cell["row"], cell["row"] + cell["rowspan"])
                 for c in range(cell["col"], cell["col"] + cell["colspan"])]
        if any(taken[r][c] for r, c in spots):
            continue   # overlaps a cell already placed (a mis-cut region): not emitted
        for r, c in spots:
            taken[r][c] = True
        starts[(cell["row"], cell["col"])] = cell
    covered = [[False] * cols for _ in range(rows)]
    out = ['<table border="1">']
    for r in range(rows):
        parts = []
        for c in range(cols):
            if covered[r][c]:
                continue
            cell = starts.get((r, c))
            if cell is None:
                parts.append('<td data-ocr-filler="1"></td>')
                continue
            for rr in range(r, r + cell["rowspan"]):
                for cc in range(c, c + cell["colspan"]):
                    covered[rr][cc] = True
            parts.append(_td(cell))
        out.append("<tr>" + "".join(parts) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _title_lines(pages: list[PageResult]) -> set[tuple[int, int]]:
    """(page, line index) of the title, on the first page with text: the first of its leading five
    lines naming a 报告, with the line before it when that one is in the same large type (a title
    wrapped over two lines); without one, the leading lines printed larger than the body text."""
    for page in pages:
        if not page.lines:
            continue
        heights = sorted(line.box[3] - line.box[1] for line in page.lines)
        median = heights[len(heights) // 2]
        lead = page.lines[:5]
        for i, line in enumerate(lead):
            flat = line.text.replace(" ", "").lstrip("，,.。、")
            if "报告" in flat and not flat.startswith(("本报告", "根据", "按照")) and "《" not in flat:
                out = {(page.page, i)}
                if i > 0 and lead[i - 1].box[3] - lead[i - 1].box[1] >= 1.15 * median and \
                        "日期" not in lead[i - 1].text and "报告" not in lead[i - 1].text:
                    out.add((page.page, i - 1))
                return out
        out = set()
        for i, line in enumerate(page.lines[:4]):
            if line.box[3] - line.box[1] >= 1.25 * median:
                out.add((page.page, i))
            elif out:
                break
        return out or {(page.page, 0)}
    return set()


def build_html(pages: list[PageResult], dpi: int) -> tuple[str, list[dict]]:
    """The page sequence as one HTML document, and the flat list of cells (final grid positions)."""
    tables = _merge_continuations(pages)
    for _, _, cells in tables:
        _regrid(cells, dpi)
    items: list[tuple[int, int, str]] = []
    title = _title_lines(pages)
    title_text = "".join(line.text.replace(" ", "") for page in pages for i, line in enumerate(page.lines)
                         if (page.page, i) in title)
    for page in pages:
        for i, line in enumerate(page.lines):
            if (page.page, i) in title:
                continue
            items.append((page.page, line.box[1], f"<p>{html.escape(line.text)}</p>"))
    flat: list[dict] = []
    for index, (page_no, y, cells) in enumerate(tables):
        for cell in cells:
            cell["table"] = index
        items.append((page_no, y, table_html(cells)))
        flat.extend(cells)
    items.sort(key=lambda item: (item[0], item[1]))
    head = f"<title>{html.escape(title_text)}</title>" if title_text else ""
    body = (f"<h1>{html.escape(title_text)}</h1>\n" if title_text else "") + "\n".join(i[2] for i in items)
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">{head}</head>\n<body>\n{body}\n</body></html>\n',
            flat)


# ---------------------------------------------------------------- entry points


def _run(images: list[tuple[int, Image.Image, int]], engine: Engine, threshold: float,
         render_seconds: float, warnings: list[str] | None = None) -> dict[str, Any]:
    results = []
    for page_no, image, dpi in images:
        results.append(read_page(engine, image, page_no, dpi, threshold))
    dpi = images[0][2] if images else DEFAULT_DPI
    document, cells = build_html(results, dpi)
    return {
        "status": "ocr",
        "html": document,
        "cells": cells,
        "lines": [dict(line.__dict__, box=list(line.box)) for r in results for line in r.lines],
        "pages": [{"page": r.page, "dpi": r.dpi, "size": list(r.size), "angle": r.angle,
                   "timings": {"render": round(render_seconds / max(1, len(results)), 4),
                               **{k: round(v, 4) for k, v in r.timings.items()}}} for r in results],
        "threshold": threshold,
        "ocr_version": OCR_VERSION,
        "warnings": list(warnings or []),
    }


def _unavailable(reason: str) -> dict[str, Any]:
    return {"status": reason, "html": "", "cells": [], "lines": [], "pages": [], "ocr_version": OCR_VERSION}


def scan_pdf(pdf: bytes, dpi: int = DEFAULT_DPI, *, pages: list[int] | None = None, cache: Any = None,
             engine: Engine | None = None, threshold: float = THRESHOLD) -> dict[str, Any]:
    """OCR a PDF's pages (all, or `pages`) rendered at `dpi`. Never raises: status `ocr`,
    `unreadable` (pdfium cannot open it) or `ocr_unavailable` (no tesseract/chi_sim)."""
    key = cache_key(pdf + repr(pages).encode(), dpi, "pdf")
    hit = _cache_get(cache, key)
    if hit is not None:
        return hit
    engine = engine or default_engine()
    if not engine.available():
        return _unavailable("ocr_unavailable")
    started = time.process_time()
    warnings: list[str] = []
    try:
        rendered = render_pdf_pages(pdf, dpi, pages, warnings)
    except Exception:  # noqa: BLE001 - bad input is a status
        return _unavailable("unreadable")
    result = _run(rendered, engine, threshold, time.process_time() - started, warnings)
    _cache_put(cache, key, result)
    return result


def scan_images(images: list[bytes | Image.Image], dpi: int | None = None, *, cache: Any = None,
                engine: Engine | None = None, threshold: float = THRESHOLD) -> dict[str, Any]:
    """OCR page images (JPEG/PNG/TIFF bytes, or PIL images), one page each, in order."""
    payloads = []
    for image in images:
        if isinstance(image, Image.Image):
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            payloads.append(buffer.getvalue())
        else:
            payloads.append(bytes(image))
    key = cache_key(b"".join(hashlib.sha1(p).digest() for p in payloads), dpi, "images")
    hit = _cache_get(cache, key)
    if hit is not None:
        return hit
    engine = engine or default_engine()
    if not engine.available():
        return _unavailable("ocr_unavailable")
    started = time.process_time()
    pages = []
    try:
        for i, payload in enumerate(payloads):
            image = Image.open(io.BytesIO(payload))
            image.load()
            pages.append((i, image.convert("L"), dpi or image_dpi(image)))
    except Exception:  # noqa: BLE001
        return _unavailable("unreadable")
    result = _run(pages, engine, threshold, time.process_time() - started)
    _cache_put(cache, key, result)
    return result


def pdf_scan_to_html(pdf: bytes, dpi: int = DEFAULT_DPI, *, cache: Any = None) -> str:
    return scan_pdf(pdf, dpi, cache=cache)["html"]


def images_to_html(images: list[bytes | Image.Image], dpi: int | None = None, *, cache: Any = None) -> str:
    return scan_images(images, dpi, cache=cache)["html"]


def scan_to_html(pages: list[Image.Image] | list[bytes] | bytes, dpi: int | None = None, *,
                 cache: Any = None) -> str:
    """A PDF's bytes, or a list of page images: the HTML of its OCR."""
    if isinstance(pages, (bytes, bytearray)):
        return pdf_scan_to_html(bytes(pages), dpi or DEFAULT_DPI, cache=cache)
    return images_to_html(list(pages), dpi, cache=cache)

