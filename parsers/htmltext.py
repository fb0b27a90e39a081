"""An HTML page → lines of running text (block elements break lines), tables as marker lines.

Done in C as far as possible (lxml's text serialiser over a tree whose block elements were given
newlines): walking the tree in Python cost more than parsing it. Lines made only of link text
are flagged: navigation and related-report links must not be taken for the title or a section.
Only leaf tables become markers; a layout table wrapping the article is read as text blocks.
Page chrome (nav/footer elements and containers whose class or id names a menu, breadcrumb,
header or footer) becomes one link-only line: its text can never be a title, agency or section.
"""

from __future__ import annotations

import re

from lxml import etree

from nianbao.parsers.text_tables import TABLE_MARK

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


def lowered_bytes(text: str, utf8: bytes | None = None) -> bytes:
    """The page's ASCII-lowered UTF-8 bytes, for the C-speed `in` tests that gate slower work."""
    return (utf8 if utf8 is not None else text.encode("utf-8", "surrogatepass")).lower()


def has_hidden_hint(text: str, utf8: bytes | None = None, lowered: bytes | None = None) -> bool:
    """Same answer as `HIDDEN_HINT.search(text)` (`utf8`: the text's UTF-8 bytes, if at hand;
    `lowered`: `lowered_bytes(text, utf8)`, if at hand).

    That case-insensitive regex scans a page at ~6 µs/KB (its "i" and "s" have non-ASCII case
    twins, so no fast literal search). "play" and "none" have no such twins, so a match needs
    both in the ASCII-lowered UTF-8 bytes: two C-speed finds rule out most pages (~1 µs/KB).
    """
    data = lowered if lowered is not None else lowered_bytes(text, utf8)
    if b"none" not in data or b"play" not in data:
        return False
    return HIDDEN_HINT.search(text) is not None


# Candidates: every class/id attribute by one XPath (its strings know their element; Word's
# Mso* classes, thousands on an exported page, left out), lowered and searched by one regex.
# XPath's own contains()/translate() over all elements cost 20 ms a page; a bytes pre-check of
# the page for the words cost more than the XPath it would have saved (~0.15 ms on Word pages).
_ATTRS_XPATH = etree.XPath("//@class[not(starts-with(., 'Mso'))] | //@id")
_NAV_WORD_RE = re.compile(r"nav|crumb|bread|dqwz|menu|foot|position|location|copyright|head|top|bottom|banner"
                          r"|share|sitemap|weizhi|logo|title")
# strong: these name chrome wherever they occur in a class/id (subnav, breadcrumb, dqwz = 当前位置)
_STRONG_RE = re.compile(r"nav|crumb|bread|dqwz|menu|footer|position|location|copyright|sitemap|weizhi|share")
# weak: whole tokens only, and not when a token says the container is the article's own head
_WEAK_TOKENS = frozenset(("header", "head", "top", "topbar", "bottom", "banner", "logo", "tophead", "headbox",
                          "foot"))
_CONTENT_TOKENS = frozenset(("article", "content", "detail", "title", "main", "text", "con", "info", "xl", "zw",
                             "news", "doc", "art", "wz", "body", "zwgk", "xxgk", "tit", "bt", "contents",
                             "page", "post", "entry", "document", "report", "xq"))
_TOKEN_SPLIT_RE = re.compile(r"[^a-z0-9]+")
_KEEP_TEXT_RE = re.compile(r"(?:19|20)\d{2}\s*年.{0,30}报告|发布日期|发布时间|成文日期|来源[:：]")
_MAX_NAV_CHARS = 1500
_NEVER_CHROME = frozenset(("html", "body", "main", "article", "table", "tbody", "tr"))


def chrome_scan(root: etree._Element, leaf_tables: dict[int, etree._Element]
                ) -> tuple[list[etree._Element], list[etree._Element]]:
    """(page-chrome containers, title-class elements) of `root`; see `nav_containers`."""
    classed = [(value.lower(), value.getparent()) for value in _ATTRS_XPATH(root)]
    classed = [(value, element) for value, element in classed if _NAV_WORD_RE.search(value)]
    titled = [element for value, element in classed if "title" in value and element.tag != "a"]
    return nav_containers(root, leaf_tables, [element for _, element in classed]), titled


def nav_containers(root: etree._Element, leaf_tables: dict[int, etree._Element],
                   candidates: list[etree._Element] | None = None) -> list[etree._Element]:
    """The outermost page-chrome elements of `root`, never one holding a table or long text.

    Chrome: nav and footer elements, header elements outside <article>/<main>, and elements
    whose class or id names a menu, breadcrumb, position bar (当前位置: "position", "location",
    "dqwz"), share bar or footer; or, as whole tokens of a class without an article-ish token,
    header/head/top/bottom/banner/logo ("header", "top_bar", but not "article-head").
    Why not every match: a CMS may wrap the article in a container named after its layout
    ("main-nav-body"), or give the article's own head a class like "head": a container that
    holds a table, more than 1,500 characters, or (for the weak names) a report title or a
    publication date is kept as content. `candidates`: elements whose class/id holds a chrome
    word, if already found (else every class/id is searched).
    """
    if candidates is None:
        candidates = [value.getparent() for value in _ATTRS_XPATH(root) if _NAV_WORD_RE.search(value.lower())]
    matches = [*candidates, *root.iter("nav", "footer", "header")]
    if not matches:
        return []
    holders: set = set()
    for table in leaf_tables.values():
        holders.update(table.iterancestors())
    kept: dict = {}  # element -> None, in the order met
    for element in matches:
        if element in kept or element in holders or not isinstance(element.tag, str) or element.tag in SKIP \
                or element.tag in _NEVER_CHROME:
            continue
        tag = element.tag
        label = f"{element.get('class', '')} {element.get('id', '')}".lower()
        if tag in ("nav", "footer"):
            weak = False
        elif tag == "header":
            weak = True
        elif _STRONG_RE.search(label):
            weak = False
        else:
            tokens = set(_TOKEN_SPLIT_RE.split(label))
            if not tokens & _WEAK_TOKENS or tokens & _CONTENT_TOKENS:
                continue
            weak = True
        ancestors = list(element.iterancestors())
        if any(parent in kept for parent in ancestors):
            continue  # inside a container already kept (candidates come in document order)
        if weak and any(parent.tag in ("article", "main") for parent in ancestors):
            continue
        text = etree.tostring(element, method="text", encoding="unicode")
        if len(text) > _MAX_NAV_CHARS or (weak and _KEEP_TEXT_RE.search(text)):
            continue
        kept[element] = None
    return [element for element in kept if not any(parent in kept for parent in element.iterancestors())]


NAV_LINE = "\ue003nav"  # the text of the one link-only line a page-chrome container becomes


def html_lines(root: etree._Element, leaf_tables: dict[int, etree._Element],
               has_hidden: bool = True, nav: list[etree._Element] | None = None) -> list[tuple[str, bool]]:
    """(text, link_only) per line; each leaf table (index → element) becomes a TABLE_MARK line.

    Mutates `root` (call after the tables were read). `has_hidden=False` (the page source has no
    "display:none") skips the search for hidden elements. Each element of `nav` (see
    `nav_containers`) is emptied into one link-only line, so it still ends a section.
    """
    for element in nav or ():
        tail = element.tail
        element.clear()
        element.text = f"\n{LINK_OPEN}{NAV_LINE}{LINK_CLOSE}\n"
        element.tail = tail
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
