"""parse_document: the one door for every report file, whatever its format.

    from nianbao.parsers.document import parse_document
    report = parse_document(data, content_type="application/pdf", filename="2023年报.pdf", source=url)

Bytes in, the canonical report out (parsers.parse_report's dict plus `"format": <kind>`). The kind is
decided by magic bytes (parsers/formats/sniff.py); the content type and file name only break ties, since
servers mislabel. Every kind but HTML/text is converted to HTML (text as <p>, headings as <h1>/<h2>,
tables as <table> with rowspan/colspan) and read by the same parse_report, so `nianbao parse`, the build
and any other caller get one answer for one file:

    html (HTML/XHTML/text, any charset)  parse_report as is
    pdf                                  parsers.attachments.pdf_to_html (pdfplumber); pages with no usable
                                         text layer (none, or text yielding no template label: a CID font
                                         without ToUnicode) are read by OCR instead (parsers.ocr.scan_pdf)
    docx                                 parsers.attachments.docx_to_html (python-docx)
    doc, rtf                             LibreOffice → DOCX → docx_to_html (parsers/formats/office.py)
    wps (Kingsoft)                       by its container: DOCX inside → docx_to_html, OLE2 → as doc
    ofd                                  parsers/formats/ofd.py (its XML text layer and rulings)
    xlsx, xls                            parsers/formats/sheet.py (openpyxl, xlrd)
    png, jpeg, tiff, gif, bmp, webp      OCR (parsers.ocr.scan_images), `image_only` when OCR is not installed

OCR'd cells carry method 'ocr', confidence, page, box (and low_confidence) in the report; the report gets
an `ocr` summary (pages, dpi, threshold, version, cells, low_confidence) and a warning. `cache` (any object
with get/put, keys `ocr:{OCR_VERSION}:...`) keeps OCR results by payload digest: the build passes one kept
in its data dir, so a rebuild reads no scan twice. Documents read from their text layer are unchanged.

Statuses beyond parse_report's: `image_only` (an image and no OCR), `unsupported_format` (bytes of a kind
we do not read; the warning shows their signature, never a guess), `unreadable` (a file of a known kind
that is broken, or whose converter is not installed; the warning says which). Never raises.
"""

from __future__ import annotations

import inspect
import io
import xml.etree.ElementTree
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import lxml.etree

from nianbao.parsers.formats import IMAGE_KINDS, declared_kind, sniff
from nianbao.parsers.report import parse_report

# parse_report grows a `hints` keyword (registry agency, page metadata); pass it only once it exists
_TAKES_HINTS = "hints" in inspect.signature(parse_report).parameters


def parse_document(data: bytes, *, content_type: str | None = None, filename: str | None = None,
                   source: str = "", hints: dict | None = None, cache: Any = None) -> dict[str, Any]:
    """The canonical report of one file (see the module doc). Never raises. `cache`: OCR results
    (see parsers.ocr), used only when a scan is read."""
    try:
        if isinstance(data, str):  # already text: only HTML or plain text can arrive this way
            return _read(data, "html", source, hints)
        if data is not None and not isinstance(data, (bytes, bytearray, memoryview)):
            return _status(source, "unreadable", None, f"input is {type(data).__name__}, not bytes")
        return _parse_document(bytes(data or b""), content_type, filename, source, hints, cache)
    except Exception as error:  # noqa: BLE001 - the contract: never raise on any input
        return _status(source, "unreadable", None, f"document error: {type(error).__name__}: {error}")


def _parse_document(data: bytes, content_type: str | None, filename: str | None, source: str,
                    hints: dict | None, cache: Any = None) -> dict[str, Any]:
    if not data.strip():
        declared = declared_kind(content_type, filename)
        if declared not in (None, "html"):
            return _status(source, "unreadable", declared, f"empty file (declared {declared})")
    found = sniff(data, content_type, filename)
    kind = found.kind
    if kind is None:
        return _status(source, "unsupported_format", None, f"unsupported format: {found.signature}")
    if found.error:
        return _status(source, "unreadable", kind, found.error)
    if kind == "html":
        return _read(data, kind, source, hints)
    if kind in IMAGE_KINDS:
        return _image(data, kind, source, hints, cache)
    scan = _pdf_scan(data, cache) if kind == "pdf" else None
    if scan is not None:
        return scan.report(source, hints)
    converter = _CONVERTERS.get(kind)
    if converter is None:  # a kind sniff knows but nothing converts yet
        return _status(source, "unsupported_format", kind, f"unsupported format: {found.signature}")
    warnings: list[str] = []
    try:
        html = converter(data, warnings)
    except _Unreadable as error:
        return _status(source, "unreadable", kind, str(error))
    except _DAMAGED as error:  # a damaged container or XML part (byte-flipped, truncated): not our bug
        if kind not in _ZIP_KINDS:
            return _status(source, "unreadable", kind, f"{kind.upper()} not readable: {type(error).__name__}: {error}")
        return _status(source, "unreadable", kind, f"{kind.upper()} damaged: {type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - each library raises its own types on damaged files
        return _status(source, "unreadable", kind, f"{kind.upper()} not readable: {type(error).__name__}: {error}")
    if html is None:
        damage = _zip_damage(data) if kind in _ZIP_KINDS else None
        if damage:
            return _status(source, "unreadable", kind, f"{kind.upper()} damaged: {damage}")
        return _status(source, "unreadable", kind, f"{kind.upper()} not readable (damaged file?)")
    report = _read(html, kind, source, hints)
    report["warnings"][:0] = warnings
    return report


def _read(data: bytes | str, kind: str, source: str, hints: dict | None) -> dict[str, Any]:
    report = parse_report(data, source=source, hints=hints) if _TAKES_HINTS else parse_report(data, source=source)
    report["format"] = kind
    return report


def _status(source: str, status: str, kind: str | None, warning: str) -> dict[str, Any]:
    """A report with no content: parse_report's empty shape (all keys), this status and one warning."""
    report = parse_report(b"", source=source)
    report.update(status=status, format=kind, warnings=[warning])
    return report


# what a damaged zip container (DOCX, XLSX, OFD, WPS) or its XML raises from the converters
_DAMAGED: tuple[type[BaseException], ...] = (zlib.error, zipfile.BadZipFile, KeyError, EOFError,
                                             lxml.etree.LxmlError, xml.etree.ElementTree.ParseError)

_ZIP_KINDS = ("docx", "xlsx", "ofd", "wps")


def _zip_damage(data: bytes) -> str | None:
    """Why a zip container is damaged (its first member that fails to inflate or to match its CRC),
    or None when every member reads: the converter then failed for another reason."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            budget = 256 << 20  # bytes inflated at most: a zip bomb is not read to its end
            for info in archive.infolist()[:2000]:
                try:
                    with archive.open(info) as member:
                        while budget > 0 and (chunk := member.read(1 << 20)):
                            budget -= len(chunk)
                except _DAMAGED + (ValueError, OSError, NotImplementedError) as error:
                    return f"member {info.filename}: {type(error).__name__}: {error}"
    except _DAMAGED + (ValueError, OSError, NotImplementedError) as error:
        return f"{type(error).__name__}: {error}"
    return None


class _Unreadable(Exception):
    """A converter's clear reason (tool missing, conversion failed): becomes the `unreadable` warning."""


# ---------------------------------------------------------------- converters: bytes → HTML (or None)


def _pdf(data: bytes, warnings: list[str]) -> str | None:
    from nianbao.parsers.attachments import pdf_to_html

    return pdf_to_html(data)


def _docx(data: bytes, warnings: list[str]) -> str | None:
    from nianbao.parsers.attachments import docx_to_html

    return docx_to_html(data)


def _via_libreoffice(ext: str) -> Callable[[bytes, list[str]], str | None]:
    def convert(data: bytes, warnings: list[str]) -> str | None:
        from nianbao.parsers.formats import office

        try:
            docx = office.convert(data, ext, "docx")
        except office.ToolMissing as missing:
            if ext == "doc":
                return _antiword(data, warnings, str(missing))
            raise _Unreadable(str(missing)) from None
        except office.ConversionFailed as failed:
            raise _Unreadable(str(failed)) from None
        return _docx(docx, warnings)
    return convert


def _antiword(data: bytes, warnings: list[str], why: str) -> str:
    """Text-only fallback for Word 97-2003 when LibreOffice is missing (see parsers/formats/office.py)."""
    from nianbao.parsers.formats import office

    try:
        text = office.antiword_text(data)
    except office.ToolMissing:
        raise _Unreadable(why) from None
    except office.ConversionFailed as failed:
        raise _Unreadable(f"{why}; antiword: {failed}") from None
    warnings.append(f"{why}: read by antiword, tables as text (merged and wrapped cells may be wrong)")
    return text


def _wps(data: bytes, warnings: list[str]) -> str | None:
    """Kingsoft WPS: a DOCX inside (read as DOCX) or an OLE2 Word file (converted as DOC)."""
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "word/document.xml" in archive.namelist():
                return _docx(data, warnings)
    return _via_libreoffice("doc" if data[:4] == b"\xd0\xcf\x11\xe0" else "wps")(data, warnings)


def _ofd(data: bytes, warnings: list[str]) -> str | None:
    from nianbao.parsers.formats.ofd import ofd_to_html

    return ofd_to_html(data, warnings)


def _xlsx(data: bytes, warnings: list[str]) -> str | None:
    from nianbao.parsers.formats.sheet import xlsx_to_html

    return xlsx_to_html(data)


def _xls(data: bytes, warnings: list[str]) -> str | None:
    from nianbao.parsers.formats.sheet import xls_to_html

    return xls_to_html(data)


_CONVERTERS: dict[str, Callable[[bytes, list[str]], str | None]] = {
    "pdf": _pdf, "docx": _docx, "doc": _via_libreoffice("doc"), "rtf": _via_libreoffice("rtf"), "wps": _wps,
    "ofd": _ofd, "xlsx": _xlsx, "xls": _xls,
}


# ---------------------------------------------------------------- scans: PDFs without a usable text layer, images


def _ocr() -> Any:
    """nianbao.parsers.ocr, or None when its libraries (tesserocr, OpenCV) are not installed. Imported per
    call (cheap once loaded) so a parser without OCR still reads every other format."""
    try:
        import nianbao.parsers.ocr as ocr
    except ImportError:
        return None
    return ocr


class _Scan:
    """An OCR result (parsers.ocr scan_pdf/scan_images) and, for a PDF with some good pages, the HTML
    of those pages' text layer, ready to become the report."""

    def __init__(self, kind: str, result: dict, pages: list[int] | None, text_html: str | None = None):
        self.kind, self.result, self.pages, self.text_html = kind, result, pages, text_html

    def html(self) -> str:
        scanned = self.result.get("html") or ""
        if not self.text_html:
            return scanned
        # a mixed PDF: the scanned pages' body after the text pages' (their order within is kept)
        body = scanned.split("<body>", 1)[-1].rsplit("</body>", 1)[0]
        at = self.text_html.rfind("</body>")
        return self.text_html + body if at < 0 else self.text_html[:at] + body + self.text_html[at:]

    def report(self, source: str, hints: dict | None) -> dict[str, Any]:
        report = _read(self.html(), self.kind, source, hints)
        cells = self.result.get("cells") or []
        low = sum(1 for c in cells if c.get("low_confidence"))
        pages = sorted({p["page"] + 1 for p in self.result.get("pages") or []})
        threshold = self.result.get("threshold")
        report["ocr"] = {"pages": pages, "dpi": sorted({p.get("dpi") for p in self.result.get("pages") or []}),
                         "threshold": threshold, "version": self.result.get("ocr_version"),
                         "cells": len(cells), "low_confidence": low}
        what = "page image" if self.kind != "pdf" else (
            "PDF without a usable text layer" if self.text_html is None else "PDF pages without a usable text layer")
        if pages:
            said = (f"{what} read by OCR (page(s) {', '.join(map(str, pages))}): "
                    f"{len(cells)} table cells, {low} below confidence {threshold}")
        else:
            said = f"{what}: no page could be read by OCR"
        report["warnings"][:0] = [said, *(self.result.get("warnings") or [])]
        return report


def _pdf_scan(data: bytes, cache: Any) -> _Scan | None:
    """The OCR of a PDF's pages that have no usable text layer (parsers.ocr.pages_needing_ocr: no
    text, or text that yields no template label, as a CID font without ToUnicode gives), or None:
    the text layer is read as before (born-digital PDFs are never OCR'd; nor are PDFs when OCR is
    not installed, or pdfium cannot open them: pdfplumber then says what it can)."""
    ocr = _ocr()
    if ocr is None:
        return None
    pages = ocr.pages_needing_ocr(data)
    if not pages:
        return None
    total = _page_count(data)
    whole = total is not None and len(pages) >= total
    result = ocr.scan_pdf(data, cache=cache, pages=None if whole else pages)
    if result.get("status") != "ocr":
        return None
    if whole:
        return _Scan("pdf", result, None)
    if not result.get("cells") and not result.get("lines"):  # blank pages of a born-digital PDF
        return None
    from nianbao.parsers.attachments import pdf_to_html

    return _Scan("pdf", result, pages, pdf_to_html(data) or "")


def _page_count(data: bytes) -> int | None:
    try:
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(data)
        try:
            return len(doc)
        finally:
            doc.close()
    except Exception:  # noqa: BLE001 - pages_needing_ocr opened it; a failure here only means "unknown"
        return None


def _image(data: bytes, kind: str, source: str, hints: dict | None, cache: Any = None) -> dict[str, Any]:
    ocr = _ocr()
    if ocr is None:
        return _status(source, "image_only", kind, f"{kind.upper()} image: no text layer and no OCR available")
    result = ocr.scan_images([data], cache=cache)
    status = result.get("status")
    if status == "ocr_unavailable":
        return _status(source, "image_only", kind, f"{kind.upper()} image: no text layer and no OCR available "
                                                   "(tesseract-ocr with chi_sim not installed)")
    if status != "ocr":
        return _status(source, "unreadable", kind, f"{kind.upper()} image not readable (damaged file?)")
    if not result.get("cells") and not result.get("lines"):
        return _status(source, "image_only", kind, f"{kind.upper()} image: OCR read no text")
    return _Scan(kind, result, None).report(source, hints)
