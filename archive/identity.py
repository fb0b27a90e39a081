"""Agency names as the archive keys them, and the registry's hints for the parser.

The archive's two keys are agency and year, so one body must be one name over the years and a
navigation fragment ("首页 > 信息公开 > 年度报告") must never become a body. Normalisation is the
parser's (`parsers.metadata.normalize_agency`, imported lazily: the archive builds with any parser
that keeps the contract); until it lands, a minimal stand-in folds whitespace and full-width forms.
What still looks like navigation after that is refused here (the version keeps agency null and a
warning) rather than archived as a body.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

# Text that belongs to a portal's navigation, never to a body's name.
NAVIGATION_MARKS = (">", "»", "›", "＞", "首页", "当前位置", "您的位置", "所在位置")
# Column names a breadcrumb or a page title ends with ("… > 政府信息公开年报").
COLUMN_SUFFIXES = ("政府信息公开年报", "政府信息公开年度报告", "信息公开年报", "年度报告", "年报",
                   "政府信息公开", "信息公开", "政务公开", "信息公开目录", "信息公开指南", "法定主动公开内容")

_SPACE = re.compile(r"\s+")


def _fallback_normalize(name: str, region: str | None = None) -> str:
    """Whitespace removed, full-width letters/digits folded (NFKC leaves ideographs as they are)."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", name))


@lru_cache(maxsize=1)
def _parser_normalize() -> Callable[..., str] | None:
    try:
        from nianbao.parsers.metadata import normalize_agency  # type: ignore[attr-defined]
    except ImportError:
        return None
    return normalize_agency


def is_navigation(name: str) -> bool:
    """True when a would-be agency is navigation text: a breadcrumb mark or a column name."""
    s = _SPACE.sub("", unicodedata.normalize("NFKC", name))
    return any(m in s for m in NAVIGATION_MARKS) or s.endswith(COLUMN_SUFFIXES)


@lru_cache(maxsize=65536)
def normalize_agency(name: str | None, region: str | None = None) -> str | None:
    """The archive's name for a body: the parser's normalisation (region of the portal given, so
    区/县 prefixes resolve), None for empty or navigation text."""
    if not name or not isinstance(name, str):
        return None
    fn = _parser_normalize()
    out: str | None
    try:
        out = fn(name, region=region) if fn else _fallback_normalize(name, region)
    except Exception:  # a parser bug must not lose the report: keep the stand-in's answer
        out = _fallback_normalize(name, region)
    if not out or is_navigation(out):
        return None
    return out


def registry_index(registry: Iterable[dict]) -> dict[str, dict]:
    """Registry entries by source name."""
    return {str(s["name"]): s for s in registry if s.get("name")}


def hints_for(capture: dict, registry: dict[str, dict]) -> dict:
    """What the registry knows about the column a capture came from, for `parse_report(hints=...)`:
    {"agency": …, "region": …} (only the keys the entry has; {} for an unknown source)."""
    entry = registry.get(str(capture.get("source") or "")) or {}
    return {k: entry[k] for k in ("agency", "region") if entry.get(k)}
