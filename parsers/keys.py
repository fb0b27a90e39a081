"""The national template's keys and labels, loaded once from the packaged copy of keys.json.

The copy ships as package data (`parsers/template_keys.json`) so the parser works installed,
without ../shared; a test asserts it equals ../shared/template/keys.json.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

EDITIONS = ("2019", "2021")


@lru_cache(maxsize=1)
def template_keys() -> dict[str, Any]:
    """keys.json as a dict (cached; treat as read-only)."""
    text = resources.files("nianbao.parsers").joinpath("template_keys.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=4)
def active_cells(edition: str) -> tuple[tuple[str, str], ...]:
    """(row, measure) pairs of table 2 for an edition, in template order."""
    cells = template_keys()["active"][edition]["cells"]
    return tuple((row, measure) for row, measures in cells.items() for measure in measures)


@lru_cache(maxsize=4)
def request_rows(edition: str) -> tuple[str, ...]:
    return tuple(template_keys()["requests"]["row_order"][edition])


@lru_cache(maxsize=4)
def result_rows(edition: str) -> tuple[str, ...]:
    return tuple(template_keys()["requests"]["result_rows"][edition])


@lru_cache(maxsize=4)
def request_columns() -> tuple[str, ...]:
    return tuple(template_keys()["requests"]["columns"])


@lru_cache(maxsize=4)
def applicant_columns() -> tuple[str, ...]:
    return tuple(template_keys()["requests"]["applicant_columns"])


@lru_cache(maxsize=4)
def appeal_procedures() -> tuple[str, ...]:
    return tuple(template_keys()["appeals"]["procedures"])


@lru_cache(maxsize=4)
def appeal_outcomes() -> tuple[str, ...]:
    return tuple(template_keys()["appeals"]["outcomes"])


def section_titles() -> dict[int, str]:
    return {int(k): v for k, v in template_keys()["sections"].items()}
