"""Pure link discovery on list and detail pages (lxml, no I/O): which anchors are reports,
which are further list pages (static, TRS `createPageHTML`/`countPage`, 下一页, year sub-columns),
and which are attachments. Kept apart from the spider so every rule is unit-testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from posixpath import dirname
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html

_WS = re.compile(r"[\s\u3000\xa0]+")
_YEAR = r"(?:19|20)\d{2}|[一二〇零○][〇零○一二三四五六七八九]{3}"
# 年度报告 after a year, lenient: "年 度 报 告", 年报, 工作度报告 (a real typo), 年度工作报告.
_REPORT = re.compile(rf"(?:{_YEAR})\s*年.*?(?:年度报告|度报告|年报|年度工作报告|年度工作情况报告)")
_NOT_REPORT = re.compile(r"解读|图解|读懂|问答|答记者问|通知|视频|动漫|意见|征求|H5")
_ATTACHMENT = re.compile(r"\.(pdf|docx?|wps|ofd|xlsx?|et)(?:$|[?#])", re.I)
_INDEX_PAGE = re.compile(r"(?:^|/)(index|default)(?:_\d+)?\.(?:s?html?|jhtml)$", re.I)
_YEAR_SEGMENT = re.compile(r"/(?:19|20)\d{2}(?:n|nd|nian)?/", re.I)
_YEAR_TEXT = re.compile(r"^(?:19|20)\d{2}\s*年?度?(?:年报|报告)?$")
_NEXT_TEXT = re.compile(r"^(?:下一页|下页|后一页|next|>|»|›)$", re.I)
_CREATE_PAGE = re.compile(r"createPageHTML\s*\(([^)]*)\)")
_VAR_NUM = re.compile(r"\b(?:var\s+|let\s+|const\s+)?(\w+)\s*[=:]\s*['\"]?(\d+)['\"]?")
_COUNT_PAGE = re.compile(r"\bcountPage\s*[=:]\s*['\"]?(\d+)")
_SUFFIXES = ("html", "shtml", "htm", "jhtml")


def clean_title(text: str) -> str:
    return _WS.sub("", text or "")


def is_report_title(text: str) -> bool:
    """True for titles like '平潭综合实验区2024年度政府信息公开工作年度报告', not for 解读 or notices."""
    t = clean_title(text)
    return bool(_REPORT.search(t)) and not _NOT_REPORT.search(t)


def report_year(text: str) -> int | None:
    m = re.search(r"((?:19|20)\d{2})\s*年", clean_title(text))
    return int(m.group(1)) if m else None


def strip_fragment(url: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path or "/", p.query, ""))


def column_prefix(url: str) -> str:
    """The directory a column's pages live under: '.../zfxxgknb/' for '.../zfxxgknb/index_2.html'."""
    p = urlsplit(url)
    path = p.path or "/"
    if not path.endswith("/"):
        path = dirname(path) + "/"
    return urlunsplit((p.scheme, p.netloc, path, "", ""))


@dataclass
class ListPage:
    reports: list[tuple[str, str]] = field(default_factory=list)  # (url, title)
    pages: list[str] = field(default_factory=list)  # further list pages (pagination)
    subcolumns: list[str] = field(default_factory=list)  # year / unit sub-columns
    other: list[tuple[str, str]] = field(default_factory=list)  # non-report items (解读, notices)
    scripts: str = ""  # the page's inline scripts (a search-API config lives there)


def _doc(html: bytes | str, base_url: str):
    try:
        doc = lxml.html.fromstring(html or b"<html></html>", base_url=base_url)
    except (lxml.etree.ParserError, ValueError):
        doc = lxml.html.fromstring(b"<html></html>", base_url=base_url)
    return doc


def _base(doc, url: str) -> str:
    """The URL relative links resolve against: the page's <base href> when it has one."""
    for base in doc.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            return urljoin(url, href)
    return url


_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)


def _anchors(doc, url: str):
    """The page's anchors, plus those inside script-held record lists: Hanweb (大汉) columns ship
    their items as `<script type="text/xml"><datastore><recordset><record><![CDATA[<li><a …>`
    and paginate them in the browser, so the links are invisible to an HTML parser."""
    yield from doc.iter("a")
    for script in doc.iter("script"):
        text = script.text or ""
        if "<a" not in text:
            continue
        fragments = [m.group(1) for m in _CDATA.finditer(text) if "<a" in m.group(1)]
        if not fragments and "<record" in text:
            fragments = [text]
        for fragment in fragments:
            try:
                holder = lxml.html.fragment_fromstring(fragment, create_parent="div", base_url=url)
            except (lxml.etree.ParserError, ValueError):
                continue
            yield from holder.iter("a")


def _script_text(doc) -> str:
    return "\n".join(s.text or "" for s in doc.iter("script"))


def js_pages(script: str, page_url: str) -> list[str]:
    """List pages named by TRS pagination scripts: createPageHTML(count, cur, 'index', 'html'),
    createPageHTML('div', count, cur, 'index', 'html', records), or a bare `countPage = N`."""
    variables = {m.group(1): int(m.group(2)) for m in _VAR_NUM.finditer(script)}
    count, prefix, suffix = None, "index", None
    m = _CREATE_PAGE.search(script)
    if m:
        args = [a.strip() for a in m.group(1).split(",")]
        strings = [a.strip("'\"") for a in args if a[:1] in "'\""]
        numbers: list[int] = []
        for a in args:
            if a[:1] in "'\"":
                continue
            if a.isdigit():
                numbers.append(int(a))
            elif a in variables:
                numbers.append(variables[a])
        for i, s in enumerate(strings):
            if s.lower() in _SUFFIXES:
                suffix = s
                prefix = strings[i - 1] if i > 0 else "index"
                break
        count = numbers[0] if numbers else None
    if count is None:
        c = _COUNT_PAGE.search(script)
        count = int(c.group(1)) if c else None
    if not count or count < 2:
        return []
    if suffix is None:
        ext = urlsplit(page_url).path.rsplit(".", 1)
        suffix = ext[1] if len(ext) == 2 and ext[1] in _SUFFIXES else "html"
    base = column_prefix(page_url)
    count = min(count, 2000)  # a broken script must not mint millions of URLs
    return [urljoin(base, f"{prefix}.{suffix}")] + [urljoin(base, f"{prefix}_{i}.{suffix}") for i in range(1, count)]


def parse_list_page(html: bytes | str, url: str, column: str, subcolumn_depth_ok: bool = True,
                    nested: bool = False) -> ListPage:
    """Classify a list page's anchors. `column` is the column prefix (see `column_prefix`);
    `nested`: this page is itself a sub-column, so directory links below it are unit sub-columns
    (`2022n/` → `2022n/2021jdyc/`)."""
    here = column_prefix(url)
    doc = _doc(html, url)
    base_href = _base(doc, url)
    out = ListPage()
    seen: set[str] = set()
    for a in _anchors(doc, url):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("javascript:", "mailto:", "#")):
            continue
        target = strip_fragment(urljoin(base_href, href))
        if not target.startswith(("http://", "https://")):
            continue
        text = a.text_content() or ""
        title = a.get("title") or ""
        if is_report_title(title) or is_report_title(text):
            if target not in seen:
                seen.add(target)
                out.reports.append((target, clean_title(title) if is_report_title(title) else clean_title(text)))
            continue
        if not target.startswith(column) or target == strip_fragment(url):
            if clean_title(text) and re.search(r"解读|图解", clean_title(text + title)):
                out.other.append((target, clean_title(text)))
            continue
        rel = target[len(column) - 1:]
        if _NEXT_TEXT.match(clean_title(text)) or (_INDEX_PAGE.search(rel) and rel.count("/") == 1):
            out.pages.append(target)
        elif subcolumn_depth_ok and (rel.endswith("/") or _INDEX_PAGE.search(rel)) and (
                _YEAR_SEGMENT.search(rel) or _YEAR_TEXT.match(clean_title(text))
                or (nested and target.startswith(here) and target != here)):
            out.subcolumns.append(target)
        elif clean_title(text):
            out.other.append((target, clean_title(text)))
    out.scripts = _script_text(doc)
    out.pages.extend(p for p in js_pages(out.scripts, url) if p.startswith(column))
    out.pages = list(dict.fromkeys(p for p in out.pages if p != strip_fragment(url)))
    out.subcolumns = list(dict.fromkeys(out.subcolumns))
    return out


def attachment_links(html: bytes | str, url: str) -> list[tuple[str, str]]:
    """(url, label) of files a detail page links or embeds: PDF, DOC/DOCX, WPS, OFD, XLS."""
    doc = _doc(html, url)
    base_href = _base(doc, url)
    found: dict[str, str] = {}
    for el in doc.iter("a", "iframe", "embed", "object"):
        ref = el.get("href") or el.get("src") or el.get("data") or ""
        ref = ref.strip()
        if not ref or ref.startswith("javascript:"):
            continue
        target = strip_fragment(urljoin(base_href, ref))
        if _ATTACHMENT.search(urlsplit(target).path + ("?" + urlsplit(target).query if urlsplit(target).query else "")):
            found.setdefault(target, clean_title(el.text_content() if el.tag == "a" else "") or el.tag)
    return list(found.items())


def is_attachment_url(url: str) -> bool:
    return bool(_ATTACHMENT.search(urlsplit(url).path))
