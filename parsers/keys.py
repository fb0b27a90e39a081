"""The national template's keys and labels, as the parser asks for them.

All of it derives from the template's data files (parsers/template/: one file per edition and one
for what they share), so a new edition is a new file there, nothing here.
"""

from __future__ import annotations

from typing import Any

from nianbao.parsers.template import cached, edition, editions, keys

__all__ = ["editions", "template_keys", "active_cells", "request_rows", "result_rows", "request_columns",
           "applicant_columns", "appeal_procedures", "appeal_outcomes", "section_titles", "evidence"]


def template_keys() -> dict[str, Any]:
    """The template in the shape of ../shared/template/keys.json (cached; treat as read-only)."""
    return keys()


@cached
def active_cells(edition: str) -> tuple[tuple[str, str], ...]:
    """(row, measure) pairs of table 2 for an edition, in template order."""
    cells = template_keys()["active"][edition]["cells"]
    return tuple((row, measure) for row, measures in cells.items() for measure in measures)


@cached
def request_rows(edition: str) -> tuple[str, ...]:
    return tuple(template_keys()["requests"]["row_order"][edition])


@cached
def result_rows(edition: str) -> tuple[str, ...]:
    return tuple(template_keys()["requests"]["result_rows"][edition])


@cached
def request_columns() -> tuple[str, ...]:
    return tuple(template_keys()["requests"]["columns"])


@cached
def applicant_columns() -> tuple[str, ...]:
    return tuple(template_keys()["requests"]["applicant_columns"])


@cached
def appeal_procedures() -> tuple[str, ...]:
    return tuple(template_keys()["appeals"]["procedures"])


@cached
def appeal_outcomes() -> tuple[str, ...]:
    return tuple(template_keys()["appeals"]["outcomes"])


def section_titles() -> dict[int, str]:
    return {int(k): v for k, v in template_keys()["sections"].items()}


@cached
def evidence() -> dict[tuple[str, str], tuple[str, ...]]:
    """(kind, key) -> the editions a found key is evidence for, for keys not every edition has.

    kind: `request_row`, `active_row`, `active_measure`, or `marker` (normalised text only some
    editions print, e.g. 第二十条第(九) of 2019's procurement block). A key all editions share says
    nothing about which one a table follows.
    """
    names = editions()
    keys_ = template_keys()
    sets: dict[tuple[str, str], set[str]] = {}
    for name in names:
        active = keys_["active"][name]
        for row in keys_["requests"]["row_order"][name]:
            sets.setdefault(("request_row", row), set()).add(name)
        for row in active["cells"]:
            sets.setdefault(("active_row", row), set()).add(name)
        for measures in active["cells"].values():
            for measure in measures:
                sets.setdefault(("active_measure", measure), set()).add(name)
        for marker in edition(name).get("markers", []):
            sets.setdefault(("marker", marker), set()).add(name)
    return {k: tuple(sorted(v)) for k, v in sets.items() if len(v) < len(names)}
