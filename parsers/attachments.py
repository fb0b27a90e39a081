"""Attachments → HTML the report parser can read: PDF (pdfplumber) and DOCX (python-docx).

Pure: bytes in, HTML string out (text as <p>, tables as <table> with rowspan/colspan), no I/O.
Returns None for formats we cannot read (old binary DOC, WPS, OFD, spreadsheets) or broken files;
an image-only PDF gives a page with no text, which the parser reports as `no_tables`.
"""

from __future__ import annotations

import html
import io
import zipfile
from typing import Any

PDF_TYPES = ("application/pdf", "application/x-pdf")
DOCX_TYPES = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)


def sniff(data: bytes, content_type: str | None = None) -> str | None:
    """'pdf', 'docx' or None, by magic bytes first (servers mislabel), then Content-Type."""
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                if "word/document.xml" in z.namelist():
                    return "docx"
        except zipfile.BadZipFile:
            return None
        return None
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct in PDF_TYPES:
        return "pdf"
    if ct in DOCX_TYPES:
        return "docx"
    return None


def _page(parts: list[str]) -> str:
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n'
            + "\n".join(parts) + "\n</body></html>\n")


def _table_html(rows: list[list[Any]]) -> str:
    out = ["<table>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c or '').strip())}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def pdf_to_html(data: bytes) -> str | None:
    import pdfplumber

    parts: list[str] = []
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for page in pdf.pages:
                tables = page.find_tables()
                boxes = [t.bbox for t in tables]

                def outside(obj: dict[str, Any], boxes: list = boxes) -> bool:
                    x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
                    return not any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)

                # Text and tables in reading order: sort blocks by their top edge.
                blocks: list[tuple[float, str]] = []
                text = page.filter(outside).extract_text_lines() if boxes else page.extract_text_lines()
                blocks += [(ln["top"], f"<p>{html.escape(ln['text'])}</p>") for ln in text]
                blocks += [(t.bbox[1], _table_html(t.extract())) for t in tables]
                parts += [b for _, b in sorted(blocks, key=lambda b: b[0])]
    except Exception:  # pdfminer raises many types on damaged files; a bad file is a status, not a crash
        return None
    return _page(parts)


def _docx_table(table: Any) -> str:
    """A DOCX table with gridSpan → colspan and vMerge → rowspan."""
    from docx.oxml.ns import qn

    grid: list[list[dict[str, Any] | None]] = []
    origin: dict[tuple[int, int], dict[str, Any]] = {}
    for r, tr in enumerate(table._tbl.tr_lst):
        row: list[dict[str, Any] | None] = []
        col = 0
        for tc in tr.tc_lst:
            span = tc.grid_span
            vmerge = tc.tcPr.find(qn("w:vMerge")) if tc.tcPr is not None else None
            text = "\n".join("".join(t.text or "" for t in p.iter(qn("w:t"))) for p in tc.iter(qn("w:p")))
            if vmerge is not None and vmerge.get(qn("w:val")) in (None, "continue") and (r - 1, col) in origin:
                cell = origin[(r - 1, col)]
                cell["rowspan"] += 1
                origin[(r, col)] = cell
                row.append(None)
            else:
                cell = {"text": text, "colspan": span, "rowspan": 1}
                origin[(r, col)] = cell
                row.append(cell)
            col += span
        grid.append(row)
    out = ["<table>"]
    for row in grid:
        tds = []
        for cell in row:
            if cell is None:
                continue
            attrs = (f' colspan="{cell["colspan"]}"' if cell["colspan"] > 1 else "") + \
                    (f' rowspan="{cell["rowspan"]}"' if cell["rowspan"] > 1 else "")
            tds.append(f"<td{attrs}>{html.escape(cell['text'].strip())}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table>")
    return "".join(out)


def docx_to_html(data: bytes) -> str | None:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception:  # python-docx raises several types on damaged files
        return None
    parts: list[str] = []
    for block in document.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = Paragraph(block, document).text
            if text.strip():
                parts.append(f"<p>{html.escape(text)}</p>")
        elif tag == "tbl":
            parts.append(_docx_table(Table(block, document)))
    return _page(parts)


def attachment_to_html(data: bytes, content_type: str | None = None) -> str | None:
    """HTML (text + tables) for a PDF or DOCX attachment; None when the format is not readable."""
    kind = sniff(data or b"", content_type)
    if kind == "pdf":
        return pdf_to_html(data)
    if kind == "docx":
        return docx_to_html(data)
    return None
