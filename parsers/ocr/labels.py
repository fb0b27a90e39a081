"""OCR'd label text → the closest label the template prints, by edit distance on normalised text.

Why snap: the template is fixed, so a label read as "本年新收政府信息公开申请数呈" can only be
"本年新收政府信息公开申请数量"; snapping it lets the table reader (parsers.labels, keyword rules)
recognise the row. The known labels are not restated here: they are every non-numeric cell text
parsers.render prints for every edition (its tables are the template's), plus the labels and
section headings of the template's data (parsers/template/).
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

from nianbao.parsers.keys import editions, template_keys
from nianbao.parsers.labels import norm
from nianbao.parsers.template import cached
from nianbao.parsers.template import on_change as template_on_change

_VALUE_RE = re.compile(r"^[\d.\-]*(?:元|万元)?$")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
# OCR noise: marks no template label contains (a speck or a rule remnant read as ; ] | …)
_NOISE_RE = re.compile(r"[\[\]{}|;_~`^!?<>\\]")


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


@cached
def known_labels() -> tuple[str, ...]:
    """Every label the template prints, normalised (parsers.labels.norm), longest first."""
    from lxml import html as lxml_html

    from nianbao.parsers.render import CN_NUMERALS, random_report, render_report

    found: set[str] = set()
    for edition in editions():
        page = render_report(random_report(random.Random(0), edition=edition), edition=edition)
        for td in lxml_html.fromstring(page).iter("td"):
            text = norm(td.text_content())
            if text and not _VALUE_RE.match(text):
                found.add(text)
    keys = template_keys()
    for part in ("active", "requests", "appeals"):
        for text in _strings({k: v for k, v in keys[part].items() if k not in ("row_order", "result_rows",
                                                                                "applicant_columns", "cells")}):
            for piece in text.split("·"):
                if len(norm(piece)) > 1 and _CJK_RE.search(piece):   # labels, not key names
                    found.add(norm(piece))
    for number, heading in keys["sections"].items():
        found.add(norm(f"{CN_NUMERALS[int(number)]}、{heading}"))
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


def distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning limit + 1) once every path exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        best = i
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            best = min(best, current[j])
        if best > limit:
            return limit + 1
        previous = current
    return previous[-1]


def allowed(label: str) -> int:
    """Edits tolerated for a label: one for up to 5 characters (总寺 → 总计; a tie between two
    labels snaps to neither), then about one in four."""
    n = len(label)
    return 1 if n <= 5 else n // 4


@lru_cache(maxsize=8192)
def snap(text: str) -> tuple[str | None, float]:
    """(known label, similarity 0-1) for OCR'd text, or (None, 0) when none is close enough or two
    are equally close."""
    s = _NOISE_RE.sub("", norm(text))
    if not s:
        return None, 0.0
    labels = known_labels()
    if s in labels:
        return s, 1.0
    if len(s) < 2:
        return None, 0.0
    chars = set(s)
    best: list[tuple[int, str]] = []
    for label in labels:
        limit = allowed(label)
        if limit == 0 or abs(len(label) - len(s)) > limit:
            continue
        if len(chars & set(label)) < len(label) - 2 * limit:
            continue
        d = distance(s, label, limit)
        if d <= limit:
            best.append((d, label))
    if not best:
        return None, 0.0
    # ties (3其他: one edit from 3.其他 and from 其他) go to the label with the same ordinal
    ranked = sorted((d, _ordinal(label) != _ordinal(s), label) for d, label in best)
    if len(ranked) > 1 and ranked[1][:2] == ranked[0][:2]:
        return None, 0.0
    d, _, label = ranked[0]
    return label, round(1 - d / max(len(label), 1), 3)


_ORDINAL_RE = re.compile(r"^[(（]?([一二三四五六七八九十]{1,2}|\d{1,2})")


def _ordinal(text: str) -> str:
    """The leading ordinal's numeral ("3" of "3.其他", "七" of "(七)总计"), or ""."""
    match = _ORDINAL_RE.match(text)
    return match.group(1) if match else ""


template_on_change(snap.cache_clear)  # the known labels follow the template's editions
