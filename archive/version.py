"""One version as the build remembers it until the end, and the small value helpers its rows use.

Cells are written as they are parsed; a `Version` keeps only what `finish()` needs (the carry-chain
cells, the parts it was read from), and only while its rows are buffered: then it goes to disk
(archive/version_store.py). First/last seen and its URLs are read from the captures at the end.
"""

from __future__ import annotations

import json
import operator
import sqlite3
import zlib
from dataclasses import dataclass, field
from typing import Any

from nianbao.parsers.checks import CHAIN_ROWS
from nianbao.parsers.values import BOUNDS, COUNT_BOUND, measure_kind

BUILD_ERROR = "build_error"  # status of a document whose rows could not be built (error in its warnings)


@dataclass(slots=True)  # no per-instance __dict__
class Version:
    """What the build must remember about one version until the end (cells are already written)."""

    id: str
    document_id: str
    document_key: str
    agency: str | None
    year: int | None
    edition: str | None
    status: str
    title: str | None
    published: str | None
    url: str
    source: str | None
    digest: str
    first_seen: str | None
    last_seen: str | None
    parser_version: str
    capture_id: str
    order: int
    n_cells: int = 0
    n_rule_failures: int = 0
    warnings: list = field(default_factory=list)
    # (row, column, value, raw, has_position) of carried_over/forward, packed by pack_chain (below):
    # ~150 bytes instead of ~2 KB of tuples a report held until the end (bench/build.py peak RSS)
    chain: bytes | None = None
    version: int = 0
    is_latest: int = 0
    withdrawn_at: str | None = None
    # (capture_id, url, payload_digest, role, status, n_cells, numbers, identity) of each document
    # the version was read from (set when a page and its attachment merge; else just this one)
    documents: list | None = None
    sections: tuple = (0, -1)  # its sections' ids, first..last (ids are given in order per version)


def _later(a: str | None, b: str | None) -> str | None:
    return max(x for x in (a, b) if x) if (a or b) else None


def _earlier(a: str | None, b: str | None) -> str | None:
    return min(x for x in (a, b) if x) if (a or b) else None


_TABLE_OF = {"active": "active_disclosure", "requests": "requests", "appeals": "appeals"}
_NUMBER_TYPES = (int, float, type(None))
_CHAIN_ROWS = CHAIN_ROWS  # the rows carry_chain reads (parsers/checks.py)
_PK_FIELDS = operator.itemgetter(0, 1, 2)


def _box_text(box: Any) -> str | None:
    """An OCR cell's pixel box as stored: JSON [x0, y0, x1, y1] (another parser's odd box: its text)."""
    try:
        return json.dumps([int(v) for v in box])
    except (TypeError, ValueError):
        return str(box)


def _pk_order_safe(row: tuple) -> tuple:
    """The key order (row[0], row[1] or "", row[2] or "") for any key values (a key that is not text sorts
    by its text; the insert decides)."""
    return tuple("" if x is None else x if isinstance(x, str) else repr(x) for x in row[:3])


_RULE_KEYS = frozenset({"rule", "scope", "ok", "expected", "actual", "blank_as_zero"})


def _num(v: Any) -> float | int | None:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return v
    return None


_INT64 = 2**63 - 1  # what SQLite stores as an integer
# Errors of one document's rows (a value SQLite cannot bind, a key of the wrong type): that document
# becomes a build_error, the build goes on. Not sqlite3.OperationalError: a full disk stops the build.
_ROW_ERRORS = (OverflowError, TypeError, ValueError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
               sqlite3.IntegrityError, sqlite3.DataError)


def _measure_bound(measure: Any) -> int:
    return BOUNDS[measure_kind(measure)] if isinstance(measure, str) else COUNT_BOUND


def _number_text(value: Any) -> str:
    """A number as text, whatever its size (str() refuses integers of more than 4300 digits)."""
    try:
        return str(value)
    except ValueError:
        return f"<integer of {value.bit_length()} bits>"


def _text(value: Any) -> str | None:
    """A field stored as text (another parser's number or list becomes its text)."""
    return value if value is None or value.__class__ is str else str(value)


def _rule_number(value: Any) -> Any:
    """A rule's expected/actual as stored: a number SQLite holds exactly, else None (its text goes
    to the note: the columns' numeric affinity would turn an integer past 2^63 into a rounded real)."""
    n = _num(value)
    if n.__class__ is int and not -_INT64 <= n <= _INT64:
        return None
    return n


def pack_chain(chain: list) -> bytes:
    """Carry-chain cells as stored: compact JSON, zlib (736 → 166 bytes a report, bench/build.py 10k)."""
    return zlib.compress(json.dumps(chain, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 6)


def unpack_chain(data: bytes | None) -> list:
    return json.loads(zlib.decompress(data).decode("utf-8")) if data else []


def _chain_report(v: Version) -> dict:
    """The slice of a canonical report the carry_chain rule reads."""
    cells = [{"row": row, "column": col, "value": value, "raw": raw,
              "position": {} if has_position else None}
             for row, col, value, raw, has_position in unpack_chain(v.chain)]
    return {"agency": v.agency, "year": v.year, "edition": v.edition, "requests": cells}

