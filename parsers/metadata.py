"""Title, agency, report year and publication date from a report's lines of text.

Titles vary ("…2023年度政府信息公开工作年度报告", "政府信息公开工作2022年度报告", "工作度报告",
a space inside, no 工作); the year is taken from the title, else from the statistics-period
sentence; the agency is what precedes 政府信息公开 once the year is removed. Which source wins
when several name the report is `parsers.identity`'s job; these are the text primitives, plus
`normalize_agency`, the one spelling of a body the parser and the archive share.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from nianbao.parsers.labels import norm
from nianbao.parsers.navigation import (
    ends_with_column_name,
    is_column_name,
    is_link_label_line,
    is_navigation_text,
    is_site_name,
)

_CN_DIGITS = {"〇": "0", "○": "0", "零": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5",
              "六": "6", "七": "7", "八": "8", "九": "9"}
_YEAR_RE = re.compile(r"((?:19|20)\d{2})\s*年")
_CN_YEAR_RE = re.compile(r"([二][〇○零一二三四五六七八九]{3})\s*年")
_BARE_YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_YEAR_TOKEN_RE = re.compile(r"(?:(?:19|20)\d{2}|[二][〇○零一二三四五六七八九]{3})\s*年\s*度?"
                            r"|(?<!\d)(?:19|20)\d{2}(?!\d)")
_PERIOD_RE = re.compile(r"统计(?:期限|时限|期间|时间|区间|周期)[^。\n]{0,12}?((?:19|20)\d{2})\s*年")
_TITLE_CORE_RE = re.compile(r"(?:政府信息公开|政务公开|信息公开).{0,12}?报告")
_TITLE_PREFIX_RE = re.compile(r"^(?:标题|题目|名称|主题)[:：]\s*")
_TITLE_SUFFIX_RE = re.compile(r"\s*[_|｜\-—–]+\s*[^_|｜\-—–]*$")
_AGENCY_CUT_RE = re.compile(r"(?:关于)?(?:政府信息公开|政务公开|信息公开)")
_AGENCY_PREFIX_RE = re.compile(r"^.*?(?:图解|解读|一图读懂|图说|转载)[:：]?|^.*《")
_AGENCY_NEWS_TAIL_RE = re.compile(r"(?:正式|公开|依法|主动|集中)?(?:发布|公布|晒出|印发|转发|编制)(?:了)?$")
_NOT_REPORT_TITLE_RE = re.compile(r"解读|图解|一图读懂|图说|答记者问|问答|说明会|新闻发布")
# a news item about the report: "XX区发布2023年…年度报告", "…年度报告出炉", not the report itself
_NEWS_TITLE_RE = re.compile(
    r"(?:发布|公布|晒出|出炉|印发|转发|亮相|上线)(?:了)?[《“\"]?.{0,40}?(?:(?:19|20)\d{2}|[二][〇○零一二三四五六七八九]{3})"
    r"|报告[》”\"]?(?:正式|已|顺利)?(?:发布|公布|出炉|上线|亮相)"
)

_DATE_LABELS = ["发布日期", "发布时间", "公开日期", "成文日期", "发文日期", "印发日期", "日期", "时间"]
_ISO_DATE = r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})"
_LABELLED_DATE_RES = [
    (label, re.compile(rf"(?<!采集)(?<!抓取)(?<!更新){label}\s*[:：]?\s*{_ISO_DATE}"))
    for label in _DATE_LABELS
]
_SIGNATURE_DATE_RE = re.compile(rf"^{_ISO_DATE}\s*日?$")


def _cn_year(text: str) -> str:
    return "".join(_CN_DIGITS.get(ch, ch) for ch in text)


def year_of(text: str) -> int | None:
    """The report year printed in a title (first "YYYY年", else 二〇二三年, else a bare YYYY)."""
    s = unicodedata.normalize("NFKC", text)
    match = _YEAR_RE.search(s)
    if match:
        return int(match.group(1))
    match = _CN_YEAR_RE.search(s)
    if match:
        return int(_cn_year(match.group(1)))
    match = _BARE_YEAR_RE.search(s)
    return int(match.group(1)) if match else None


def is_title_like(text: str) -> bool:
    if "报" not in text or "告" not in text:  # most lines: no normalising needed to say no
        return False
    s = norm(text)
    if not (6 <= len(s) <= 90) or s.endswith(("。", ";", "，", ",")):
        return False
    if s.startswith(("根据", "按照", "本报告", "现将", "依据")) or "《" in s:
        return False
    return bool(_TITLE_CORE_RE.search(s))


_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def clean_title(text: str) -> str:
    """The title as printed (full-width punctuation kept), digits half-width, spaces collapsed."""
    text = text.translate(_FULL_WIDTH_DIGITS).replace("\u3000", " ").replace("\u00a0", " ")
    text = _TITLE_PREFIX_RE.sub("", text.strip().lstrip("#").strip())
    if not text.rstrip().endswith("报告"):
        trimmed = _TITLE_SUFFIX_RE.sub("", text)
        if trimmed.rstrip().endswith("报告"):
            text = trimmed
    return re.sub(r"\s+", " ", text).strip()


def find_title(lines: list[tuple[str, bool]], page_title: str | None) -> str | None:
    """The first report-title line that is not link text or page chrome; prefer ones ending in 报告;
    else <title>. (`parsers.identity.decide` weighs more sources; this is its text-only core.)"""
    candidates = [text for text, linked in lines[:400] if not linked and is_title_candidate(text)]
    for text in candidates:
        if clean_title(text).endswith("报告"):
            return clean_title(text)
    if page_title:
        for part in re.split(r"\s*[_|｜]\s*|\s+-\s+|-(?=[^-]*$)", page_title):
            if is_title_candidate(part):
                return clean_title(part)
    if candidates:
        return clean_title(candidates[0])
    return None


def agency_of(title: str) -> str | None:
    """What precedes 政府信息公开 in a title once the year is removed (a news verb dropped:
    "XX区发布2023年…" names XX区)."""
    s = _YEAR_TOKEN_RE.sub("", title.translate(_FULL_WIDTH_DIGITS))
    s = re.sub(r"\s+", "", s)
    match = _AGENCY_CUT_RE.search(s)
    agency = s[: match.start()] if match else ""
    agency = _AGENCY_PREFIX_RE.sub("", agency).strip("的之关于:：-—_ 《》")
    agency = _AGENCY_NEWS_TAIL_RE.sub("", agency).strip("的之关于:：-—_ 《》")
    return agency or None


def year_from_text(lines: list[str]) -> int | None:
    for line in lines[:300]:
        if "统计" not in line:
            continue
        match = _PERIOD_RE.search(unicodedata.normalize("NFKC", line))
        if match:
            return int(match.group(1))
    return None


def _valid_date(y: str, m: str, d: str) -> str | None:
    month, day = int(m), int(d)
    if 1 <= month <= 12 and 1 <= day <= 31:
        return f"{int(y):04d}-{month:02d}-{day:02d}"
    return None


def labelled_date(lines: list[str]) -> str | None:
    """A date after 发布日期/发布时间/公开日期/成文日期/日期/时间 (in that order of preference)."""
    joined = unicodedata.normalize("NFKC", "\n".join(lines[:600]))
    joined = re.sub(r"[ \t\u3000]*\n[ \t\u3000]*", " ", joined)
    for label, pattern in _LABELLED_DATE_RES:
        if label not in joined:
            continue
        for match in pattern.finditer(joined):
            date = _valid_date(*match.groups())
            if date:
                return date
    return None


def signature_date(tail: list[str]) -> str | None:
    """The date line closing the report (its last six lines), as signed."""
    for line in reversed(tail[-6:]):
        match = _SIGNATURE_DATE_RE.match(unicodedata.normalize("NFKC", line).strip())
        if match:
            date = _valid_date(*match.groups())
            if date:
                return date
    return None


_ANY_DATE_RE = re.compile(_ISO_DATE)


def date_of(text: str) -> str | None:
    """The first valid date in a meta tag's content ("2025-03-10 15:35", "2024-01-17-10:00:00")."""
    match = _ANY_DATE_RE.search(unicodedata.normalize("NFKC", text or ""))
    return _valid_date(*match.groups()) if match else None


_REPORT_TITLE_END_RE = re.compile(r"报告\s*(?:[（(][^）)]{0,16}[）)])?$")


def is_report_title(title: str) -> bool:
    """The title names the report itself (…年度报告, …年报告（全文）), not a notice about it."""
    return bool(_REPORT_TITLE_END_RE.search(title.strip(" 。.")))


def is_interpretation(title: str | None) -> bool:
    return bool(title) and bool(_NOT_REPORT_TITLE_RE.search(title or ""))


def is_news_title(title: str | None) -> bool:
    """A news item or notice about the report ("XX发布2023年政府信息公开工作年度报告")."""
    return bool(title) and bool(_NEWS_TITLE_RE.search(norm(title or "")))


def is_title_candidate(text: str) -> bool:
    """A line that may be the report's title: title-like and not navigation, a column or site
    name, or the label of a link to another page (相关链接：…, 上一篇：…)."""
    return (is_title_like(text) and not is_navigation_text(text) and not is_link_label_line(text)
            and not is_column_name(text) and not is_site_name(text))


# ---------------------------------------------------------------- agency names

_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_NOT_AGENCY_RE = re.compile(
    r"[>»›＞→|_/\\<]|首页|当前位置|位置[:：]|网站|门户|栏目|专栏|http|www\.|\.(?:cn|com|net|org)\b|本网|本站|原创|转载"
    r"|[。，；！？,;!?]|^(?:本|我)(?:机关|单位|局|委|办|部门|院|厅|区|县|市|镇|乡|街道|中心)$|^\d"
)
_NEWS_SOURCE_RE = re.compile(r"(?:报|新闻网|新闻|电视台|广播电视台|融媒体中心|报社|新华社|人民网|客户端"
                             r"|微信公众号|公众号)$")


def is_agency_like(name: str | None) -> bool:
    """Could `name` be an administrative body? Not navigation, a column, a site, a URL, a media
    outlet or a sentence; 2 to 50 characters with at least two ideographs."""
    if not name:
        return False
    s = norm(name)
    if not (2 <= len(s) <= 50) or len(_CJK_RE.findall(s)) < 2:
        return False
    if _NOT_AGENCY_RE.search(s) or _NEWS_SOURCE_RE.search(s):
        return False
    if is_navigation_text(s) or is_column_name(s) or ends_with_column_name(s) or is_site_name(s):
        return False
    return True


# full-width ASCII forms (letters, digits, brackets, punctuation) → half-width; ideographic
# punctuation (、·《》) is left as printed
_FULL_WIDTH_FORMS = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_AGENCY_SPACE_RE = re.compile(r"[\s\u00a0\u3000\ufeff\u200b-\u200d\u2000-\u200a]+")
_AGENCY_QUOTES_RE = re.compile(r"[\"'“”‘’「」『』]")
_AGENCY_EDGE = "《》【】〈〉<>[]:：、，,。.·-—_|/ "
_LEVEL_RE = re.compile(r".+?(?:特别行政区|自治区|自治州|自治县|自治旗|地区|省|市|盟|县|区|旗)")
_LEVEL_SUFFIX_RE = re.compile(r"(?:特别行政区|自治区|自治州|自治县|自治旗|地区|省|市|盟|县|区|旗)$")


@lru_cache(maxsize=1024)
def region_levels(region: str | None) -> tuple[tuple[str, str], ...]:
    """("广东省深圳市龙岗区") → (("广东省", "广东"), ("深圳市", "深圳"), ("龙岗区", "龙岗")):
    each administrative level of a portal's region, full and short form."""
    if not region:
        return ()
    s = _AGENCY_SPACE_RE.sub("", unicodedata.normalize("NFKC", region))
    out = []
    for level in _LEVEL_RE.findall(s):
        short = _LEVEL_SUFFIX_RE.sub("", level)
        out.append((level, short if len(short) >= 2 else level))
    return tuple(out)


def _starts_with_level(name: str, level: tuple[str, str]) -> str | None:
    """The rest of `name` after the level's full (else short) form, if it opens with it."""
    for form in level:
        if name.startswith(form) and len(name) > len(form):
            return name[len(form):]
    return None


@lru_cache(maxsize=65536)
def normalize_agency(name: str | None, region: str | None = None) -> str | None:
    """One spelling of a body over the years, for the parser's `agency` and the archive's key.

    - whitespace (incl. U+3000, no-break space, zero-width) removed; full-width ASCII forms
      (letters, digits, brackets) made half-width: "（" → "("; Chinese punctuation kept;
    - quotes removed, stray brackets and punctuation at either end stripped;
    - with the portal's `region` ("广东省深圳市龙岗区"): the canonical form starts at the
      deepest level of that region the name spells out. Province and city prefixes are dropped
      while the next level of the same region follows them ("广东省深圳市龙岗区卫生健康局",
      "深圳市龙岗区卫生健康局", "深圳龙岗区卫生健康局" → "龙岗区卫生健康局"); a name opening
      with the bare level character of the region's deepest level (区/县/旗) is given that level's
      name ("区卫生健康局" → "龙岗区卫生健康局"). Bodies of other places keep their full name
      ("深圳市规划和自然资源局龙岗管理局" keeps 深圳市: 龙岗区 does not follow it).
    Returns None for an empty name.
    """
    if not name or not isinstance(name, str):
        return None
    s = name.translate(_FULL_WIDTH_FORMS)
    s = _AGENCY_SPACE_RE.sub("", s)
    s = _AGENCY_QUOTES_RE.sub("", s)
    previous = None
    while previous != s:
        previous = s
        s = s.strip(_AGENCY_EDGE)
        if s.startswith("(") and s.endswith(")") and s.count("(") == 1 and s.count(")") == 1:
            s = s[1:-1]
        if s.endswith(")") and "(" not in s:
            s = s[:-1]
        if s.startswith("(") and ")" not in s:
            s = s[1:]
        if s.endswith("(") or s.startswith(")"):
            s = s.strip("()")
    levels = region_levels(region)
    if levels and s:
        start = next((i for i, level in enumerate(levels) if _starts_with_level(s, level) is not None), None)
        if start is not None:
            for i in range(start, len(levels) - 1):
                rest = _starts_with_level(s, levels[i])
                if rest is None or _starts_with_level(rest, levels[i + 1]) is None:
                    break
                s = rest
        deepest, short = levels[-1]
        kind = deepest[-1]
        if kind in "区县旗" and s.startswith(kind) and len(s) > 2 and not s.startswith(deepest) \
                and short != deepest:
            s = short + s
    return s or None
