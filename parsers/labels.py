"""Label text → template keys, by normalised text and keywords, never by column position.

Why keywords: real labels vary in spacing, punctuation width, quotes, ordinals ("1."/"1、"/"（一）"),
and are split across <p>/<span>; the distinctive words ("国家秘密", "不掌握", "信访") do not vary.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from nianbao.parsers import template

_SPACE_RE = re.compile(r"[\s\u00a0\u2000-\u200b\u3000\ufeff]+")
_QUOTES_RE = re.compile(r"[\"'“”‘’「」『』]")
# A leading ordinal: 一、 / （一） / (1) / 1. / 1、 / 第一部分 …
_ORDINAL_RE = re.compile(
    r"^(?:第[一二三四五六七八九十]+(?:部分|项)?[、.,:]?|[(（]?[一二三四五六七八九十\d]{1,3}[)）][、.,]?"
    r"|[一二三四五六七八九十]{1,3}[、.,:]|\d{1,2}(?:[、,:]|\.(?!\d)))"
)


@lru_cache(maxsize=8192)
def norm(text: str) -> str:
    """NFKC (full-width → half-width), no whitespace/NBSP, no quotes: the form labels are compared in."""
    text = unicodedata.normalize("NFKC", text)
    text = _SPACE_RE.sub("", text)
    return _QUOTES_RE.sub("", text)


def strip_ordinal(text: str) -> str:
    """The label without its leading ordinal(s): "三、(一)予以公开" → "予以公开"."""
    previous = None
    while previous != text:
        previous = text
        text = _ORDINAL_RE.sub("", text, count=1)
    return text


@lru_cache(maxsize=16384)
def core(text: str) -> str:
    """The label compared by the key rules: normalised, ordinals stripped (cached: every row of
    every table asks for it, and the template's labels repeat in every report)."""
    return strip_ordinal(norm(text))


@template.cached
def _template_labels(kind: str) -> dict[str, str]:
    """core(label) or a keyword -> key, for `kind` (request_row, active_row, active_measure), from the
    template's data: the fallback after the keyword rules below, so an edition's new row is read by
    the label its file gives it (and by the keywords its `match` lists) with no code here. The rules
    come first and decide every label they know (the packaged editions' labels all are)."""
    keys = template.keys()
    out: dict[str, str] = {}
    for name in template.editions():
        if kind == "request_row":
            labels = {r: keys["requests"]["rows"][r] for r in keys["requests"]["row_order"][name]}
        else:
            labels = keys["active"][name]["rows" if kind == "active_row" else "measures"]
        for key, label in labels.items():
            out.setdefault(core(label), key)
        for key, words in template.edition(name).get("match", {}).get(kind, {}).items():
            for word in words:
                out.setdefault(norm(word), key)
    return out


def _from_template(kind: str, s: str) -> str | None:
    """The key whose template label is `s` (core form), or whose match keyword `s` contains."""
    labels = _template_labels(kind)
    if s in labels:
        return labels[s]
    return next((key for word, key in labels.items() if len(word) > 1 and word in s), None) \
        if any(template.edition(n).get("match", {}).get(kind) for n in template.editions()) else None


def _clear_label_caches() -> None:
    for func in (request_row_key, request_column_key, active_row_key, active_measure_key, _request_header_vote,
                 _active_header_label):
        func.cache_clear()


template.on_change(_clear_label_caches)

# ---------------------------------------------------------------- table 3 rows

# (key, test on the core label). Order matters: specific before general.
_REQUEST_ROW_RULES: list[tuple[str, object]] = [
    ("new_received", lambda s: "新收" in s),
    ("carried_over", lambda s: "上年结转" in s or s.startswith("上年度结转")),
    ("carried_forward", lambda s: "结转下年" in s or "结转至下年" in s),
    ("partially_granted", lambda s: s.startswith("部分公开")),
    ("granted", lambda s: s.startswith("予以公开")),
    ("denied_state_secret", lambda s: "国家秘密" in s),
    ("denied_prohibited_by_law", lambda s: "禁止公开" in s),
    ("denied_three_safeties_one_stability", lambda s: "三安全一稳定" in s or s.startswith("危及")),
    ("denied_third_party_rights", lambda s: "第三方" in s),
    ("denied_internal_affairs", lambda s: "内部事务" in s),
    ("denied_process_information", lambda s: "过程性" in s),
    ("denied_enforcement_case_file", lambda s: "执法案卷" in s),
    ("denied_administrative_query", lambda s: "行政查询" in s),
    ("unavailable_not_held", lambda s: "不掌握" in s),
    ("unavailable_needs_creation", lambda s: "另行制作" in s or "没有现成" in s),
    ("unavailable_unclear_after_correction", lambda s: "仍不明确" in s or s.startswith("补正后")),
    ("not_processed_petition", lambda s: "信访" in s or "举报投诉" in s),
    ("not_processed_repeated", lambda s: s.startswith("重复申请")),
    ("not_processed_publication", lambda s: "出版物" in s),
    ("not_processed_excessive", lambda s: "大量反复" in s),
    ("not_processed_reconfirmation", lambda s: "重新出具" in s or "确认或" in s),
    ("other_no_correction", lambda s: "不补正" in s),
    ("other_fee_unpaid", lambda s: "缴纳费用" in s or "收费通知" in s),
    ("other_other", lambda s: s == "其他"),
    ("other", lambda s: s == "其他处理"),
    ("total", lambda s: s in ("总计", "合计")),
]


# A block or group label printed in the same cell as the first row label under it (DOCX/PDF tables
# that merge "三、本年度办理结果" and "（一）予以公开" into one cell): the group, then an ordinal.
_GROUP_PREFIX_RE = re.compile(
    r"^(?:本年度办理结果|不予公开|无法提供|不予处理|其他处理)(?=[(（]?[一二三四五六七八九十\d]{1,3}[)）、.,:])")


@lru_cache(maxsize=8192)
def request_row_key(label: str) -> str | None:
    """Table 3 row key of one label cell, or None (group labels such as "（三）不予公开" give None).

    A cell holding a group label and the first row label under it ("三、本年度办理结果（一）予以公开",
    "（六）其他处理 3.其他") is keyed by the row label after the group.
    """
    s = core(label)
    while s:
        for key, test in _REQUEST_ROW_RULES:
            if test(s):  # type: ignore[operator]
                return key
        found = _from_template("request_row", s)
        if found:
            return found
        rest = _GROUP_PREFIX_RE.sub("", s, count=1)
        if rest == s:
            return None
        s = strip_ordinal(rest)
    return None


# Table 3's column labels are the template's (common.json); these are the other spellings seen.
_COLUMN_ALIASES = {"其他组织": "other_org", "合计": "total"}


@template.cached
def _request_columns() -> dict[str, str]:
    """core(label) -> column key: the template's labels, then the aliases."""
    labels = {core(label): key for key, label in template.keys()["requests"]["columns"].items()}
    return {**labels, **{a: k for a, k in _COLUMN_ALIASES.items() if a not in labels}}


@lru_cache(maxsize=4096)
def request_column_key(label: str) -> str | None:
    return _request_columns().get(core(label))


def is_request_header(labels: list[str]) -> bool:
    """A header row of table 3: the 勾稽关系 note, 申请人情况, 法人或其他组织, or ≥2 applicant labels."""
    hits = 0
    for label in labels:
        vote = _request_header_vote(label)
        if vote == 2:
            return True
        hits += vote
    return hits >= 2


@lru_cache(maxsize=16384)
def _request_header_vote(label: str) -> int:
    """2: the label alone makes a table 3 header; 1: an applicant label; 0: neither."""
    s = norm(label)
    if "勾稽关系" in s or "申请人情况" in s or "法人或其他组织" in s:
        return 2
    return int(_request_columns().get(strip_ordinal(s)) not in (None, "other_org", "total"))


# ---------------------------------------------------------------- table 2

_ACTIVE_ROWS = [
    ("normative_documents", lambda s: "规范性文件" in s),
    ("rules", lambda s: s == "规章" or s.startswith("规章") and len(s) <= 4),
    ("licensing", lambda s: s.startswith("行政许可")),
    ("other_services", lambda s: "对外管理服务" in s),
    ("penalties", lambda s: s.startswith("行政处罚")),
    ("coercive_measures", lambda s: s.startswith("行政强制")),
    ("fees", lambda s: "事业性收费" in s),
    ("procurement", lambda s: "集中采购" in s),
]

_ACTIVE_MEASURES = [
    ("issued", lambda s: "制发" in s),
    ("repealed", lambda s: "废止" in s),
    ("in_force", lambda s: "现行有效" in s),
    ("amount_10k_yuan", lambda s: "收费金额" in s),
    ("produced", lambda s: "新制作" in s),
    ("published_total", lambda s: "公开总数" in s),
    ("published", lambda s: "新公开" in s),
    ("items_prev_year", lambda s: "上一年" in s and "项目" in s),
    ("items_change", lambda s: "增/减" in s or "增减" in s),
    ("decisions", lambda s: "处理决定" in s),
    ("projects", lambda s: "采购项目" in s),
    ("amount_yuan", lambda s: "采购总金额" in s or ("采购" in s and "金额" in s)),
]


@lru_cache(maxsize=4096)
def active_row_key(label: str) -> str | None:
    s = core(label)
    for key, test in _ACTIVE_ROWS:
        if test(s):  # type: ignore[operator]
            return key
    return _from_template("active_row", s)


@lru_cache(maxsize=4096)
def active_measure_key(label: str) -> str | None:
    s = core(label)
    for key, test in _ACTIVE_MEASURES:
        if test(s):  # type: ignore[operator]
            return key
    return _from_template("active_measure", s)


def is_active_header(labels: list[str]) -> bool:
    return any(_active_header_label(label) for label in labels)


@lru_cache(maxsize=16384)
def _active_header_label(label: str) -> bool:
    s = norm(label)
    return "信息内容" in s or s.startswith("第二十条") or active_measure_key(label) is not None


# ---------------------------------------------------------------- table 4

_PROCEDURES = [
    ("litigation_direct", lambda s: "未经复议" in s or "直接起诉" in s),
    ("litigation_after_review", lambda s: "复议后起诉" in s),
    ("litigation", lambda s: s == "行政诉讼"),
    ("review", lambda s: s == "行政复议"),
]

_OUTCOMES = [
    ("upheld", lambda s: "维持" in s),
    ("corrected", lambda s: "纠正" in s),
    ("other", lambda s: s in ("其他结果", "其他")),
    ("pending", lambda s: "未审结" in s),
    ("total", lambda s: s in ("总计", "合计")),
]


@lru_cache(maxsize=4096)
def appeal_procedure_key(label: str) -> str | None:
    s = core(label)
    for key, test in _PROCEDURES:
        if test(s):  # type: ignore[operator]
            return key
    return None


@lru_cache(maxsize=4096)
def appeal_outcome_key(label: str) -> str | None:
    s = core(label)
    for key, test in _OUTCOMES:
        if test(s):  # type: ignore[operator]
            return key
    return None


def is_appeals_header(labels: list[str]) -> bool:
    """Both 行政复议 and 行政诉讼, a litigation sub-header, or ≥2 outcome labels."""
    seen = outcomes = 0
    for label in labels:
        bits = _appeals_header_bits(label)
        seen |= bits
        outcomes += bits >> 3
    return (seen & 3) == 3 or bool(seen & 4) or outcomes >= 2


@lru_cache(maxsize=16384)
def _appeals_header_bits(label: str) -> int:
    """What one label says towards is_appeals_header (asked of every row of every table):
    1 行政复议, 2 行政诉讼, 4 a litigation sub-header, 8 an outcome label."""
    s = core(label)
    return ((s == "行政复议") | (s == "行政诉讼") << 1 | ("未经复议" in s or "复议后起诉" in s) << 2
            | (s in ("结果维持", "结果纠正", "其他结果", "尚未审结")) << 3)
