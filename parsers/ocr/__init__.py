"""OCR of scanned reports (image-only PDFs, page images) into the HTML every other format is read from.

    from nianbao.parsers.ocr import needs_ocr, scan_pdf, scan_images, pdf_scan_to_html, images_to_html
    if needs_ocr(pdf_bytes):
        result = scan_pdf(pdf_bytes, dpi=200, cache=cache)   # {"status", "html", "cells", "lines", "pages"}
        report = parse_report(result["html"])

Pipeline (one module each): scan.py render (pypdfium2) → page.py per page → layout.py deskew, ruling
lines, cells (OpenCV) → cells.py blank by ink, digits (eng whitelist) or labels (chi_sim) via
engine.py (tesserocr, one API reused) → labels.py snap to the template's labels → scan.py HTML.
textlayer.py decides which PDF pages need it.
"""

from nianbao.parsers.ocr.scan import (
    DEFAULT_DPI,
    OCR_VERSION,
    THRESHOLD,
    images_to_html,
    pdf_scan_to_html,
    scan_images,
    scan_pdf,
    scan_to_html,
)
from nianbao.parsers.ocr.textlayer import needs_ocr, pages_needing_ocr

__all__ = ["DEFAULT_DPI", "OCR_VERSION", "THRESHOLD", "images_to_html", "needs_ocr", "pages_needing_ocr",
           "pdf_scan_to_html", "scan_images", "scan_pdf", "scan_to_html"]
