"""Read one table cell's printed text as a number, keeping what was printed.

Blank is not zero: an empty cell reads as None. Zero marks ("—", "-", "/", "无") read as 0 and
say so; units (件, 元, 万元) and thousands separators are read and said. A published number is
never corrected: a negative count stays negative (with a warning).

A number beyond what a report can plausibly print (`BOUNDS`, per value kind) is not a reading: its
value is None, its raw text is kept, and a warning says so. The bounds sit far above any real report
and well inside what SQLite stores exactly (integers below 2^63, floats exact below 2^53), so one
absurd cell (a 20-digit count, an OCR run of digits) can neither stop the archive's build nor
overflow a rule's sum or a total over every report.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import NamedTuple

ZERO_MARKS = {"—", "——", "-", "--", "–", "―", "─", "/", "无", "﹣", "—-", "-—"}
COUNT_UNITS = ("件", "个", "项", "条", "人", "次", "家", "份", "宗", "起")
_NUMBER_RE = re.compile(r"^([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?$")
_WS_RE = re.compile(r"[\s\u00a0\u3000\ufeff\u200b]+")

KIND_COUNT = "count"
KIND_SIGNED = "signed"
KIND_MONEY_10K = "money_10k"  # value in 万元
KIND_MONEY_YUAN = "money_yuan"  # value in 元

# The one place the plausible bounds are defined (docs/schema.md "Value bounds" lists them): |value|
# at most this, else the cell keeps its raw text with value None. Counts: a billion requests, items or
# decisions in one report's cell is beyond any body (the whole country handles ~10^6 requests a year).
# Money: 10^13 yuan (ten trillion) in one cell, 10^9 in a 万元 column; below 2^53, so floats stay exact
# to the fen. Sums of the 30-odd cells of a rule, or of one cell over 10^5 reports, stay below 2^63.
COUNT_BOUND = 10**9
MONEY_BOUND_YUAN = 10**13
BOUNDS: dict[str, int] = {
    KIND_COUNT: COUNT_BOUND,
    KIND_SIGNED: COUNT_BOUND,
    KIND_MONEY_YUAN: MONEY_BOUND_YUAN,
    KIND_MONEY_10K: MONEY_BOUND_YUAN // 10000,
}


class Reading(NamedTuple):
    value: int | float | None
    reading: str | None = None
    warning: str | None = None


def clean_raw(text: str) -> str:
    """The raw cell text as kept in the output: whitespace runs collapsed, ends stripped."""
    return _WS_RE.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def looks_like_value(text: str) -> bool:
    """True for blank, zero marks and numbers (with units): what a value cell may hold."""
    s = _compact(text)
    if not s or s in ZERO_MARKS:
        return True
    s = _strip_unit(s)[0]
    return bool(_NUMBER_RE.match(s))


def _compact(text: str) -> str:
    s = unicodedata.normalize("NFKC", text)
    s = s.replace("\u2212", "-").replace("，", ",")
    return _WS_RE.sub("", s)


def _strip_unit(s: str) -> tuple[str, str | None]:
    for unit in ("万元", "元", *COUNT_UNITS):
        if s.endswith(unit) and len(s) > len(unit):
            return s[: -len(unit)], unit
    return s, None


@lru_cache(maxsize=65536)
def read_value(text: str, kind: str = KIND_COUNT, header_unit: str | None = None) -> Reading:
    """Read a cell. `header_unit` is the unit printed in the column header ("万元"), if any."""
    s = _compact(text)
    if not s:
        return Reading(None)
    if s in ZERO_MARKS:
        return Reading(0.0 if kind in (KIND_MONEY_10K, KIND_MONEY_YUAN) else 0,
                       f"zero mark “{clean_raw(text)}” read as 0")
    notes = []
    if s != _WS_RE.sub("", text) and any(ord(ch) > 0xFF00 for ch in text):
        notes.append("full-width characters read as ASCII")
    number, unit = _strip_unit(s)
    match = _NUMBER_RE.match(number)
    if not match:
        return Reading(None, None, f"unreadable value {clean_raw(text)!r}")
    sign, digits, fraction = match.groups()
    if "," in digits:
        notes.append("thousands separators removed")
        digits = digits.replace(",", "")
    try:
        amount = Decimal(sign + digits + (fraction or ""))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return Reading(None, None, f"unreadable value {clean_raw(text)!r}")

    if kind in (KIND_MONEY_10K, KIND_MONEY_YUAN):
        unit = unit or None
        if unit in COUNT_UNITS:
            return Reading(None, None, f"unexpected unit {unit!r} in a money cell {clean_raw(text)!r}")
        effective = unit or header_unit
        if kind == KIND_MONEY_YUAN and effective == "万元":
            amount *= 10000
            notes.append("unit 万元 converted to 元" if unit else "header unit 万元 converted to 元")
        elif kind == KIND_MONEY_10K and effective == "元" and unit:
            amount /= 10000
            notes.append("unit 元 converted to 万元")
        elif unit:
            notes.append(f"unit {unit}")
        if abs(amount) > BOUNDS[kind]:
            return Reading(None, None, _beyond(text, kind))
        return Reading(float(amount), "; ".join(notes) or None)

    if unit:
        if unit in ("元", "万元"):
            return Reading(None, None, f"money unit in a count cell {clean_raw(text)!r}")
        notes.append(f"unit {unit}")
    if abs(amount) > BOUNDS.get(kind, COUNT_BOUND):
        return Reading(None, None, _beyond(text, kind))
    if amount != amount.to_integral_value():
        return Reading(None, None, f"count is not a whole number {clean_raw(text)!r}")
    if fraction:
        notes.append("decimal point read as whole number")
    value = int(amount)
    warning = None
    if value < 0 and kind == KIND_COUNT:
        warning = f"negative count {clean_raw(text)!r} kept as published"
    return Reading(value, "; ".join(notes) or None, warning)


def _beyond(text: str, kind: str) -> str:
    return (f"value {clean_raw(text)[:40]!r} beyond the plausible bound for a {kind} cell "
            f"(±{BOUNDS.get(kind, COUNT_BOUND):.0e}): kept as raw text, value null")


def measure_kind(measure: str) -> str:
    if measure == "amount_10k_yuan":
        return KIND_MONEY_10K
    if measure == "amount_yuan":
        return KIND_MONEY_YUAN
    if measure == "items_change":
        return KIND_SIGNED
    return KIND_COUNT
