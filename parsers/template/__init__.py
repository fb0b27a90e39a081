"""The national template as data: one file per edition, one file for what every edition shares.

Why data: the template's keys, labels, row order and measures were restated in the parser, the
renderer, the lookups, the views and the report card; a new edition (the State Council reissues the
format every few years) had to touch them all and change the archive's schema. Now an edition is
one JSON file here, ``edition_<name>.json``, found by a scan of this package (so it ships as package
data: pip installs it with the parser), and everything else derives from it:

- ``common.json``: table 3's columns, applicant columns, the labels of rows every edition prints and
  the group labels; table 4's procedures and outcomes; the six section headings.
- ``edition_<name>.json``: ``edition``, ``issued_by``, ``years`` (what the template README says of
  it), ``first_year`` (the first report year that mostly uses it: `edition_for_year`), ``markers``
  (text that only this edition prints: evidence for detection beside its keys), ``match`` (optional:
  keywords by which labels printed otherwise are read, {kind: {key: [keyword, …]}}),
  ``active`` (table 2: ``rows`` and ``measures`` with their labels, ``blocks`` as printed: a caption,
  its measures, its rows; the cells are the blocks' rows × measures) and ``requests`` (table 3:
  ``row_order``, and ``rows``: labels of the rows only this edition prints).

``register_edition(data)`` adds an edition at run time through the same door the packaged files go
through (a test's dummy edition; a deployment's edition ahead of a release); it lives in this
process and the workers it forks (a build's `jobs`), so an edition meant to last is a file. Modules
that cache what they derive register their cache's ``cache_clear`` with ``on_change`` (``cached``
does it), so a registration is seen everywhere at once.

``keys()`` composes the files into the shape of ../shared/template/keys.json (the reference; a test
asserts the two agree for the packaged editions).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

PACKAGE = "nianbao.parsers.template"
PREFIX, SUFFIX = "edition_", ".json"

_editions: dict[str, dict[str, Any]] | None = None
_listeners: list[Callable[[], None]] = []

F = TypeVar("F", bound=Callable[..., Any])


def on_change(clear: Callable[[], None]) -> Callable[[], None]:
    """Call `clear` whenever the set of editions changes (a cache of something derived from it)."""
    _listeners.append(clear)
    return clear


def cached(func: F) -> F:
    """lru_cache, cleared when an edition is registered or removed."""
    wrapped = lru_cache(maxsize=None)(func)
    on_change(wrapped.cache_clear)
    return wrapped  # type: ignore[return-value]


def _changed() -> None:
    for clear in _listeners:
        clear()


def _read(name: str) -> dict[str, Any]:
    return json.loads(resources.files(PACKAGE).joinpath(name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def common() -> dict[str, Any]:
    """common.json (treat as read-only)."""
    return _read("common.json")


def _registry() -> dict[str, dict[str, Any]]:
    global _editions
    if _editions is None:
        found: dict[str, dict[str, Any]] = {}
        for entry in resources.files(PACKAGE).iterdir():
            if entry.name.startswith(PREFIX) and entry.name.endswith(SUFFIX):
                data = _read(entry.name)
                validate(data)
                found[data["edition"]] = data
        _editions = found
    return _editions


def validate(data: dict[str, Any]) -> None:
    """ValueError naming what an edition file lacks or gets wrong (checked before it is used)."""
    name = data.get("edition")
    if not isinstance(name, str) or not name:
        raise ValueError("an edition needs a name: 'edition'")
    order = data.get("requests", {}).get("row_order") or []
    for required in ("new_received", "carried_over", "total", "carried_forward"):
        if required not in order:
            raise ValueError(f"edition {name}: requests.row_order lacks {required}")
    if order.index("carried_over") > order.index("total"):
        raise ValueError(f"edition {name}: result rows lie between carried_over and total")
    labels = {**common()["requests"]["rows"], **data["requests"].get("rows", {})}
    unlabelled = [r for r in order if r not in labels]
    if unlabelled:
        raise ValueError(f"edition {name}: rows without a label: {', '.join(unlabelled)}")
    active = data.get("active", {})
    for block in active.get("blocks", []):
        for row in block["rows"]:
            if row not in active.get("rows", {}):
                raise ValueError(f"edition {name}: table 2 block row {row} has no label")
        for measure in block["measures"]:
            if measure not in active.get("measures", {}):
                raise ValueError(f"edition {name}: table 2 measure {measure} has no label")


def register_edition(data: dict[str, Any]) -> None:
    """Add (or replace) an edition, in the form of an edition_<name>.json file."""
    validate(data)
    _registry()[data["edition"]] = copy.deepcopy(data)
    _changed()


def unregister_edition(name: str) -> None:
    """Remove an edition registered at run time (a test's dummy); a missing name is no error."""
    if _registry().pop(name, None) is not None:
        _changed()


@cached
def editions() -> tuple[str, ...]:
    """The edition names, oldest first (they are the years the formats were issued)."""
    return tuple(sorted(_registry()))


def edition(name: str) -> dict[str, Any]:
    """One edition's file (KeyError for an unknown name; treat as read-only)."""
    return _registry()[name]


def edition_for_year(year: int) -> str:
    """The edition most reports of `year` follow (the newest whose first_year is not after it; the
    oldest for earlier years): what generators print, never how a report is read (that is detected)."""
    names = sorted(editions(), key=lambda n: (edition(n).get("first_year") or 0, n))
    return next((n for n in reversed(names) if (edition(n).get("first_year") or 0) <= year), names[0])


def active_cells_of(data: dict[str, Any]) -> dict[str, list[str]]:
    """row -> measures of table 2, from the printed blocks (rows in print order)."""
    cells: dict[str, list[str]] = {}
    for block in data["active"]["blocks"]:
        for row in block["rows"]:
            cells.setdefault(row, []).extend(m for m in block["measures"] if m not in cells.get(row, []))
    return cells


def result_rows_of(order: list[str]) -> list[str]:
    """The rows under 三、本年度办理结果: those between 上年结转 and 总计."""
    return order[order.index("carried_over") + 1: order.index("total")]


def group_label(row: str, groups: dict[str, str]) -> str | None:
    """The group label a table 3 row prints under (`groups`: a key or a `prefix_*` -> label)."""
    for pattern, label in groups.items():
        if pattern == row or (pattern.endswith("*") and row.startswith(pattern[:-1])):
            return label
    return None


def _merge(orders: list[list[str]]) -> list[str]:
    """One order of all rows: the first list's, each later row placed before its successor there."""
    merged: list[str] = []
    for order in orders:
        for i, key in enumerate(order):
            if key in merged:
                continue
            following = next((k for k in order[i + 1:] if k in merged), None)
            merged.insert(merged.index(following) if following else len(merged), key)
    return merged


def _keys() -> dict[str, Any]:
    names = editions()
    data = {name: edition(name) for name in names}
    shared = common()
    newest_first = [data[n] for n in reversed(names)]
    labels = {**shared["requests"]["rows"]}
    for ed in newest_first:
        labels.update({k: v for k, v in ed["requests"].get("rows", {}).items() if k not in labels})
    order = _merge([ed["requests"]["row_order"] for ed in newest_first])
    return {
        "editions": list(names),
        "active": {n: {"rows": dict(d["active"]["rows"]), "measures": dict(d["active"]["measures"]),
                       "cells": active_cells_of(d)} for n, d in data.items()},
        "requests": {
            "columns": dict(shared["requests"]["columns"]),
            "applicant_columns": list(shared["requests"]["applicant_columns"]),
            "rows": {k: labels[k] for k in order},
            "groups": dict(shared["requests"]["groups"]),
            "row_order": {n: list(d["requests"]["row_order"]) for n, d in data.items()},
            "result_rows": {n: result_rows_of(d["requests"]["row_order"]) for n, d in data.items()},
        },
        "appeals": copy.deepcopy(shared["appeals"]),
        "sections": dict(shared["sections"]),
    }


@cached
def fingerprint() -> str:
    """SHA-256 of every edition's data and common.json: what parsed rows and lookups are a function of
    besides the parser's code (a build signature includes it, so a new edition file means a full build)."""
    data = {"common": common(), "editions": {name: edition(name) for name in editions()}}
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


keys = cached(_keys)
keys.__doc__ = "The template in the shape of ../shared/template/keys.json (cached; treat as read-only)."
