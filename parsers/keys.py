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
    text = resources.files("parsers").joinpath("template_keys.json").read_text(encoding="utf-8")
    return json.loads(text)


def active_cells(edition: str) -> list[tuple[str, str]]:
    """(row, measure) pairs of table 2 for an edition, in template order."""
    cells = template_keys()["active"][edition]["cells"]
    return [(row, measure) for row, measures in cells.items() for measure in measures]


def request_rows(edition: str) -> list[str]:
    return list(template_keys()["requests"]["row_order"][edition])


def result_rows(edition: str) -> list[str]:
    return list(template_keys()["requests"]["result_rows"][edition])


def request_columns() -> list[str]:
    return list(template_keys()["requests"]["columns"])


def applicant_columns() -> list[str]:
    return list(template_keys()["requests"]["applicant_columns"])


def appeal_procedures() -> list[str]:
    return list(template_keys()["appeals"]["procedures"])


def appeal_outcomes() -> list[str]:
    return list(template_keys()["appeals"]["outcomes"])


def section_titles() -> dict[int, str]:
    return {int(k): v for k, v in template_keys()["sections"].items()}
