"""Which evidence names a report: its title, agency, year and publication date, strongest first.

Why: the archive keys every number on (agency, year). Taking the first line that looks like a
title archived breadcrumbs as bodies ("首页>") and PDFs without a body, so each field is taken
from the strongest source that states it, and the sources are cross-checked:

- title: the document's own title block (h1–h3 or a title-class element outside the page chrome;
  the <h1> a converted PDF/DOCX carries), else a title line of the running text (a title printed
  over two short lines is joined), else the CMS's meta tags (ArticleTitle, og:title), else the
  page's <title> without its site suffix, else (the weakest) the last segment of a breadcrumb
  line when it is a report title. A title ending in 报告 that states its year beats one that does
  not, which beats any other title-like line.
- agency: what the chosen title names, else what the meta/<title> titles name, else the CMS's
  source (meta ContentSource/来源, a 来源：/发布机构 line or metadata-table field), else the
  registry's hint; never navigation, a column or site name (`metadata.is_agency_like`); spelled
  by `metadata.normalize_agency` with the portal's region.
- year: the title's, else the statistics-period sentence's. A period year that disagrees gives a
  warning (the title wins); a year before 2008 or after the publication year is rejected (null
  and a warning); publication more than a year after the report year gives a warning.
- published: a labelled date (发布日期/发布时间…), else the meta PubDate, else the signature date.

The sources used are returned as `identity` ({"title", "agency", "year", "published"}: the
name of the source, or null), so a reader can tell a key read from the document from a hint:
title heading/text/meta/page_title/breadcrumb, agency title/source/hint, year title/period,
published label/meta/signature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nianbao.parsers import metadata
from nianbao.parsers.labels import norm
from nianbao.parsers.navigation import is_column_name, is_link_label_line, is_navigation_text, is_site_name, last_crumb

FIRST_YEAR = 2008  # the 条例 took effect on 2008-05-01: the first reports are for 2008

META_TITLES = ("articletitle", "og:title", "dc.title", "title", "twitter:title")
META_DATES = ("pubdate", "publishdate", "firstpublishedtime", "article:published_time", "og:release_date",
              "publishtime", "dc.date", "dcterms.issued")
META_SOURCES = ("contentsource", "来源", "source", "dc.publisher", "publisher")
META_DESCRIPTIONS = ("description", "og:description")
META_KEYS = frozenset(META_TITLES + META_DATES + META_SOURCES + META_DESCRIPTIONS + ("columnname",))

_TITLE_SPLIT_RE = re.compile(r"\s*[_|｜]\s*|\s+[-—–]+\s+|-(?=[^-]*$)")
_MENTIONS_REPORT_RE = re.compile(r"年度报告|度报告|年报|工作报告")  # not "其他需要报告的事项"
# a label, then a colon or (a metadata-table row joined by spaces) whitespace, then the name
_SOURCE_LABEL_RE = re.compile(
    r"(发布机构|发布单位|发文机关|发文单位|公开主体|发布主体|信息来源|文章来源|内容来源|稿件来源|来源单位|来源)"
    r"(?:\s*[:：]\s*|\s+)([^\s:：|,，;；。]{2,50})"
)
# "2023年度政府信息公开工作年度报告（龙岗区卫生健康局）": the body in closing brackets
_BRACKETED_RE = re.compile(r"[（(]([^（）()]{2,40})[）)]\s*$")
_STRONG_SOURCE_LABELS = ("发布机构", "发布单位", "发文机关", "发文单位", "公开主体", "发布主体")
_SENTENCE_RE = re.compile(r"[。，；;,!！?？:：]")
_BODY_END_RE = re.compile(
    r"(?:局|委|委员会|办|办公室|厅|部|院|会|政府|中心|处|所|室|站|队|区|县|市|镇|乡|街道|办事处|管委会|署|馆|盟|旗"
    r"|州|省|社|校|公司|集团|行|司|庭|团)$"
)
_JOIN_HEAD_RE = re.compile(r"(?:(?:19|20)\d{2}|[二][〇○零一二三四五六七八九]{3})\s*年\s*度?$")


@dataclass
class PageEvidence:
    """What the page's markup says about its identity, read before its text is flattened."""

    page_title: str | None = None
    metas: dict[str, str] = field(default_factory=dict)  # lowercased name/property → first content
    headings: list[str] = field(default_factory=list)  # h1–h3 and title-class texts outside the chrome


@dataclass
class Identity:
    title: str | None = None
    agency: str | None = None
    year: int | None = None
    published: str | None = None
    sources: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(
        ("title", "agency", "year", "published")))
    kind: str = "report"  # "report", "interpretation" (解读/图解…), "news" (an item about the report)
    report_titles: list[str] = field(default_factory=list)  # body/heading titles that name the report
    warnings: list[str] = field(default_factory=list)


def title_parts(text: str | None) -> list[str]:
    """A <title> or meta title cut at its site/column suffixes ("_政府信息公开年报_XX网", " - XX政府")."""
    if not text:
        return []
    return [part for part in _TITLE_SPLIT_RE.split(text.strip()) if part and part.strip()]


def _joinable_head(line: str) -> bool:
    """A short line that may print the first half of a title (the body's name, or "XX2023年度")."""
    s = norm(line)
    if not (2 <= len(s) <= 30) or _SENTENCE_RE.search(s):
        return False
    if is_navigation_text(line) or is_column_name(line) or is_site_name(line) or is_link_label_line(line):
        return False
    return bool(_BODY_END_RE.search(s) or _JOIN_HEAD_RE.search(s))


class Joined(str):
    """A title joined from a short line and the title line after it. The short line may be the
    body's name on a PDF's first page — or a site name above the article, so a source the page
    states (ContentSource, 来源, 发布机构) outranks the agency such a title names, and then the
    title is the line as printed (`printed`)."""

    printed: str = ""


def _joined(head: str, line: str) -> Joined:
    title = Joined(metadata.clean_title(head + line))
    title.printed = metadata.clean_title(line)
    return title


def body_titles(lines: list[tuple[str, bool]], limit: int = 400) -> list[str]:
    """Title lines of the running text, in order; a title printed over two lines comes joined
    ("深圳市龙岗区卫生健康局" / "2023年政府信息公开工作年度报告", "XX2023年度" / "政府信息公开工作年度报告")."""
    out: list[str] = []
    previous: str | None = None
    for text, linked in lines[:limit]:
        if linked or text.startswith("\x00"):
            previous = None
            continue
        if metadata.is_title_candidate(text):
            title = metadata.clean_title(text)
            if previous is not None and (metadata.agency_of(title) is None or metadata.year_of(title) is None) \
                    and _joinable_head(previous):
                joined = _joined(previous, title)
                if metadata.is_title_candidate(joined) and (
                        metadata.agency_of(joined) != metadata.agency_of(title)
                        or metadata.year_of(joined) != metadata.year_of(title)):
                    title = joined
            out.append(title)
        elif previous is not None and "报告" in text and len(text) <= 40 and len(previous) <= 40 \
                and not _SENTENCE_RE.search(previous + text) and not metadata.is_title_like(previous) \
                and not is_navigation_text(previous) and not is_link_label_line(previous):
            # neither half is a title: "XX局2023年政府信息公开" / "工作年度报告"
            joined = _joined(previous, text)
            if metadata.is_title_candidate(joined) and metadata.year_of(joined):
                joined.printed = ""  # neither half is a title by itself
                out.append(joined)
        previous = text
    return out


def crumb_titles(lines: list[tuple[str, bool]], limit: int = 400) -> list[str]:
    """The page's title as the last segment of a breadcrumb line: the weakest title source, used
    only when no title block, text line, meta tag or <title> names the report."""
    out = []
    for text, linked in lines[:limit]:
        if linked or "报" not in text or not is_navigation_text(text):
            continue
        last = last_crumb(text)
        if last and metadata.is_title_candidate(last):
            out.append(metadata.clean_title(last))
    return out


def _heading_titles(headings: list[str], body: list[str]) -> list[str]:
    """Title-like headings; one the text prints with the body's name before it comes joined."""
    out = []
    for heading in headings:
        if not metadata.is_title_candidate(heading):
            continue
        title = metadata.clean_title(heading)
        compact = title.replace(" ", "")
        for line in body:
            flat = line.replace(" ", "")
            if flat != compact and flat.endswith(compact):
                title = line
                break
        out.append(title)
    return out


def _meta_titles(evidence: PageEvidence) -> tuple[list[str], list[str]]:
    """(title candidates from meta title tags, from the page's <title>), suffixes cut."""
    metas = []
    for key in META_TITLES:
        metas.extend(metadata.clean_title(p) for p in title_parts(evidence.metas.get(key))
                     if metadata.is_title_candidate(p))
    page = [metadata.clean_title(p) for p in title_parts(evidence.page_title) if metadata.is_title_candidate(p)]
    for key in META_DESCRIPTIONS:
        value = evidence.metas.get(key) or ""
        if len(value) <= 90 and metadata.is_title_candidate(value):
            page.append(metadata.clean_title(value))
    return metas, page


def _headlines(evidence: PageEvidence) -> list[tuple[str, str]]:
    """What the page calls itself, (text, source): its first heading naming a report, its meta
    titles, its <title> (the parts before the site suffix); each must name a year's report."""
    out = [(next((h for h in evidence.headings if _MENTIONS_REPORT_RE.search(h)), ""), "heading")]
    for key in META_TITLES:
        out.extend((part, "meta") for part in title_parts(evidence.metas.get(key))[:1])
    out.extend((part, "page_title") for part in title_parts(evidence.page_title)[:2])
    # naming a report of a year: a column called "年报解读" in the <title>'s suffix is not the page
    return [(h, source) for h, source in out if h and _MENTIONS_REPORT_RE.search(h) and metadata.year_of(h)]


def _source_agencies(evidence: PageEvidence, head: list[str]) -> list[str]:
    """Bodies the page names as its source: meta ContentSource/来源, then 发布机构-type fields,
    then 来源 lines of the page head (URLs, media outlets and this site rejected later)."""
    out = [evidence.metas[key] for key in META_SOURCES if evidence.metas.get(key)]
    strong, weak = [], []
    for line in head[:200]:
        if "来源" not in line and "发布" not in line and "发文" not in line and "公开主体" not in line:
            continue
        for label, value in _SOURCE_LABEL_RE.findall(line):
            (strong if label in _STRONG_SOURCE_LABELS else weak).append(value)
    return out + strong + weak


def decide(lines: list[tuple[str, bool]], plain: list[str], head: list[str], tail: list[str],
           evidence: PageEvidence, hints: dict[str, Any] | None = None) -> Identity:
    """The report's identity from every source on the page (see the module docstring)."""
    hints = hints if isinstance(hints, dict) else {}
    region = hints.get("region") if isinstance(hints.get("region"), str) else None
    found = Identity()
    sources = found.sources

    body = body_titles(lines)
    headings = _heading_titles(evidence.headings, body)
    metas, page = _meta_titles(evidence)
    ordered = ([(t, "heading") for t in headings] + [(t, "text") for t in body]
               + [(t, "meta") for t in metas] + [(t, "page_title") for t in page])
    if not any(metadata.is_report_title(t) for t, _ in ordered):
        ordered += [(t, "breadcrumb") for t in crumb_titles(lines)]
    # a report title (ends in 报告) with its year, else one without, else any title-like line
    chosen = (next(((t, s) for t, s in ordered if metadata.is_report_title(t) and metadata.year_of(t)), None)
              or next(((t, s) for t, s in ordered if metadata.is_report_title(t)), None)
              or (ordered[0] if ordered else None))
    if chosen:
        found.title, sources["title"] = chosen
    found.report_titles = [t for t, s in ordered if s in ("heading", "text") and metadata.is_report_title(t)
                           and not metadata.is_news_title(t) and not metadata.is_interpretation(t)]

    headlines = _headlines(evidence)
    marked = next(((h, source) for h, source in headlines if metadata.is_interpretation(h)), None)
    if metadata.is_interpretation(found.title) or marked:
        found.kind = "interpretation"
        if marked and not metadata.is_interpretation(found.title):
            # the page repeats the report's title, but calls itself 解读/图解: say so
            found.title, sources["title"] = metadata.clean_title(marked[0]), marked[1]
    elif metadata.is_news_title(found.title) or any(metadata.is_news_title(h) for h, _ in headlines):
        found.kind = "news"

    # agency: the chosen title's, the page's other own titles', its stated source's, the hint
    title_texts = ([found.title] if found.title else []) + metas + page
    named = [(a, "title") for a in map(_agency_in_title, title_texts) if a]
    stated = [(a, "source") for a in _source_agencies(evidence, head) if metadata.is_agency_like(a)]
    hint = hints.get("agency")
    hinted = [(hint, "hint")] if isinstance(hint, str) and metadata.is_agency_like(hint) else []
    joined = isinstance(found.title, Joined)
    ranked = (stated + named if joined else named + stated) + hinted
    if joined and stated and found.title.printed and _agency_in_title(found.title) != stated[0][0]:
        found.title = found.title.printed  # the line above named another body (a site's name?)
    if ranked:
        found.agency, sources["agency"] = ranked[0]
        found.agency = metadata.normalize_agency(found.agency, region)
    found.title = str(found.title) if found.title is not None else None

    # published: labelled on the page, else the CMS's meta date, else the signature
    published = metadata.labelled_date(head)
    if published:
        sources["published"] = "label"
    else:
        published = next((d for d in (metadata.date_of(evidence.metas.get(k, "")) for k in META_DATES) if d), None)
        if published:
            sources["published"] = "meta"
        else:
            published = metadata.signature_date(tail)
            sources["published"] = "signature" if published else None
    found.published = published

    _decide_year(found, title_texts, plain)
    return found


def _agency_in_title(text: str) -> str | None:
    """The body a title names: before 政府信息公开, else in its closing brackets."""
    agency = metadata.agency_of(text)
    if agency is None and (match := _BRACKETED_RE.search(text)) and _BODY_END_RE.search(match.group(1)):
        agency = match.group(1)
    return agency if metadata.is_agency_like(agency) else None


def _decide_year(found: Identity, title_texts: list[str], plain: list[str]) -> None:
    warnings, sources = found.warnings, found.sources
    title_year = next((y for y in (metadata.year_of(t) for t in title_texts) if y is not None), None)
    period_year = metadata.year_from_text([line for line in plain if not line.startswith("\x00")])
    year, sources["year"] = (title_year, "title") if title_year is not None else (period_year, "period")
    if title_year is not None and period_year is not None and title_year != period_year:
        warnings.append(f"year: the title says {title_year}, the statistics period {period_year}; the title's kept")
    if year is None:
        sources["year"] = None
        return
    published_year = int(found.published[:4]) if found.published else None
    if year < FIRST_YEAR or (published_year is not None and year > published_year):
        bound = f"before {FIRST_YEAR}" if year < FIRST_YEAR else f"after its publication ({found.published})"
        warnings.append(f"year {year} rejected: a report year {bound}")
        year, sources["year"] = None, None
    elif published_year is not None and published_year - year > 1:
        warnings.append(f"year {year}: published {found.published}, {published_year - year} years later")
    found.year = year
