"""An HTML page → lines of running text (block elements break lines), tables as marker lines.

Done in C as far as possible (lxml's text serialiser over a tree whose block elements were given
newlines): walking the tree in Python cost more than parsing it. Lines made only of link text
are flagged: navigation and related-report links must not be taken for the title or a section.
Only leaf tables become markers; a layout table wrapping the article is read as text blocks.
"""

from __future__ import annotations

import re

from lxml import etree

from parsers.text_tables import TABLE_MARK

SKIP = ("script", "style", "noscript", "template", "head", "select", "option", "button",
        "iframe", "textarea", "svg", "object", "title")
BLOCK = ("p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt",
         "dd", "tr", "td", "th", "section", "article", "header", "footer", "nav", "aside",
         "blockquote", "pre", "hr", "center", "form", "main", "caption", "table", "tbody")
LINK_OPEN, LINK_CLOSE = "\ue000", "\ue001"  # private-use: lxml refuses control characters
TABLE_IN_TREE = "\ue002table:"
_HSPACE_RE = re.compile(r"[ \t\r\f\v\u00a0\u3000\ufeff\u200b\u2000-\u200a]+")
_LINKED_RE = re.compile(f"{LINK_OPEN}[^{LINK_CLOSE}]*{LINK_CLOSE}?")



def _drop(element: etree._Element) -> None:
    """Remove an element but keep its tail text in place."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    previous = element.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


_HIDDEN_XPATH = etree.XPath("//*[contains(@style, 'none')]")
HIDDEN_HINT = re.compile(r"display\s*:\s*none", re.I)


def has_hidden_hint(text: str, utf8: bytes | None = None) -> bool:
    """Same answer as `HIDDEN_HINT.search(text)` (`utf8`: the text's UTF-8 bytes, if at hand).

    That case-insensitive regex scans a page at ~6 µs/KB (its "i" and "s" have non-ASCII case
    twins, so no fast literal search). "play" and "none" have no such twins, so a match needs
    both in the ASCII-lowered UTF-8 bytes: two C-speed finds rule out most pages (~1 µs/KB).
    """
    data = (utf8 if utf8 is not None else text.encode("utf-8", "surrogatepass")).lower()
    if b"none" not in data or b"play" not in data:
        return False
    return HIDDEN_HINT.search(text) is not None


def html_lines(root: etree._Element, leaf_tables: dict[int, etree._Element],
               has_hidden: bool = True) -> list[tuple[str, bool]]:
    """(text, link_only) per line; each leaf table (index → element) becomes a TABLE_MARK line.

    Mutates `root` (call after the tables were read). `has_hidden=False` (the page source has no
    "display:none") skips the search for hidden elements.
    """
    etree.strip_elements(root, *SKIP, with_tail=False)
    if has_hidden:
        for element in _HIDDEN_XPATH(root):
            if "display:none" in element.get("style", "").replace(" ", "").lower():
                _drop(element)
    for index, table in leaf_tables.items():
        if table.getparent() is None:
            continue
        tail = table.tail or ""
        table.clear()
        table.tail = f"\n{TABLE_IN_TREE}{index}\n{tail}"
    for anchor in root.iter("a"):
        anchor.text = LINK_OPEN + (anchor.text or "")
        anchor.tail = LINK_CLOSE + (anchor.tail or "")
    for block in root.iter(*BLOCK):
        block.text = "\n" + (block.text or "")
        block.tail = "\n" + (block.tail or "")
    text = etree.tostring(root, method="text", encoding="unicode")
    text = _HSPACE_RE.sub(" ", text)  # one pass over the page instead of one per line
    lines: list[tuple[str, bool]] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if LINK_OPEN in line or LINK_CLOSE in line:
            unlinked = _LINKED_RE.sub("", line).replace(LINK_CLOSE, "").strip()
            line = line.replace(LINK_OPEN, "").replace(LINK_CLOSE, "").strip()
            if line:
                lines.append((" ".join(line.split()) if "  " in line else line, not unlinked))
            continue
        if line.startswith(TABLE_IN_TREE):
            line = TABLE_MARK + line[len(TABLE_IN_TREE):]
        lines.append((line, False))
    return lines
