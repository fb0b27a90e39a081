"""Is a PDF's text layer usable, or must its pages be OCR'd?

Why not "has text": a scan can carry a broken text layer, typically a CJK font without a ToUnicode
map, which pdfium extracts as CID numbers taken for code points (䯜䖪Ⴒ⽛…) and pdfminer as "(cid:N)".
Such text is worse than none. A page's text is trusted when it reads like Chinese or ASCII
(nearly all characters in CJK Unified Ideographs, ASCII, CJK punctuation) and, across the document,
the text yields template labels (section headings or table labels of the template, parsers/template/).
"""

from __future__ import annotations

import re
from functools import lru_cache

import pypdfium2 as pdfium

from nianbao.parsers.keys import template_keys
from nianbao.parsers.labels import norm

_CID_RE = re.compile(r"\(cid:\d+\)")


def _plausible(ch: str) -> bool:
    o = ord(ch)
    return (0x20 <= o < 0x7F or 0x4E00 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF
            or o in (0x201C, 0x201D, 0x2018, 0x2019, 0x2014, 0x2026, 0xB7))


def page_text_usable(text: str) -> bool:
    """At least 10 characters, ≥ 90% of them plausible, no "(cid:N)" runs."""
    s = norm(_CID_RE.sub("\ufffd", text))
    if len(s) < 10:
        return False
    good = sum(1 for ch in s if _plausible(ch))
    return good >= 0.9 * len(s) and "\ufffd" not in s[:200]


@lru_cache(maxsize=1)
def _markers() -> tuple[str, ...]:
    """Template words a real report's text contains: section headings and table labels (normalised)."""
    keys = template_keys()
    words = {norm(h) for h in keys["sections"].values()}
    words |= {norm(v) for v in keys["requests"]["columns"].values() if len(v) >= 3}
    words |= {norm(v) for v in keys["appeals"]["outcomes"].values() if len(v) >= 3}
    return tuple(sorted(words))


def has_template_labels(text: str) -> bool:
    s = norm(text)
    return any(marker in s for marker in _markers())


def page_texts(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    try:
        out = []
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            out.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return out
    finally:
        doc.close()


def pages_needing_ocr(pdf: bytes) -> list[int]:
    """0-based pages to OCR: those without usable text; every page when no page's text yields a
    template label. [] for a PDF pdfium cannot open (not ours to OCR: the caller reports it)."""
    try:
        texts = page_texts(pdf)
    except Exception:  # noqa: BLE001 - a broken PDF is a status, not an exception
        return []
    usable = [page_text_usable(t) for t in texts]
    if not any(u and has_template_labels(t) for u, t in zip(usable, texts)):
        return list(range(len(texts)))
    return [i for i, u in enumerate(usable) if not u]


def needs_ocr(pdf: bytes) -> bool:
    """True when any page of the PDF must be read by OCR (see pages_needing_ocr)."""
    return bool(pages_needing_ocr(pdf))
