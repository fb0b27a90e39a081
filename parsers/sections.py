"""Split a report's running text into its six sections by their headings.

A heading is a short line with a top-level ordinal (一、/一./第一部分/1、/markdown #) and the
section's keywords; wording, numbering and typos vary ("行政法复议", "存在的主要问题及整改措施").
Headings must come in order, so "（一）主动公开" inside section 1 is never taken for section 2.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from nianbao.parsers.text_tables import TABLE_MARK

LINK_MARK = "\x00link"  # stands for a line of link text only (page navigation, related links)

_SPACE_RE = re.compile(r"[\s\u00a0\u3000]+")
_TOP_ORDINAL_RE = re.compile(
    r"^(?:第([一二三四五六七八九十])部分[、.:：]?|([一二三四五六七八九十])[、.．,，:：]|([1-9])[、．.](?!\d))"
)
_CN = "一二三四五六七八九十"
_STOP_RE = re.compile(
    r"^(?:附件下载|附件[:：]|相关附件|扫一扫|打印本页|打印|关闭窗口|关闭|分享到|【打印】|【关闭】|相关链接|"
    r"上一篇|下一篇|责任编辑|版权所有|主办单位|网站地图|联系我们|文字解读|图片解读|视频解读|相关文章)"
)

_KEYWORDS: list[tuple[int, tuple[str, ...]]] = [
    (6, ("其他需要报告", "其他事项", "其它需要报告")),
    (5, ("存在的主要问题", "主要问题", "存在问题", "改进情况", "整改")),
    (4, ("复议", "诉讼")),
    (3, ("收到和处理", "依申请公开", "申请情况", "收到与处理")),
    (2, ("主动公开",)),
    (1, ("总体情况", "概述", "基本情况", "总体概况")),
]


@lru_cache(maxsize=8192)
def _heading_number(line: str) -> tuple[int, str] | None:
    """(section number, heading text without ordinal) if the line is a top-level heading.

    Cached: headings and boilerplate lines recur in every report of a portal."""
    s = unicodedata.normalize("NFKC", line).strip()
    hashes = len(s) - len(s.lstrip("#"))
    s = s.lstrip("#").strip()
    compact = _SPACE_RE.sub("", s)
    if not compact or len(compact) > 40:
        return None
    match = _TOP_ORDINAL_RE.match(compact)
    if match:
        ordinal = next(g for g in match.groups() if g)
        number = int(ordinal) if ordinal.isdigit() else _CN.index(ordinal) + 1
        rest = compact[match.end():]
    elif hashes and not re.match(r"^[(（]|\d|[一二三四五六七八九十]", compact):
        number, rest = 0, compact
    else:
        return None
    rest = rest.strip("。.:：")
    if not rest:
        return None
    for section, words in _KEYWORDS:
        if any(word in rest for word in words):
            if number and number != section:
                return None
            return section, rest
    return None


def split_sections(lines: list[str]) -> tuple[list[dict], int | None, int]:
    """Sections found (number, heading, text); index of the first heading line; index after the end."""
    found: list[tuple[int, str, int]] = []
    last = 0
    for index, line in enumerate(lines):
        if line.startswith("\x00"):
            continue
        head = _heading_number(line)
        if head and head[0] > last:
            found.append((head[0], head[1], index))
            last = head[0]
    sections = []
    end = len(lines)
    for position, (number, heading, start) in enumerate(found):
        stop = found[position + 1][2] if position + 1 < len(found) else len(lines)
        body = []
        for index in range(start + 1, stop):
            line = lines[index]
            if line.startswith(TABLE_MARK):
                continue
            if position + 1 == len(found) and (line == LINK_MARK or _STOP_RE.match(line.strip())):
                end = index
                break
            text = line.strip()
            if text and not text.startswith("\x00"):
                body.append(text.lstrip("#").strip() if text.startswith("#") else text)
        sections.append({"number": number, "heading": heading, "text": "\n".join(body)})
    first = found[0][2] if found else None
    return sections, first, end
