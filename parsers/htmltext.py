"""An HTML page → lines of running text (block elements break lines), tables as marker lines.

Lines made only of link text are flagged: navigation and related-report links must not be taken
for the report's title or section text.
"""

from __future__ import annotations

from lxml import etree

from parsers.text_tables import TABLE_MARK
from parsers.values import clean_raw

SKIP = frozenset({"script", "style", "noscript", "template", "head", "select", "option", "button",
                  "iframe", "textarea", "svg", "object", "title"})
BLOCK = frozenset({"p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt",
                   "dd", "tr", "td", "th", "section", "article", "header", "footer", "nav", "aside",
                   "blockquote", "pre", "hr", "center", "form", "main", "body", "caption"})


def _hidden(element: etree._Element) -> bool:
    style = element.get("style")
    return bool(style) and "display:none" in style.replace(" ", "").lower()


def html_lines(root: etree._Element, table_index: dict[int, int]) -> list[tuple[str, bool]]:
    """(text, link_only) per line; a report table appears as a TABLE_MARK line."""
    lines: list[tuple[str, bool]] = []
    buf: list[str] = []
    buf_linked: list[bool] = []
    link_depth = 0

    def flush() -> None:
        if buf:
            text = clean_raw("".join(buf))
            if text:
                linked = all(flag for part, flag in zip(buf, buf_linked) if part.strip())
                lines.append((text, linked))
            buf.clear()
            buf_linked.clear()

    def emit(text: str | None, linked: bool) -> None:
        if text:
            buf.append(text)
            buf_linked.append(linked)

    walker = etree.iterwalk(root, events=("start", "end"))
    just_skipped = False  # a skipped subtree's "end" follows its "start" directly
    for event, element in walker:
        tag = element.tag
        if not isinstance(tag, str):  # comment or processing instruction
            if event == "end":
                emit(element.tail, link_depth > 0)
            continue
        if event == "start":
            if tag in SKIP or _hidden(element):
                walker.skip_subtree()
                just_skipped = True
                continue
            if tag == "table":
                flush()
                lines.append((f"{TABLE_MARK}{table_index.get(id(element), -1)}", False))
                walker.skip_subtree()
                just_skipped = True
                continue
            if tag in BLOCK:
                flush()
            if tag == "a":
                link_depth += 1
            emit(element.text, link_depth > 0)
        else:
            if just_skipped:
                just_skipped = False
            else:
                if tag == "a":
                    link_depth = max(0, link_depth - 1)
                if tag in BLOCK:
                    flush()
            emit(element.tail, link_depth > 0)
    flush()
    return lines
