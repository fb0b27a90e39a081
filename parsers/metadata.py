"""Title, agency, report year and publication date from a report's lines of text.

Titles vary ("…2023年度政府信息公开工作年度报告", "政府信息公开工作2022年度报告", "工作度报告",
a space inside, no 工作); the year is taken from the title, else from the statistics-period
sentence; the agency is what precedes 政府信息公开 once the year is removed.
"""

from __future__ import annotations

import re
import unicodedata

from parsers.labels import norm

_CN_DIGITS = {"〇": "0", "○": "0", "零": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5",
              "六": "6", "七": "7", "八": "8", "九": "9"}
_YEAR_RE = re.compile(r"((?:19|20)\d{2})\s*年")
_CN_YEAR_RE = re.compile(r"([二][〇○零一二三四五六七八九]{3})\s*年")
_BARE_YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_YEAR_TOKEN_RE = re.compile(r"(?:(?:19|20)\d{2}|[二][〇○零一二三四五六七八九]{3})\s*年\s*度?|(?<!\d)(?:19|20)\d{2}(?!\d)")
_PERIOD_RE = re.compile(r"统计(?:期限|时限|期间|时间|区间|周期)[^。\n]{0,12}?((?:19|20)\d{2})\s*年")
_TITLE_CORE_RE = re.compile(r"(?:政府信息公开|政务公开|信息公开).{0,12}?报告")
_TITLE_PREFIX_RE = re.compile(r"^(?:标题|题目|名称|主题)[:：]\s*")
_TITLE_SUFFIX_RE = re.compile(r"\s*[_|｜\-—–]+\s*[^_|｜\-—–]*$")
_AGENCY_CUT_RE = re.compile(r"(?:关于)?(?:政府信息公开|政务公开|信息公开)")
_AGENCY_PREFIX_RE = re.compile(r"^.*?(?:图解|解读|一图读懂|图说|转载)[:：]?|^.*《")
_NOT_REPORT_TITLE_RE = re.compile(r"解读|图解|一图读懂|图说|答记者问|问答|说明会|新闻发布")

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
    """The first report-title line that is not link text; prefer ones ending in 报告; else <title>."""
    candidates = [text for text, linked in lines[:400] if not linked and is_title_like(text)]
    for text in candidates:
        if clean_title(text).endswith("报告"):
            return clean_title(text)
    if page_title:
        for part in re.split(r"\s*[_|｜]\s*|\s+-\s+|-(?=[^-]*$)", page_title):
            if is_title_like(part):
                return clean_title(part)
    if candidates:
        return clean_title(candidates[0])
    return None


def agency_of(title: str) -> str | None:
    s = _YEAR_TOKEN_RE.sub("", title.translate(_FULL_WIDTH_DIGITS))
    s = re.sub(r"\s+", "", s)
    match = _AGENCY_CUT_RE.search(s)
    agency = s[: match.start()] if match else ""
    agency = _AGENCY_PREFIX_RE.sub("", agency).strip("的之关于:：-—_ 《》")
    return agency or None


def year_from_text(lines: list[str]) -> int | None:
    for line in lines[:300]:
        match = _PERIOD_RE.search(unicodedata.normalize("NFKC", line))
        if match:
            return int(match.group(1))
    return None


def _valid_date(y: str, m: str, d: str) -> str | None:
    month, day = int(m), int(d)
    if 1 <= month <= 12 and 1 <= day <= 31:
        return f"{int(y):04d}-{month:02d}-{day:02d}"
    return None


def find_published(lines: list[str], tail: list[str]) -> str | None:
    """The page's own publication date: a labelled date (发布日期/公开日期/时间…, in that order of
    preference; a label and its date may sit on neighbouring lines), else the signature date
    closing the report. Never from the URL."""
    joined = unicodedata.normalize("NFKC", "\n".join(lines[:600]))
    joined = re.sub(r"[ \t\u3000]*\n[ \t\u3000]*", " ", joined)
    for label, pattern in _LABELLED_DATE_RES:
        if label not in joined:
            continue
        for match in pattern.finditer(joined):
            date = _valid_date(*match.groups())
            if date:
                return date
    for line in reversed(tail[-6:]):
        match = _SIGNATURE_DATE_RE.match(unicodedata.normalize("NFKC", line).strip())
        if match:
            date = _valid_date(*match.groups())
            if date:
                return date
    return None


_REPORT_TITLE_END_RE = re.compile(r"报告\s*(?:[（(][^）)]{0,16}[）)])?$")


def is_report_title(title: str) -> bool:
    """The title names the report itself (…年度报告, …年报告（全文）), not a notice about it."""
    return bool(_REPORT_TITLE_END_RE.search(title.strip(" 。.")))


def is_interpretation(title: str | None) -> bool:
    return bool(title) and bool(_NOT_REPORT_TITLE_RE.search(title or ""))
