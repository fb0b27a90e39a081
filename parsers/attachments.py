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


def _ptable_html(table: Any) -> str:
    """A stitched PDF table as HTML: cells at their top-left row, spans as printed."""
    rows: list[list[str]] = [[] for _ in range(table.nrows)]
    for cell in table.cells:
        attrs = (f' rowspan="{cell.rowspan}"' if cell.rowspan > 1 else "") + \
                (f' colspan="{cell.colspan}"' if cell.colspan > 1 else "")
        rows[cell.r].append(f"<td{attrs}>{html.escape(cell.text)}</td>")
    return "<table>" + "".join("<tr>" + "".join(r) + "</tr>" for r in rows) + "</table>"


def pdf_to_html(data: bytes) -> str | None:
    """The PDF as printed: page 1's title block as <h1>, text lines as <p>, tables stitched across pages."""
    from nianbao.parsers.pdf_layout import read_pdf

    try:
        layout = read_pdf(data)
    except Exception:  # pdfminer raises many types on damaged files; a bad file is a status, not a crash
        return None
    parts: list[str] = []
    for kind, item in layout.blocks:
        if kind == "title":
            parts.append(f"<h1>{html.escape(item)}</h1>")
        elif kind == "line":
            parts.append(f"<p>{html.escape(item.text)}</p>")
        else:
            parts.append(_ptable_html(item))
    return _page(parts)


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _w_int(element: Any, path: str, default: int) -> int:
    found = element.find(path) if element is not None else None
    value = found.get(W + "val") if found is not None else None
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _para_text(p: Any) -> str:
    return "".join(t.text or "" for t in p.iter(W + "t"))


def _docx_blocks(container: Any, sizes: dict[str, float], out: list[tuple[str, str, float]]) -> None:
    """Paragraphs and tables of a body or cell in order (content controls and custom XML opened)."""
    for child in container:
        tag = child.tag
        if tag == W + "p":
            text = _para_text(child)
            if text.strip():
                out.append(("p", text, _para_size(child, sizes)))
        elif tag == W + "tbl":
            out.append(("table", _docx_table(child, sizes), 0.0))
        elif tag in (W + "sdt", W + "customXml"):
            content = child.find(W + "sdtContent")
            _docx_blocks(content if content is not None else child, sizes, out)


def _para_size(p: Any, sizes: dict[str, float]) -> float:
    """The paragraph's largest run font size in pt (direct formatting, else its style's), 0 unknown."""
    best = 0.0
    for sz in p.iter(W + "sz"):
        try:
            best = max(best, int(sz.get(W + "val", "0")) / 2)
        except ValueError:
            pass
    if not best:
        style = p.find(f"{W}pPr/{W}pStyle")
        if style is not None:
            best = sizes.get(style.get(W + "val", ""), 0.0)
    return best


def _docx_table(tbl: Any, sizes: dict[str, float]) -> str:
    """A DOCX table: gridSpan → colspan, vMerge → rowspan, gridBefore skipped columns, nested tables
    kept inside their cell (the report parser reads leaf tables, a layout table as text)."""
    grid_rows: list[list[dict[str, Any]]] = []
    origin: dict[tuple[int, int], dict[str, Any]] = {}
    rows = []
    for child in tbl:  # the table's own rows (also inside a content control), not a nested table's
        if child.tag == W + "tr":
            rows.append(child)
        elif child.tag in (W + "sdt", W + "customXml"):
            rows.extend(tr for tr in child.iter(W + "tr") if tr.getparent().tag != W + "tbl")
    for r, tr in enumerate(rows):
        row: list[dict[str, Any]] = []
        col = _w_int(tr.find(W + "trPr"), W + "gridBefore", 0)
        for tc in tr.findall(W + "tc"):
            pr = tc.find(W + "tcPr")
            span = max(1, _w_int(pr, W + "gridSpan", 1))
            vmerge = pr.find(W + "vMerge") if pr is not None else None
            above = origin.get((r - 1, col))
            if vmerge is not None and vmerge.get(W + "val") in (None, "continue") and above is not None:
                above["rowspan"] += 1
                origin[(r, col)] = above
            else:
                if tc.find(W + "tbl") is not None:
                    inner: list[tuple[str, str, float]] = []
                    _docx_blocks(tc, sizes, inner)
                    content = "".join(f"<p>{html.escape(t)}</p>" if k == "p" else t for k, t, _ in inner)
                else:
                    content = html.escape("\n".join(_para_text(p) for p in tc.iter(W + "p")).strip())
                cell = {"html": content, "colspan": span, "rowspan": 1}
                origin[(r, col)] = cell
                row.append(cell)
            col += span
        grid_rows.append(row)
    out = ["<table>"]
    for row in grid_rows:
        tds = []
        for cell in row:
            attrs = (f' colspan="{cell["colspan"]}"' if cell["colspan"] > 1 else "") + \
                    (f' rowspan="{cell["rowspan"]}"' if cell["rowspan"] > 1 else "")
            tds.append(f"<td{attrs}>{cell['html']}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _style_sizes(document: Any) -> dict[str, float]:
    """Font size (pt) by paragraph style id, where the style sets one (titles are often styled)."""
    sizes: dict[str, float] = {}
    try:
        for style in document.styles:
            size = getattr(getattr(style, "font", None), "size", None)
            if size is not None:
                sizes[style.style_id] = size.pt
    except Exception:  # a damaged styles part: sizes from direct formatting only
        pass
    return sizes


def docx_to_html(data: bytes) -> str | None:
    """The DOCX as printed: a leading largest-font title as <h1>, paragraphs as <p>, tables with spans."""
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception:  # python-docx raises several types on damaged files
        return None
    sizes = _style_sizes(document)
    blocks: list[tuple[str, str, float]] = []
    _docx_blocks(document.element.body, sizes, blocks)
    parts: list[str] = []
    # the title: the first paragraphs (before any table) in the largest font, larger than the body's
    paragraphs = [size for p in document.element.body.iter(W + "p") if (size := _para_size(p, sizes))]
    lead = []
    for kind, text, size in blocks[:6]:
        if kind != "p":
            break
        lead.append((text, size))
    title_end = 0
    if lead and paragraphs:
        body = sorted(paragraphs)[len(paragraphs) // 2]
        runs = []  # (start, end, size): consecutive leading paragraphs in one large font
        i = 0
        while i < len(lead):
            j = i + 1
            while j < len(lead) and lead[j][1] == lead[i][1]:
                j += 1
            if lead[i][1] >= body * 1.15:
                runs.append((i, j, lead[i][1], "".join(text.strip() for text, _ in lead[i:j])))
            i = j
        # as for PDFs: the run naming a 报告, else the largest if clearly larger than the body
        chosen = next((run for run in runs if "报告" in run[3]), max(runs, key=lambda r: r[2], default=None))
        if chosen is not None and ("报告" in chosen[3] or chosen[2] >= body * 1.3):
            start, title_end, _, title = chosen
            before = next((run for run in runs if run[1] == start), None)  # the body's name above it
            if before is not None and "报告" in title and not before[3].endswith("文件") and "〔" not in before[3] \
                    and len(before[3]) <= 30:
                start, title = before[0], before[3] + title
            parts += [f"<p>{html.escape(text)}</p>" for text, _ in lead[:start]]
            parts.append(f"<h1>{html.escape(title)}</h1>")
    for kind, text, _ in blocks[title_end:]:
        parts.append(f"<p>{html.escape(text)}</p>" if kind == "p" else text)
    return _page(parts)


def attachment_to_html(data: bytes, content_type: str | None = None) -> str | None:
    """HTML (text + tables) for a PDF or DOCX attachment; None when the format is not readable."""
    kind = sniff(data or b"", content_type)
    if kind == "pdf":
        return pdf_to_html(data)
    if kind == "docx":
        return docx_to_html(data)
    return None
