"""Document formats: what a file is (sniff.py) and how each kind becomes HTML for parse_report.

    sniff.py   magic bytes → kind (name and content type only break ties)
    page.py    the HTML every converter writes (<p>, <h1>/<h2>, <table> with spans)
    office.py  DOC/WPS/RTF → DOCX through LibreOffice headless (the one subprocess: see its docstring)
    ofd.py     OFD's XML text layer and rulings → HTML
    sheet.py   XLSX (openpyxl) / XLS (xlrd) → HTML

The single entry that dispatches over them is parsers.document.parse_document.
"""

from nianbao.parsers.formats.sniff import IMAGE_KINDS, Sniffed, declared_kind, sniff

__all__ = ["IMAGE_KINDS", "Sniffed", "declared_kind", "sniff"]
