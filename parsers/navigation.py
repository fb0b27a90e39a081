"""Is this text page chrome (breadcrumb, column name, site name, menu or link label), not the report?

Why: on real portals the first line that looks like a report title is often the breadcrumb
("首页 > 信息公开 > 年度报告"), the column heading ("政府信息公开年报") or the site's name, and a
title or agency taken from it keys the report under "首页>" with no year. These predicates are
plain-text tests (no tree), so they apply to HTML lines, converted attachments and text alike;
`parsers.htmltext.nav_containers` drops the containers (nav, crumb, menu, footer …) before lines
are made.
"""

from __future__ import annotations

import re
from functools import lru_cache

from nianbao.parsers.labels import norm

# "当前位置：" and its variants open a breadcrumb whatever follows
_POSITION_RE = re.compile(r"(?:当前|现在|所在|您的|您现在的|您当前的|你的|你现在的)(?:的)?位置"
                          r"|当前页面|当前栏目|位置[:：]")
# separators between breadcrumb segments (">" may come doubled, full-width or as an arrow)
_CRUMB_SEP_RE = re.compile(r"\s*(?:>{1,2}|»|›|＞{1,2}|→|〉|-{0,2}>)\s*")
_SLASH_SEP_RE = re.compile(r"\s*[/\\｜|]\s*")  # also a separator when no digits sit around it (not a date)
_HOME_RE = re.compile(r"^(?:网站首页|返回首页|首页|主页|门户首页|本站首页)")
# column names a portal gives its report column (and their parts), compared without spaces
_COLUMN_RE = re.compile(
    r"^(?:政府|政务|部门|机关|法定主动公开内容|主动公开)?(?:信息)?公开(?:工作)?(?:年度报告|年报|报告)?(?:专栏|栏目|目录)?$"
    r"|^(?:年度报告|年度工作报告|年报|工作年报|信息公开年报|政府信息公开年报|政府信息公开工作年报|政务公开年报"
    r"|政府信息公开年度报告|政府信息公开工作年度报告|政务公开工作年度报告|信息公开年度报告|年度报告专栏"
    r"|政府信息公开指南|政府信息公开制度|政府信息公开目录|政策解读|解读回应|通知公告|工作动态|法定主动公开内容"
    r"|主动公开|依申请公开|公开目录|公开指南|信息公开目录|政府信息公开专栏|政务公开专栏)$"
)
# site names: "XX人民政府门户网站", "XX政府网", "中国XX" portals, "XX政务服务网"
_SITE_RE = re.compile(r"(?:门户网站|门户网|政府网站|网站|政府网|政务网|政务服务网|官网|官方网站|门户|网站群)$|门户网站")
# a line that labels a link to another page: 相关链接：…, 上一篇：…, 附件：…
_LINK_LABEL_RE = re.compile(
    r"^[【\[]?(?:相关链接|相关阅读|相关文章|相关报告|相关稿件|相关信息|相关解读|相关附件|延伸阅读|原文链接|阅读原文|原文|"
    r"链接|附件下载|附件|上一篇|下一篇|上一条|下一条|上篇|下篇|点击查看|查看原文|点击下载|下载|推荐阅读|关联文件|"
    r"关联解读|相关政策)[】\]]?\s*[:：]"
)


@lru_cache(maxsize=4096)
def is_navigation_text(text: str) -> bool:
    """A breadcrumb (当前位置…, or short segments joined by > » › ＞ → /) or a home-rooted menu line."""
    s = text.strip()
    if not s:
        return False
    if _POSITION_RE.search(s):
        return True
    compact = s.replace(" ", "").replace("\u3000", "")
    separator = _CRUMB_SEP_RE
    if not separator.search(s) and _SLASH_SEP_RE.search(s) and not re.search(r"\d\s*[/\\]\s*\d", s):
        separator = _SLASH_SEP_RE
    parts = [p for p in separator.split(s) if p.strip()]
    if len(parts) >= 2:
        # every segment but the last is short (column names); the last may be the page's title
        if all(len(p.strip()) <= 14 for p in parts[:-1]) and (_HOME_RE.match(compact) or len(parts) >= 3
                                                               or is_column_name(parts[-1])
                                                               or is_column_name(parts[0])):
            return True
    if _HOME_RE.match(compact):
        words = s.split()
        if len(words) >= 2 and all(len(w) <= 14 for w in words[:-1]):
            return True
        if compact in ("首页", "网站首页", "返回首页", "主页"):
            return True
    return False


def last_crumb(text: str) -> str | None:
    """The last segment of a breadcrumb line ("首页 > 信息公开 > XX2023年…报告" → the page's own
    title, when a portal prints it there), else None."""
    parts = [p.strip() for p in _CRUMB_SEP_RE.split(text) if p.strip()]
    return parts[-1] if len(parts) >= 2 else None


@lru_cache(maxsize=4096)
def is_column_name(text: str) -> bool:
    """A report column's (or a sibling column's) own name: 政府信息公开年报, 年度报告, 信息公开 …"""
    s = norm(text).strip("：:|-_·>»›")
    return bool(s) and bool(_COLUMN_RE.match(s))


@lru_cache(maxsize=4096)
def is_site_name(text: str) -> bool:
    """A portal's name: XX人民政府门户网站, XX人民政府网, XX政务服务网 …"""
    s = norm(text)
    return bool(s) and bool(_SITE_RE.search(s))


def is_link_label_line(text: str) -> bool:
    """相关链接：… / 上一篇：… / 附件：…: the text after the label names another document."""
    return bool(_LINK_LABEL_RE.match(text.strip()))


def ends_with_column_name(text: str) -> bool:
    """The agency candidate ends in a column name ("XX区政府信息公开年报"): chrome, not a body."""
    s = norm(text)
    for cut in range(max(0, len(s) - 16), len(s) - 1):
        if is_column_name(s[cut:]) and len(s[cut:]) >= 3:
            return True
    return False
