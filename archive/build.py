"""Derive the archive database from the record (WARC files, or a folder of report files).

Raw first: nothing here fetches anything. The same inputs and parser give the same rows and ids;
only this build's own `runs` row differs. Cells stream into the database in batches as reports are
parsed (one report's rows never wait for the whole archive); the small per-version metadata
(versions, documents, captures, agencies) is written at the end, when first/last seen, version
numbers, withdrawals and carry chains are known.
"""

from __future__ import annotations

import gc
import inspect
import json
import logging
import mimetypes
import operator
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import sqlite_utils

from nianbao.archive import pairing, search, totals
from nianbao.archive.agencies import infer_level, split_region
from nianbao.archive.identity import hints_for, normalize_agency, registry_index
from nianbao.archive.ids import document_key, payload_digest, stable_id
from nianbao.archive.lookups import write_lookups
from nianbao.archive.ocr_cache import FILE_NAME as OCR_CACHE_FILE, OcrCache
from nianbao.archive import findings
from nianbao.archive.rules import carry_chain_function
from nianbao.archive.schema import BUILD_COLUMNS, FTS, TABLES, add_build_columns, create_indexes, create_tables
from nianbao.archive.sources import load_sources
from nianbao.config import OPEN_SUFFIXES, closed_warcs  # noqa: F401 (the data dir's naming; re-exported)
from nianbao.parsers.values import BOUNDS, COUNT_BOUND, measure_kind

log = logging.getLogger(__name__)

USABLE = ("parsed", "partial")
REPORT_ROLES = ("report", "attachment")
BUILD_ERROR = "build_error"  # status of a document whose rows could not be built (error in its warnings)
# what `--from-files` picks up in a folder (a file named on the command line is read whatever its name;
# the parser decides the format by its bytes)
FILE_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml", ".txt", ".pdf", ".docx", ".doc", ".wps", ".rtf", ".ofd",
                 ".xlsx", ".xls", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".webp")

Parser = Callable[..., dict]


def default_parser() -> tuple[Parser, str]:
    """The current parser's one door for every format (imported lazily: the archive works with any
    parser that keeps the contract; one that takes only `(data, source=)` gets the bytes as they are)."""
    try:
        from nianbao.parsers import PARSER_VERSION
        from nianbao.parsers.document import parse_document
    except ImportError as exc:  # pragma: no cover - depends on the parser having landed
        raise RuntimeError(f"the parser is not available ({exc}); pass parse= to build") from exc
    return parse_document, str(PARSER_VERSION)


@lru_cache(maxsize=8)
def _takes_document_arguments(parse: Parser) -> bool:
    """Whether `parse` is a document parser (content type, file name and registry hints in)."""
    try:
        params = inspect.signature(parse).parameters
    except (TypeError, ValueError):
        return False
    return "content_type" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


@lru_cache(maxsize=8)
def _takes_cache(parse: Parser) -> bool:
    """Whether the document parser takes an OCR `cache` (parsers.document.parse_document does)."""
    try:
        return "cache" in inspect.signature(parse).parameters
    except (TypeError, ValueError):
        return False


def _classify_junk() -> Callable[[bytes, str], str | None] | None:
    try:
        from nianbao.parsers.junk import classify_junk
        return classify_junk
    except ImportError:
        return None


def utc_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
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
    urls: set = field(default_factory=set)
    chain: list | None = None  # (row, column, value, raw, has_position) of carried_over/forward
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
_CHAIN_ROWS = ("carried_over", "carried_forward")
_PK_FIELDS = operator.itemgetter(0, 1, 2)


def _pk_order(row: tuple) -> tuple:
    return row[0], row[1] or "", row[2] or ""


def _box_text(box: Any) -> str | None:
    """An OCR cell's pixel box as stored: JSON [x0, y0, x1, y1] (another parser's odd box: its text)."""
    try:
        return json.dumps([int(v) for v in box])
    except (TypeError, ValueError):
        return str(box)


def _pk_order_safe(row: tuple) -> tuple:
    """_pk_order for any key values (a key that is not text sorts by its text; the insert decides)."""
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


def _chain_report(v: Version) -> dict:
    """The slice of a canonical report the carry_chain rule reads."""
    cells = [{"row": row, "column": col, "value": value, "raw": raw,
              "position": {} if has_position else None}
             for row, col, value, raw, has_position in v.chain or ()]
    return {"agency": v.agency, "year": v.year, "edition": v.edition, "requests": cells}


def file_name_of(url: str) -> str | None:
    """The last path segment of a URL (a tie-breaker for the format, never the decider)."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return name or None


def parse_capture(capture: dict, body: bytes, parse: Parser, ocr_cache: Any = None) -> tuple[dict, float | None]:
    """(report, parse seconds or None) for one captured payload. Pure: runs in worker processes too.

    Every format goes through the parser's one door (parsers.document.parse_document): it sniffs the
    bytes, so a PDF served as text/html or a DOCX named .doc is read as what it is. `ocr_cache`
    (archive/ocr_cache.py) goes to a document parser that takes `cache`: scans read before are not
    OCR'd again."""
    if capture.get("junk"):
        return {"status": capture["junk"], "warnings": [f"junk page: {capture['junk']}"]}, None
    kwargs: dict[str, Any] = {}
    if _takes_document_arguments(parse):
        kwargs = {"content_type": capture.get("content_type"), "filename": file_name_of(capture["url"]),
                  "hints": capture.get("hints")}
        if ocr_cache is not None and _takes_cache(parse):
            kwargs["cache"] = ocr_cache
    started = time.process_time()  # CPU seconds: the parser's share, whatever else the machine runs
    try:
        report = parse(body, source=capture["url"], **kwargs)
    except Exception as exc:  # the contract says never raises; keep the record if it does
        log.warning("parser raised on %s: %s", capture["url"], exc)
        report = {"status": "unreadable", "warnings": [f"parser raised: {exc!r}"]}
    seconds = time.process_time() - started
    return (report if isinstance(report, dict) else {"status": "unreadable"}), seconds


_WORKER: dict[str, Any] = {}


def _worker_init(ocr_cache: Any = None) -> None:
    parse, _ = default_parser()
    _WORKER["parse"] = parse
    _WORKER["ocr_cache"] = ocr_cache  # a worker opens its own connection on first use (archive/ocr_cache.py)


def _worker_parse(job: tuple) -> tuple:
    """In a worker: parse the records the main process marked, pass the others through."""
    kind, item, body, need = job
    if not need:
        return kind, item, body, None
    report, seconds = parse_capture(item, body, _WORKER["parse"], _WORKER.get("ocr_cache"))
    usable = report.get("status") in USABLE
    return kind, item, None if usable else body, (report, seconds)


class ArchiveBuilder:
    """Feed captures in record order; `finish()` writes the metadata and indexes."""

    def __init__(self, db: sqlite_utils.Database, parse: Parser, parser_version: str,
                 batch_size: int = 200000, registry: list[dict] | None = None, ocr_cache: Any = None):
        self.db = db
        self.ocr_cache = ocr_cache  # OCR results kept across builds (archive/ocr_cache.py), or None
        self.ocr_rows = False  # whether any OCR'd cell was buffered (rows with the _OCR_TAIL columns)
        self.parse = parse
        self.parser_version = parser_version
        self.batch_size = batch_size
        self.registry = registry or []
        self.registry_by_name = registry_index(self.registry)
        self.junk = _classify_junk()
        self.carry_chain = carry_chain_function()
        self.ocr_threshold = findings.ocr_threshold()
        self.versions: dict[str, Version] = {}
        self.by_digest: dict[str, str] = {}  # payload digest -> version id
        self.captures: list[dict] = []
        self.summaries: list[dict] = []
        self.buffers: dict[str, list] = {t: [] for t in
                                         ("active_disclosure", "requests", "appeals", "rule_results")}
        self.section_rows: list[dict] = []
        self.section_id = 0
        self.n_buffered = 0
        self.stats = {"records": 0, "parsed": 0, "parse_seconds": 0.0, "cells": 0, "rule_failures": 0,
                      "build_errors": 0, "damaged_records": 0}
        self.order = 0
        self.failed: set[str] = set()  # versions turned build_error while their rows sat in the buffers

    # -- input ------------------------------------------------------------------------------------
    def add_capture(self, capture: dict, body: bytes | None, parseable: bool,
                    require_report: bool = False, parsed: tuple[dict, float | None] | None = None) -> None:
        """A response (or input file). Parse it when it shows a report whose payload is new
        (`parsed`: the result of `parse_capture` already computed by a worker process)."""
        self.order += 1
        capture.setdefault("version_id", None)
        self.captures.append(capture)
        if not parseable or (body is None and parsed is None):
            if body is not None and capture.get("role") == "list":
                self._classify(capture, body)
            return
        digest = capture["payload_digest"]
        known = self.by_digest.get(digest)
        if known:
            self._seen_again(known, capture)
            return
        if parsed is not None:
            report = parsed[0]
            self._count_parse(parsed[1])
        else:
            report = self._parse(capture, body)
        if report.get("status") not in USABLE and not capture.get("junk") and body is not None \
                and self._classify(capture, body):
            report = {"status": capture["junk"], "warnings": [f"junk page: {capture['junk']}"]}
        if require_report and report.get("status") == "not_a_report":
            return
        mark = self._mark()
        try:
            version = self._new_version(capture, report)
        except Exception as exc:  # one document never stops the build: it is kept as a build_error
            log.warning("build error on %s: %s: %s", capture.get("url"), type(exc).__name__, exc)
            self._rollback(mark)
            version = self._error_version(capture, exc)
        capture["version_id"] = version.id
        if self.n_buffered >= self.batch_size:
            self.flush()

    def add_damaged(self, capture: dict) -> None:
        """A WARC record (or stretch of a file) that could not be read: kept as a capture with its error."""
        self.order += 1
        capture.setdefault("version_id", None)
        self.captures.append(capture)
        self.stats["damaged_records"] += 1

    # -- one document's failure: its rows out, a build_error version in ------------------------------
    def _mark(self) -> tuple:
        return ({t: len(rows) for t, rows in self.buffers.items()}, len(self.section_rows), self.section_id,
                self.n_buffered, len(self.versions), self.stats["cells"], self.stats["rule_failures"])

    def _rollback(self, mark: tuple) -> None:
        """Drop what a failed document buffered (nothing of it was written: flushes wait for it)."""
        lengths, n_sections, section_id, n_buffered, n_versions, cells, failures = mark
        for table, rows in self.buffers.items():
            del rows[lengths[table]:]
        del self.section_rows[n_sections:]
        self.section_id, self.n_buffered = section_id, n_buffered
        self.stats["cells"], self.stats["rule_failures"] = cells, failures
        for vid in list(self.versions)[n_versions:]:
            v = self.versions.pop(vid)
            if self.by_digest.get(v.digest) == vid:
                del self.by_digest[v.digest]

    @staticmethod
    def _error_text(exc: BaseException) -> str:
        return f"build error: {type(exc).__name__}: {exc}"[:1000]

    def _error_version(self, capture: dict, exc: BaseException) -> Version:
        """A URL-keyed version of status build_error, no cells, the error in its warnings."""
        key = document_key(None, None, capture["url"])
        doc_id = stable_id(key)
        vid = stable_id(doc_id, capture["payload_digest"])
        v = Version(
            id=vid, document_id=doc_id, document_key=key, agency=None, year=None, edition=None,
            status=BUILD_ERROR, title=None, published=None, url=capture["url"], source=capture.get("source"),
            digest=capture["payload_digest"], first_seen=capture.get("fetched"), last_seen=capture.get("fetched"),
            parser_version=self.parser_version, capture_id=capture["id"], order=self.order,
            warnings=[self._error_text(exc)], urls={capture["url"]},
        )
        self.versions[vid] = v
        self.by_digest[capture["payload_digest"]] = vid
        self.stats["build_errors"] += 1
        return v

    def _fail_version(self, vid: str, exc: BaseException) -> None:
        """A version whose rows the database refused: delete what was written, mark it build_error."""
        v = self.versions.get(vid)
        log.warning("build error on %s: %s: %s", v.url if v else vid, type(exc).__name__, exc)
        for table in self._PART_TABLES:
            self.db.conn.execute(f"delete from [{table}] where version_id = ?", [vid])
        self.failed.add(vid)
        if v is None or v.status == BUILD_ERROR:
            return
        self.db.conn.execute("delete from sections where id between ? and ?", v.sections)
        self.stats["cells"] -= v.n_cells
        self.stats["rule_failures"] -= v.n_rule_failures
        self.stats["build_errors"] += 1
        v.status, v.n_cells, v.n_rule_failures, v.chain, v.sections = BUILD_ERROR, 0, 0, None, (0, -1)
        v.agency = v.year = v.title = v.published = v.edition = None
        v.warnings.append(self._error_text(exc))

    def add_revisit(self, capture: dict) -> None:
        """An unchanged page: the version with that payload was still there at this time."""
        self.order += 1
        capture.setdefault("version_id", None)
        self.captures.append(capture)
        known = self.by_digest.get(capture.get("payload_digest") or "")
        if known:
            self._seen_again(known, capture)

    def add_summary(self, summary: dict, meta: dict) -> None:
        self.summaries.append({"summary": summary, **meta})

    def _classify(self, capture: dict, body: bytes) -> str | None:
        """Name a junk page (challenge, soft 404, login wall) with the crawler's current classifier.

        Only pages the parser could not read as a report are asked: a page with the report's tables
        is not junk, and the classifier costs as much as a parse on big portal pages."""
        if self.junk is None or capture.get("junk"):
            return capture.get("junk")
        try:
            capture["junk"] = self.junk(body, capture["url"])
        except Exception as exc:  # never lose a record over a classifier bug
            log.warning("junk classifier failed on %s: %s", capture["url"], exc)
        return capture.get("junk")

    def _seen_again(self, version_id: str, capture: dict) -> None:
        v = self.versions[version_id]
        v.last_seen = _later(v.last_seen, capture.get("fetched"))
        v.first_seen = _earlier(v.first_seen, capture.get("fetched"))
        v.urls.add(capture["url"])
        if capture.get("parent_url"):
            v.urls.add(capture["parent_url"])
        capture["version_id"] = version_id

    def _parse(self, capture: dict, body: bytes) -> dict:
        report, seconds = parse_capture(capture, body, self.parse, self.ocr_cache)
        self._count_parse(seconds)
        return report

    def _count_parse(self, seconds: float | None) -> None:
        if seconds is not None:
            self.stats["parse_seconds"] += seconds
            self.stats["parsed"] += 1

    def hints_for(self, capture: dict) -> dict:
        """The registry's agency and region for the capture's source (`parse_report(hints=...)`)."""
        return hints_for(capture, self.registry_by_name)

    # -- one new version: cells go straight to the buffers ------------------------------------------
    def _new_version(self, capture: dict, report: dict) -> Version:
        raw_agency = report.get("agency") or None
        region = (self.registry_by_name.get(capture.get("source") or "") or {}).get("region")
        agency = normalize_agency(raw_agency, region)
        year = report.get("year")
        year = year if year.__class__ is int and 1000 <= year <= 9999 else None
        status = str(report.get("status") or "unreadable")
        named = (agency, year)
        if status not in pairing.REPORTISH:
            # only a report is filed under agency + year: a 解读 or a junk page that names the body and
            # year keeps its own URL-keyed document (never a version of the report it talks about) and
            # adds no agency
            agency = year = None
        key = document_key(agency, year, capture["url"])
        doc_id = stable_id(key)
        vid = stable_id(doc_id, capture["payload_digest"])
        v = Version(
            id=vid, document_id=doc_id, document_key=key, agency=agency, year=year,
            edition=_text(report.get("edition")), status=status,
            title=_text(report.get("title")), published=_text(report.get("published")), url=capture["url"],
            source=capture.get("source"), digest=capture["payload_digest"],
            first_seen=capture.get("fetched"), last_seen=capture.get("fetched"),
            parser_version=str(report.get("parser_version") or self.parser_version),
            capture_id=capture["id"], order=self.order,
            warnings=[w if isinstance(w, str) else repr(w) for w in report.get("warnings") or []],
            urls={capture["url"]},
        )
        if status not in pairing.REPORTISH and any(named):
            v.warnings.append(f"{status}: agency/year read as {named[0]}/{named[1]} not filed")
        elif raw_agency and not agency:
            v.warnings.append(f"agency {raw_agency!r} dropped: navigation text, not a body")
        if capture.get("parent_url"):
            v.urls.add(capture["parent_url"])
        self.versions[vid] = v
        self.by_digest[capture["payload_digest"]] = vid
        self._buffer_cells(v, report)
        return v

    def _buffer_cells(self, v: Version, report: dict) -> None:
        """Cells as tuples in the tables' column order (the hot loop: plain locals, no helpers)."""
        vid = v.id
        n = 0
        empty: dict = {}
        chain = []
        for key, a, b in (("active", "row", "measure"), ("requests", "row", "column"),
                          ("appeals", "procedure", "outcome")):
            rows = self.buffers[_TABLE_OF[key]]
            append = rows.append
            limit = COUNT_BOUND  # parsers/values.py BOUNDS; table 2's money measures have their own
            active = key == "active"
            for c in report.get(key) or ():
                p = c.get("position") or empty
                value = c.get("value")
                if value.__class__ not in _NUMBER_TYPES:
                    value = _num(value)
                raw = c.get("raw")
                if value is not None:
                    if active:
                        limit = _measure_bound(c.get(b))
                    if not -limit <= value <= limit:  # beyond the bound, inf or nan: raw text kept, value null
                        raw = self._unbounded(v, key, c.get(a), c.get(b), value, raw, limit)
                        value = None
                if raw is not None and raw.__class__ is not str:
                    raw = str(raw)
                method = c.get("method")
                if method is None:  # read from text: the OCR columns are left out (null), binding them costs
                    append((vid, c.get(a), c.get(b), value, raw, c.get("reading"),
                            p.get("table"), p.get("row"), p.get("col")))
                else:  # an OCR'd cell: + method, confidence, page, box ([x0, y0, x1, y1] stored as JSON)
                    box = c.get("box")
                    append((vid, c.get(a), c.get(b), value, raw, c.get("reading"),
                            p.get("table"), p.get("row"), p.get("col"), method, c.get("confidence"),
                            c.get("page"), None if box is None else _box_text(box)))
                    self.ocr_rows = True
                n += 1
            if key == "requests":  # kept small (tuples) until finish() runs the carry chains
                chain = [(c.get("row"), c.get("column"), self._bounded(c.get("value")), c.get("raw"),
                          c.get("position") is not None)
                         for c in report.get(key) or () if c.get("row") in _CHAIN_ROWS]
        if chain:
            v.chain = chain
        v.sections = (self.section_id + 1, self.section_id + len(report.get("sections") or []))
        for seq, s in enumerate(report.get("sections") or []):
            self.section_id += 1
            number = s.get("number")
            heading, text = s.get("heading"), s.get("text")
            self.section_rows.append((self.section_id, vid, seq, number if isinstance(number, int) else None,
                                      heading if heading is None or isinstance(heading, str) else str(heading),
                                      text if text is None or isinstance(text, str) else str(text),
                                      v.agency, v.year, v.title))
        grid = None
        for check in report.get("checks") or []:
            if not check.get("ok") and "kind" not in check:  # a finding: its kind and the cells it adds up
                try:  # another parser's odd cells never cost the finding itself (the view falls back)
                    if grid is None:
                        grid = findings.cell_grid(report)
                    check = {**check, **findings.describe(check, grid, report.get("edition"), self.ocr_threshold)}
                except _ROW_ERRORS:
                    grid = {}
            self._buffer_rule(vid, check)
        v.n_cells = n
        self.stats["cells"] += n
        self.n_buffered += n

    @staticmethod
    def _bounded(value: Any) -> Any:
        """A carry-chain cell's value as stored (beyond the count bound: None, like its cell)."""
        value = _num(value) if value.__class__ not in _NUMBER_TYPES else value
        return value if value is None or -COUNT_BOUND <= value <= COUNT_BOUND else None

    @staticmethod
    def _unbounded(v: Version, key: str, a: Any, b: Any, value: Any, raw: Any, limit: int) -> Any:
        """Warn of a value beyond its bound (another parser's; ours stops them in read_value)."""
        text = _number_text(value)
        v.warnings.append(f"{a}/{b}: value {text[:40]!r} beyond the plausible bound for {key} cells "
                          f"(±{limit:.0e}) or not storable: kept as raw text, value null")
        return text if raw is None else raw

    def _buffer_rule(self, vid: str, check: dict, other_version_id: str | None = None) -> None:
        expected, actual, blank = check.get("expected"), check.get("actual"), check.get("blank_as_zero")
        if (check.keys() <= _RULE_KEYS and not blank and expected.__class__ is int
                and actual.__class__ is int and -_INT64 <= expected <= _INT64
                and -_INT64 <= actual <= _INT64):  # the common case, kept cheap (~50 rules per report)
            ok = 1 if check.get("ok") else 0
            scope = check.get("scope")
            self.buffers["rule_results"].append((
                vid, check.get("rule"), "" if scope is None else str(scope), ok, expected, actual,
                None if blank is None else 0, None, other_version_id))
            if not ok:
                self.versions[vid].n_rule_failures += 1
                self.stats["rule_failures"] += 1
            return
        extra = {k: val for k, val in check.items() if k not in _RULE_KEYS}
        expected, actual = _rule_number(check.get("expected")), _rule_number(check.get("actual"))
        for name, val in (("expected", check.get("expected")), ("actual", check.get("actual"))):
            if val is not None and _rule_number(val) is None:
                extra[name] = _number_text(val) if val.__class__ is int else val
        blank = check.get("blank_as_zero")
        if isinstance(blank, (list, tuple)):  # the parser names the blank cells it read as 0
            if blank:
                extra["blank_cells"] = list(blank)
            blank = bool(blank)
        ok = 1 if check.get("ok") else 0
        self.buffers["rule_results"].append((
            vid, check.get("rule"), str(check.get("scope") if check.get("scope") is not None else ""),
            ok, expected, actual, None if blank is None else int(bool(blank)),
            json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None, other_version_id))
        if not ok:
            self.versions[vid].n_rule_failures += 1
            self.stats["rule_failures"] += 1

    _CELL_COLUMNS = {
        "active_disclosure": ("version_id", "row_key", "measure"),
        "requests": ("version_id", "row_key", "column_key"),
        "appeals": ("version_id", "procedure", "outcome"),
    }
    _CELL_TAIL = ("value", "raw", "reading", "pos_table", "pos_row", "pos_col")
    # OCR provenance: written only for OCR'd cells (rows of this longer width); null for cells read from text
    # (binding four NULLs a row cost ~15% of the archive's insert time)
    _OCR_TAIL = ("method", "confidence", "page", "box")
    _RULE_COLUMNS = ("version_id", "rule", "scope", "ok", "expected", "actual", "blank_as_zero",
                     "note", "other_version_id")
    _VERSION_COLUMNS = tuple(TABLES["document_versions"]["columns"])
    _DOCUMENT_COLUMNS = tuple(TABLES["documents"]["columns"])
    _VERSION_DOCUMENT_COLUMNS = tuple(TABLES["version_documents"]["columns"])
    _CAPTURE_COLUMNS = tuple(TABLES["captures"]["columns"]) + tuple(BUILD_COLUMNS["captures"])
    _SECTION_COLUMNS = ("id", "version_id", "seq", "number", "heading", "text", "agency", "year", "title")

    def _insert_many(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """INSERT OR REPLACE a batch of tuples into a table sqlite-utils created.

        The hot path (≈250 rows per report): sqlite-utils' insert_all spends two thirds of its time
        in per-value Python checks (jsonify, column detection), so tuples go to executemany here;
        the rows already have the exact columns and types of the schema."""
        cols = ", ".join(f"[{c}]" for c in columns)
        marks = ", ".join("?" for _ in columns)
        self.db.conn.executemany(f"insert or replace into [{table}] ({cols}) values ({marks})", rows)

    def flush(self) -> None:
        """Write buffered rows in one batch per table (the last of duplicate keys wins)."""
        for table, rows in self.buffers.items():
            if self.failed:
                rows[:] = [r for r in rows if r[0] not in self.failed]
            if not rows:
                continue
            cols = self._RULE_COLUMNS if table == "rule_results" else self._CELL_COLUMNS[table] + self._CELL_TAIL
            try:  # primary-key order: the pk index is appended to, not split
                ordered = sorted(rows, key=_PK_FIELDS)  # C-level key, ~3x faster than _pk_order
            except TypeError:  # a null key part (None < str fails); `rows` is untouched, still stable
                ordered = sorted(rows, key=_pk_order_safe)
            if self.ocr_rows and table != "rule_results":
                wide = len(cols) + len(self._OCR_TAIL)
                scanned = [r for r in ordered if len(r) == wide]
                if scanned:
                    ordered = [r for r in ordered if len(r) != wide]
                    self._write(table, cols + self._OCR_TAIL, scanned, 0)
            self._write(table, cols, ordered, 0)
            rows.clear()
        if self.failed:
            self.section_rows[:] = [r for r in self.section_rows if r[1] not in self.failed]
        if self.section_rows:
            self._write("sections", self._SECTION_COLUMNS, self.section_rows, 1)
            if self.failed:
                self.section_rows[:] = [r for r in self.section_rows if r[1] not in self.failed]
            fts_cols = FTS["sections"]
            idx = [self._SECTION_COLUMNS.index(c) for c in fts_cols]
            search.index_rows(self.db, "sections", fts_cols,
                              [(r[0], *(r[i] for i in idx)) for r in self.section_rows])
            self.section_rows.clear()
        self.n_buffered = 0

    def _write(self, table: str, columns: tuple[str, ...], rows: list[tuple], vid_at: int) -> None:
        """_insert_many, and when the database refuses a row (a value it cannot bind), again one
        version at a time: a version whose cells or sections fail becomes a build_error (its rows
        deleted), a rule row that fails is dropped with a warning on its version; the others are kept."""
        try:
            self._insert_many(table, columns, rows)
            return
        except _ROW_ERRORS as exc:
            log.warning("batch of %s refused (%s): retrying one version at a time", table, exc)
        groups: dict[Any, list[tuple]] = {}
        for r in rows:
            groups.setdefault(r[vid_at], []).append(r)
        for vid, group in groups.items():
            if vid in self.failed:
                continue
            try:
                self._insert_many(table, columns, group)
            except _ROW_ERRORS as exc:
                if table != "rule_results":
                    self._fail_version(vid, exc)
                    continue
                for r in group:  # a finding the database refused is dropped, said on its version
                    try:
                        self._insert_many(table, columns, [r])
                    except _ROW_ERRORS as row_exc:
                        v = self.versions.get(vid)
                        if v is not None:
                            v.warnings.append(f"rule {r[1]!r} {r[2]!r} not stored: {type(row_exc).__name__}: "
                                              f"{row_exc}"[:500])

    # -- the end: versions, documents, agencies, chains, withdrawals ---------------------------------
    def finish(self) -> dict:
        self.flush()
        self._resolve_versions()
        self._carry_chains_and_order()
        self.flush()
        withdrawn = self._withdrawals()
        docs: dict[str, list[Version]] = {}
        for v in self.versions.values():
            docs.setdefault(v.document_id, []).append(v)
        for vs in docs.values():
            for v in vs:
                listed = [withdrawn.get(u) for u in v.urls if u in withdrawn]
                if listed and all(listed):
                    v.withdrawn_at = max(listed)
        ordered = sorted(self.versions.values(),
                         key=lambda v: (v.agency or "\uffff", v.year or 0, v.document_key, v.version))
        self._insert_many("document_versions", self._VERSION_COLUMNS, [(
            v.id, v.document_id, v.version, v.is_latest, v.agency, v.year, v.edition, v.status,
            v.title, v.published, v.url, v.source, v.digest, v.first_seen, v.last_seen,
            v.withdrawn_at, v.parser_version, v.capture_id, v.n_cells, v.n_rule_failures,
            json.dumps(v.warnings, ensure_ascii=False) if v.warnings else None,
        ) for v in ordered])
        rowids = {r[0]: r[1] for r in self.db.execute("select id, rowid from document_versions")}
        search.index_rows(self.db, "document_versions", FTS["document_versions"],
                          [(rowids[v.id], v.title, v.agency) for v in ordered])
        roles = self._part_roles()
        self._insert_many("version_documents", self._VERSION_DOCUMENT_COLUMNS, [
            (v.id, *d) for v in ordered
            for d in (v.documents or [self._document_row(v, roles, numbers=1, identity=1)])])
        doc_rows = []
        for doc_id in sorted(docs, key=lambda d: (docs[d][0].agency or "\uffff", docs[d][0].year or 0, d)):
            vs = sorted(docs[doc_id], key=lambda v: v.version)
            latest = next(v for v in vs if v.is_latest)
            doc_rows.append((
                doc_id, vs[0].agency, vs[0].year, vs[0].document_key, vs[0].url,
                min((v.first_seen for v in vs if v.first_seen), default=None),
                max((v.last_seen for v in vs if v.last_seen), default=None),
                latest.withdrawn_at if all(v.withdrawn_at for v in vs) else None,
                len(vs), latest.id,
            ))
        self._insert_many("documents", self._DOCUMENT_COLUMNS, doc_rows)
        cols = self._CAPTURE_COLUMNS
        self._insert_many("captures", cols, [tuple(c.get(k) for k in cols) for c in self.captures])
        self._write_sources_and_agencies()
        self._write_crawl_runs()
        return {"documents": len(doc_rows), "versions": len(self.versions),
                "captures": len(self.captures)}

    # -- one report, one version: a page and the attachment holding its report --------------------
    _PART_TABLES = ("active_disclosure", "requests", "appeals", "rule_results")

    def _resolve_versions(self) -> None:
        """Turn parts (one per parsed payload) into versions: a page and the attachments that hold
        its report become one version (archive/pairing.py decides, independent of record order).

        Cells were streamed under each part's id: the numbers part's rows are renamed to the
        version's id, the other parts' rows dropped (their documents stay as captures and in
        `version_documents`); when two of them parse and disagree, a `page_attachment_mismatch`
        finding says which cells differ."""
        plan = pairing.plan(self.versions, self.captures)
        if not plan.groups and not plan.inherit:
            return
        roles = self._part_roles()
        remap: dict[str, str] = {}  # part id -> version id
        dropped: set[str] = set()
        for group in plan.groups:
            self._merge_group(group, roles, remap, dropped)
        for aid, pid in sorted(plan.inherit.items()):
            part, page = self.versions[aid], self.versions[pid]
            fields = {f: getattr(part, f) or getattr(page, f) for f in pairing.IDENTITY_FIELDS}
            part.documents = [self._document_row(part, roles, numbers=1, identity=0),
                              self._document_row(page, roles, numbers=0, identity=1)]
            part.warnings.append(f"a later payload of an attachment of {page.url}: identity from that page")
            self._rename_part(part, fields, page.url, remap)
        self.versions = {v.id: v for pid, v in self.versions.items() if pid not in dropped}
        for c in self.captures:
            vid = c.get("version_id")
            if vid in remap:
                c["version_id"] = remap[vid]

    def _part_roles(self) -> dict[str, str]:
        """Part/version id -> WARC role of its document: `attachment` if any capture was one, else
        `report` if any was (a role-less capture or a file counts as a report), whatever the order."""
        roles: dict[str, str] = {}
        for c in self.captures:
            vid = c.get("version_id")
            if vid and roles.get(vid) != "attachment":
                role = c.get("role") or "report"
                if vid not in roles or role in ("attachment", "report"):
                    roles[vid] = role
        return roles

    @staticmethod
    def _document_row(part: Version, roles: dict[str, str], numbers: int, identity: int) -> tuple:
        return (part.capture_id, part.url, part.digest, roles.get(part.id, "report"), part.status,
                part.n_cells, numbers, identity)

    def _merge_group(self, group: pairing.Group, roles: dict[str, str], remap: dict[str, str],
                     dropped: set[str]) -> None:
        parts = [self.versions[p] for p in group.parts]
        num = self.versions[group.numbers]
        page = self.versions[group.parts[0]]
        others = [p for p in parts if p is not num]
        _, fields = pairing.identity(page, [p for p in parts if p is not page])
        roles = {**roles, **group.roles}
        num.documents = [self._document_row(p, roles, numbers=int(p is num), identity=int(p.id == group.identity))
                         for p in sorted(parts, key=lambda p: (p is not page, p.url, p.digest))]
        for name in ("agency", "year"):
            values = {getattr(p, name) for p in parts if getattr(p, name)}
            if len(values) > 1:
                num.warnings.append(f"page and attachment name different {name}s: "
                                    + ", ".join(sorted(map(str, values))) + f"; kept {fields[name]}")
        if others:
            num.warnings.append("one report in " + str(len(parts)) + " documents; numbers from "
                                + f"{roles.get(num.id, 'report')} {num.url}")
        checks = []
        if num.status in pairing.USABLE:
            mine = self._stored_cells(num.id)
            for other in sorted(others, key=lambda p: (p.url, p.digest)):
                if other.status in pairing.USABLE:
                    checks.append(self._mismatch(num, other, roles, mine, self._stored_cells(other.id)))
        for other in others:
            self._drop_part(other)
            dropped.add(other.id)
            num.urls |= other.urls
            num.first_seen = _earlier(num.first_seen, other.first_seen)
            num.last_seen = _later(num.last_seen, other.last_seen)
            num.order = min(num.order, other.order)
            self.stats["cells"] -= other.n_cells
            self.stats["rule_failures"] -= other.n_rule_failures
        self._rename_part(num, fields, page.url, remap)
        for other in others:
            remap[other.id] = num.id
        for check in checks:
            ok = 1 if check.pop("ok") else 0
            row = (num.id, check.pop("rule"), check.pop("scope"), ok, check.pop("expected"), check.pop("actual"),
                   None, json.dumps(check, ensure_ascii=False, sort_keys=True), None)
            self.buffers["rule_results"].append(row)
            if not ok:
                num.n_rule_failures += 1
                self.stats["rule_failures"] += 1

    def _stored_cells(self, part_id: str) -> dict[tuple, Any]:
        out: dict[tuple, Any] = {}
        for table, a, b in (("active_disclosure", "row_key", "measure"), ("requests", "row_key", "column_key"),
                            ("appeals", "procedure", "outcome")):
            for ka, kb, value in self.db.execute(f"select [{a}], [{b}], value from [{table}] where version_id = ?",
                                                 [part_id]):
                out[(table, ka, kb)] = value
        return out

    @staticmethod
    def _mismatch(num: Version, other: Version, roles: dict[str, str], mine: dict, theirs: dict) -> dict:
        """page_attachment_mismatch: expected = the page's values, actual = the attachment's (when
        neither is the page: the kept document's, then the other's); scope = the other document's URL."""
        page_first = roles.get(other.id) != "attachment" and roles.get(num.id) == "attachment"
        a, b = (theirs, mine) if page_first else (mine, theirs)
        first, second = (other, num) if page_first else (num, other)
        diffs = pairing.differing_cells(a, b)
        note = {"compared": len(a.keys() & b.keys()), "numbers_from": num.url,
                "expected_from": first.url, "actual_from": second.url}
        if not diffs:
            return {"rule": "page_attachment_mismatch", "scope": other.url, "ok": True, "expected": None,
                    "actual": None, **note}
        shown = diffs[:20]
        more = f" … (+{len(diffs) - len(shown)} more)" if len(diffs) > len(shown) else ""
        return {"rule": "page_attachment_mismatch", "scope": other.url, "ok": False, "kind": "page_attachment_mismatch",
                "expected": "; ".join(f"{pairing.cell_label(k)}={x}" for k, x, _ in shown) + more,
                "actual": "; ".join(f"{pairing.cell_label(k)}={y}" for k, _, y in shown) + more,
                **note, "n_differ": len(diffs),
                "cells": [[*k, x, y] for k, x, y in diffs]}

    def _drop_part(self, part: Version) -> None:
        """Remove a merged part's stored rows (its document stays: captures, version_documents)."""
        for table in self._PART_TABLES:
            self.db.conn.execute(f"delete from [{table}] where version_id = ?", [part.id])
        rows = self.db.execute("select id, heading, text, agency, title from sections where id between ? and ?",
                               part.sections).fetchall()  # by primary key: no version_id index during a build
        if rows:
            search.unindex_rows(self.db, "sections", FTS["sections"], rows)
            self.db.conn.execute("delete from sections where id between ? and ?", part.sections)

    def _rename_part(self, part: Version, fields: dict[str, Any], url: str, remap: dict[str, str]) -> None:
        """Give a part its version's identity and id, and move its stored rows along."""
        old = (part.agency, part.year, part.title)
        part.agency, part.year, part.title, part.published = (fields[f] for f in pairing.IDENTITY_FIELDS)
        key = document_key(part.agency, part.year, url)
        doc_id = stable_id(key)
        new_id = stable_id(doc_id, part.digest)
        old_id = part.id
        part.document_key, part.document_id, part.id = key, doc_id, new_id
        remap[old_id] = new_id
        if new_id != old_id:
            for table in self._PART_TABLES:
                self.db.conn.execute(f"update [{table}] set version_id = ? where version_id = ?", [new_id, old_id])
        if new_id != old_id or old != (part.agency, part.year, part.title):
            rows = self.db.execute("select id, heading, text, agency, title from sections where id between ? and ?",
                                   part.sections).fetchall()
            if rows:
                search.unindex_rows(self.db, "sections", FTS["sections"], rows)
                self.db.conn.execute("update sections set version_id = ?, agency = ?, year = ?, title = ? "
                                     "where id between ? and ?", [new_id, part.agency, part.year, part.title,
                                                                  *part.sections])
                search.index_rows(self.db, "sections", FTS["sections"],
                                  [(r[0], r[1], r[2], part.agency, part.title) for r in rows])

    def _carry_chains_and_order(self) -> None:
        docs: dict[str, list[Version]] = {}
        for v in self.versions.values():
            docs.setdefault(v.document_id, []).append(v)
        latest_by_agency_year: dict[tuple[str, int], Version] = {}
        for vs in docs.values():
            vs.sort(key=lambda v: (v.first_seen or "", v.order))
            for i, v in enumerate(vs, 1):
                v.version = i
            # the latest usable version (tables read), else the latest report, else the latest
            # document: junk (a not-found or challenge page) never hides a report the URL served
            usable = [v for v in vs if v.status in USABLE]
            reports = usable or [v for v in vs if v.status in pairing.REPORTISH]
            latest = (reports or vs)[-1]
            latest.is_latest = 1
            if latest.agency and latest.year:
                latest_by_agency_year[(latest.agency, latest.year)] = latest
        for (agency, year), cur in sorted(latest_by_agency_year.items()):
            prev = latest_by_agency_year.get((agency, year - 1))
            if not prev or not prev.chain or not cur.chain:
                continue
            try:
                checks = self.carry_chain(_chain_report(prev), _chain_report(cur))
            except Exception as exc:
                log.warning("carry_chain failed for %s %s: %s", agency, year, exc)
                continue
            for check in checks or []:
                check = {**check, "rule": check.get("rule") or "carry_chain"}
                if not check.get("ok"):
                    check.update(findings.describe_chain(check, _chain_report(prev), _chain_report(cur),
                                                         self.ocr_threshold))
                self._buffer_rule(cur.id, check, other_version_id=prev.id)

    def _withdrawals(self) -> dict[str, str | None]:
        """URL -> time it was withdrawn (None while still listed), for every URL a complete summary listed.

        A summary that carries the crawler's verdicts (`withdrawn`, `moved`) is taken at its word:
        its `withdrawn` URLs are withdrawn at its time, a `moved.from` URL follows its `moved.to`
        (never withdrawn by the move), and a URL that merely vanished without a verdict (challenge
        page, 5xx, network error) waits for a later crawl. Older summaries without those keys fall
        back to the listing difference: listed before, absent now."""
        state: dict[str, str | None] = {}
        moved_to: dict[str, str] = {}
        by_source: dict[str, list[dict]] = {}
        for s in self.summaries:
            summary = s["summary"]
            by_source.setdefault(str(summary.get("source") or s.get("source") or ""), []).append(summary)
        for summaries in by_source.values():
            previous: set[str] | None = None
            for summary in sorted(summaries, key=lambda x: (str(x.get("finished") or ""), str(x.get("run_id")))):
                if not summary.get("complete"):
                    continue
                current = set(summary.get("report_urls") or [])
                when = summary.get("finished") or summary.get("started")
                moves = {str(m["from"]): str(m["to"]) for m in summary.get("moved") or []
                         if isinstance(m, dict) and m.get("from") and m.get("to") and m["from"] != m["to"]}
                for old, new in moves.items():
                    moved_to[old] = new
                    state[old] = None
                if "withdrawn" in summary:  # the crawler's verdicts
                    gone = {str(u) for u in summary.get("withdrawn") or []} - current - set(moves)
                elif previous is not None:
                    gone = previous - current - set(moves)
                else:
                    gone = set()
                for url in sorted(gone):
                    moved_to.pop(url, None)
                    if state.get(url) is None:
                        state[url] = when
                for url in current:
                    state[url] = None
                    moved_to.pop(url, None)
                previous = current
        for old in moved_to:  # a moved URL shares the fate of the URL it moved to (chains followed)
            seen, url = {old}, moved_to[old]
            while url in moved_to and url not in seen:
                seen.add(url)
                url = moved_to[url]
            state[old] = state.get(url)
        return state

    def _write_sources_and_agencies(self) -> None:
        rows = []
        for s in self.registry:
            rows.append({
                "name": s["name"], "agency": s.get("agency"), "region": s.get("region"),
                "division_code": str(s["division_code"]) if s.get("division_code") else None,
                "start_urls": json.dumps(list(s.get("start_urls") or []), ensure_ascii=False),
                "platform": s.get("platform"), "enabled": int(bool(s.get("enabled", True))),
                "frozen": int(bool(s.get("frozen", False))), "note": s.get("note"),
            })
        known = {r["name"] for r in rows}
        for src in sorted({v.source for v in self.versions.values() if v.source} - known):
            rows.append({"name": src, "note": "seen in WARCs, not in the registry"})
        if rows:
            self.db["sources"].insert_all(rows, replace=True, alter=False)
        # The registry's bodies under the name the archive keys reports by (normalised like them).
        registry_agency = {s["name"]: normalize_agency(s.get("agency"), s.get("region")) for s in rows}
        code_by_agency = {registry_agency[s["name"]]: s for s in rows if registry_agency[s["name"]]}
        code_by_source = {s["name"]: s for s in rows}
        names: dict[str, dict] = {}
        for s in rows:
            if registry_agency[s["name"]]:
                names.setdefault(registry_agency[s["name"]],
                                 {"source": s["name"], "division_code": s.get("division_code")})
        for v in sorted(self.versions.values(), key=lambda v: v.order):
            if v.agency and v.agency not in names:
                src = code_by_source.get(v.source or "") or {}
                names[v.agency] = {"source": None, "division_code": src.get("division_code")}
        agency_rows = []
        for name in sorted(names):
            info = names[name]
            reg = code_by_agency.get(name)
            code = info.get("division_code") or (reg or {}).get("division_code")
            level, rule = infer_level(name, code)
            province, city, county = split_region(name)
            agency_rows.append({"name": name, "division_code": code, "province": province, "city": city,
                                "county": county, "level": level, "level_rule": rule,
                                "source": info.get("source")})
        if agency_rows:
            self.db["agencies"].insert_all(agency_rows, replace=True)

    def _write_crawl_runs(self) -> None:
        rows, runs = [], {}
        for s in self.summaries:
            summ = s["summary"]
            source, run_id = str(summ.get("source") or s.get("source") or ""), str(summ.get("run_id") or "")
            errors = summ.get("errors") or []
            rows.append({
                "id": f"{source}|{run_id}", "source": source, "run_id": f"crawl:{run_id}",
                "started": summ.get("started"), "finished": summ.get("finished"),
                "complete": int(bool(summ.get("complete"))),
                "n_report_urls": len(summ.get("report_urls") or []),
                "n_fetched": len(summ.get("fetched") or []),
                "n_not_modified": len(summ.get("not_modified") or []), "n_errors": len(errors),
                "report_urls": json.dumps(summ.get("report_urls") or [], ensure_ascii=False),
                "errors": json.dumps(errors, ensure_ascii=False),
                "stats": json.dumps(summ.get("stats") or {}, ensure_ascii=False, sort_keys=True),
                "warc_file": s.get("warc_file"), "warc_offset": s.get("warc_offset"),
                "warc_length": s.get("warc_length"), "record_id": s.get("record_id"),
            })
            run = runs.setdefault(run_id, {"id": f"crawl:{run_id}", "kind": "crawl", "started": None,
                                           "finished": None, "complete": 1, "stats": {}, "n_records": 0})
            run["started"] = _earlier(run["started"], summ.get("started"))
            run["finished"] = _later(run["finished"], summ.get("finished"))
            run["complete"] = int(run["complete"] and bool(summ.get("complete")))
            run["stats"][source] = summ.get("stats") or {}
            run["n_records"] += len(summ.get("fetched") or []) + len(summ.get("not_modified") or [])
        for run in runs.values():
            run["stats"] = json.dumps(run["stats"], ensure_ascii=False, sort_keys=True)
        if runs:
            self.db["runs"].insert_all(sorted(runs.values(), key=lambda r: r["id"]), replace=True)
        if rows:
            self.db["crawl_summaries"].insert_all(rows, replace=True)


# -- readers ------------------------------------------------------------------------------------------
def iter_file_inputs(paths: Iterable[Path]) -> Iterator[tuple[dict, bytes]]:
    """Report files under the given folders (or files), in sorted path order."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in FILE_SUFFIXES)
        elif p.is_file():
            files.append(p)
    for f in sorted(set(files), key=lambda f: str(f.resolve())):
        body = f.read_bytes()
        digest = payload_digest(body)
        url = f.resolve().as_uri()
        ctype = mimetypes.guess_type(f.name)[0] or ("text/html" if f.suffix.lower() in (".shtml", "") else None)
        yield ({
            "id": stable_id("file", url, digest), "url": url, "fetched": utc_iso(f.stat().st_mtime),
            "record_type": "file", "role": "report", "source": None, "parent_url": None,
            "http_status": None, "content_type": ctype, "payload_digest": digest, "refers_to": None,
            "junk": None, "warc_file": None, "warc_offset": None, "warc_length": None, "record_id": None,
        }, body)


def iter_warc(path: Path) -> Iterator[tuple[str, dict, bytes | None]]:
    """(kind, capture-or-meta, body) for each record of one WARC file, with offsets for provenance.

    Nothing in a file stops the build: a record whose payload cannot be read, or is cut short (its
    digest could not be verified: a crawl killed mid-write), is a capture with `error` and no body;
    a stretch warcio cannot parse at all is one `damaged` capture (offset where it starts), and
    reading resumes at the next record that parses (the next gzip member of a .warc.gz)."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b" or path.name.endswith(".gz")
        pos: int | None = 0
        damaged: int | None = None  # start of the unreadable stretch being skipped
        while pos is not None:
            fh.seek(pos)
            records = ArchiveIterator(fh, check_digests=True)
            try:
                for record in records:
                    damaged = None
                    item = _read_record(path, record, records)
                    if item is not None:
                        yield item
                break
            except Exception as exc:  # warcio could not parse the next record: skip to one it can
                at = records.offset if records.offset > pos else pos
                if damaged is None:
                    damaged = at
                    log.warning("damaged WARC %s at offset %s: %s", path.name, at, str(exc)[:200])
                    yield "damaged", _damaged_capture(path, at, exc), None
                pos = _next_record_start(fh, at + 1, gz)
            finally:
                records.close()


def _damaged_capture(path: Path, offset: int, exc: BaseException) -> dict:
    return {
        "id": stable_id(path.name, offset, "damaged"), "url": None, "fetched": None, "record_type": "damaged",
        "role": None, "source": None, "parent_url": None, "http_status": None, "content_type": None,
        "payload_digest": None, "refers_to": None, "junk": None, "warc_file": path.name, "warc_offset": offset,
        "warc_length": None, "record_id": None,
        "error": f"unreadable WARC data from offset {offset}: {type(exc).__name__}: {str(exc)[:200]!r}",
    }


def _next_record_start(fh: Any, start: int, gz: bool, chunk: int = 1 << 20) -> int | None:
    """Offset of the next place a record may start (a gzip member header, or a `WARC/` version line)."""
    mark = b"\x1f\x8b\x08" if gz else b"WARC/1."
    fh.seek(start)
    base, tail = start, b""
    while True:
        block = fh.read(chunk)
        if not block:
            return None
        data = tail + block
        at = data.find(mark)
        if at >= 0:
            return base - len(tail) + at
        tail = data[-(len(mark) - 1):]
        base += len(block)


def _read_record(path: Path, record: Any, records: Any) -> tuple[str, dict, bytes | None] | None:
    """One record as (kind, capture-or-meta, body), or None for record types the archive ignores."""
    from nianbao.archive.records import http_status_and_type

    rtype = record.rec_type
    h = record.rec_headers
    if rtype not in ("response", "revisit", "metadata"):
        return None
    kind = h.get_header("WARC-Nianbao-Kind")
    error = None
    try:
        body = record.content_stream().read() if rtype != "revisit" else None
    except Exception as exc:  # a damaged record: kept as a capture with the error
        body, error = None, f"unreadable record: {type(exc).__name__}: {exc}"[:1000]
    if body is not None:
        checker = getattr(record, "digest_checker", None)
        passed = getattr(checker, "passed", True)
        if passed is None:  # the decoded payload may end before the record does: read the rest
            try:
                while record.raw_stream.read(1 << 16):
                    pass
            except Exception:
                pass
            passed = checker.passed
        if passed is False:
            body, error = None, "digest mismatch: " + "; ".join(map(str, checker.problems))[:900]
        elif passed is None and (h.get_header("WARC-Block-Digest") or h.get_header("WARC-Payload-Digest")):
            body, error = None, f"truncated record: its digest could not be verified ({len(body)} bytes read)"
    offset, length = records.get_record_offset(), records.get_record_length()
    record_id = h.get_header("WARC-Record-ID")
    if rtype == "metadata":
        if kind == "crawl-summary" and body is not None:
            try:
                summary = json.loads(body.decode("utf-8"))
            except ValueError:
                return None
            if not isinstance(summary, dict):
                return None
            return "summary", {"summary": summary, "source": h.get_header("WARC-Nianbao-Source"),
                               "warc_file": path.name, "warc_offset": offset,
                               "warc_length": length, "record_id": record_id}, None
        return None
    status, ctype = http_status_and_type(record)
    # a 304 revisit (server-not-modified: no payload digest) names its copy's digest in a nianbao header
    digest = h.get_header("WARC-Payload-Digest") or h.get_header("WARC-Nianbao-Refers-To-Digest")
    if rtype == "response" and body is not None and not digest:
        digest = payload_digest(body)
    capture = {
        "id": stable_id(path.name, offset), "url": h.get_header("WARC-Target-URI"),
        "fetched": h.get_header("WARC-Date"), "record_type": rtype,
        "role": h.get_header("WARC-Nianbao-Role"), "source": h.get_header("WARC-Nianbao-Source"),
        "parent_url": h.get_header("WARC-Nianbao-Parent"), "http_status": status,
        "content_type": ctype, "payload_digest": digest,
        "refers_to": h.get_header("WARC-Refers-To"), "junk": h.get_header("WARC-Nianbao-Junk"),
        "warc_file": path.name, "warc_offset": offset, "warc_length": length,
        "record_id": record_id, "error": error,
    }
    if error:
        capture["junk"] = None
    return rtype, capture, body


def _jobs(records: Iterable[tuple[str, dict, bytes | None]]) -> Iterator[tuple]:
    """Mark which records need parsing: report responses whose payload digest is new."""
    dispatched: set[str] = set()
    for kind, item, body in records:
        need = False
        if kind == "response" and body is not None and _parseable(item) and not item.get("junk"):
            digest = item.get("payload_digest") or ""
            need = digest not in dispatched
            dispatched.add(digest)
        yield kind, item, body, need


def _parseable(item: dict) -> bool:
    return item.get("http_status") in (None, 200) and (item.get("role") in REPORT_ROLES or item.get("role") is None)


def _with_hints(builder: ArchiveBuilder, records: Iterable[tuple[str, dict, bytes | None]]
                ) -> Iterator[tuple[str, dict, bytes | None]]:
    """Each response carries `hints` (the registry's agency and region for its source), so
    `parse_capture` can hand them to the parser, in worker processes too."""
    for kind, item, body in records:
        if kind == "response":
            hints = builder.hints_for(item)
            if hints:
                item["hints"] = hints
        yield kind, item, body


def feed_records(builder: ArchiveBuilder, records: Iterable[tuple[str, dict, bytes | None]],
                 jobs: int = 1) -> int:
    """Feed records in order. jobs > 1 parses in worker processes (order kept, so the result is
    identical); the main process still does all reading, inserting and indexing."""
    n = 0
    if builder.registry_by_name:
        records = _with_hints(builder, records)
    if jobs > 1:
        import multiprocessing

        pool = multiprocessing.get_context("fork").Pool(jobs, initializer=_worker_init,
                                                        initargs=(builder.ocr_cache,))
        stream: Iterable[tuple] = pool.imap(_worker_parse, _jobs(records), chunksize=8)
    else:
        pool = None
        stream = ((kind, item, body, None) for kind, item, body in records)
    try:
        for kind, item, body, parsed in stream:
            n += 1
            if not n % 256:
                # What the build keeps (captures, versions, buffered rows) only grows: move it out of
                # the collector's sight, so full collections stop re-walking it (~10 % of the CPU).
                gc.freeze()
            if kind == "summary":
                builder.add_summary(item["summary"], {k: v for k, v in item.items() if k != "summary"})
            elif kind == "damaged":
                builder.add_damaged(item)
            elif kind == "revisit":
                builder.add_revisit(item)
            else:
                role = item.get("role")
                builder.add_capture(item, body, parseable=_parseable(item),
                                    require_report=role is None and kind == "response", parsed=parsed)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return n


def iter_warcs(warc_files: list[Path]) -> Iterator[tuple[str, dict, bytes | None]]:
    for path in warc_files:
        yield from iter_warc(path)


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[str, dict, bytes | None]]:
    for capture, body in iter_file_inputs(paths):
        yield "response", capture, body


# -- the whole build ------------------------------------------------------------------------------------
def _previous_build_runs(path: Path) -> list[dict]:
    if not path.exists():
        return []
    try:
        old = sqlite_utils.Database(path)
        if "runs" not in old.table_names():
            return []
        return list(old.query("select * from runs where kind = 'build' order by id"))
    except Exception:
        return []


# Tables the build does not derive but must keep when it replaces the database (written by others,
# e.g. nianbao.nightly's `nightly_runs`, whose durable copy is logs/nightly_runs.jsonl).
CARRIED_TABLES = ("nightly_runs",)


def _previous_tables(path: Path) -> list[tuple[str, str, list[str], list[tuple]]]:
    """(name, CREATE sql, columns, rows) of each CARRIED_TABLES table of the database being replaced."""
    if not path.exists():
        return []
    out = []
    try:
        old = sqlite_utils.Database(path)
        try:
            for name in CARRIED_TABLES:
                row = old.execute("select sql from sqlite_master where type = 'table' and name = ?",
                                  [name]).fetchone()
                if not row:
                    continue
                cur = old.execute(f"select * from [{name}] order by rowid")
                out.append((name, row[0], [d[0] for d in cur.description], cur.fetchall()))
        finally:
            old.close()
    except Exception as exc:  # an unreadable old database must not stop the build
        log.warning("could not carry tables over from %s: %s", path, exc)
    return out


def _restore_tables(db: sqlite_utils.Database, tables: list[tuple[str, str, list[str], list[tuple]]]) -> None:
    for name, sql, columns, rows in tables:
        if db[name].exists():
            continue
        db.conn.execute(sql)
        if rows:
            cols = ", ".join(f"[{c}]" for c in columns)
            marks = ", ".join("?" for _ in columns)
            db.conn.executemany(f"insert into [{name}] ({cols}) values ({marks})", rows)


def prepare_database(db: sqlite_utils.Database) -> None:
    db.conn.execute("pragma journal_mode = off")
    db.conn.execute("pragma synchronous = off")
    # Hash ids put index inserts all over the b-trees: keep them in memory until the single commit
    # (pages are only allocated when used; a 100k-report build needs about 3 GB), else the spills
    # turn into random writes and the build waits on the disk.
    db.conn.execute("pragma cache_size = -4000000")
    db.conn.execute("pragma temp_store = memory")
    create_tables(db, indexes=False)
    add_build_columns(db)
    for table, columns in FTS.items():
        search.enable_fts(db, table, columns)
    write_lookups(db)


def build_archive(out: Path, *, warcs: list[Path] | None = None, files: list[Path] | None = None,
                  parse: Parser | None = None, parser_version: str | None = None,
                  registry_path: Path | None = None, batch_size: int = 200000, jobs: int = 1,
                  ocr_cache: Path | None = None) -> dict:
    """Build `out` from scratch (into a temporary file, then renamed): WARCs and/or report files.

    jobs > 1 parses in that many worker processes with the default parser (same result).
    `ocr_cache`: the file OCR results are kept in across builds (default: ocr_cache.db beside `out`,
    i.e. in the data dir), so a rebuild does not OCR a scan it read before."""
    if jobs > 1 and parse is not None:
        raise ValueError("jobs > 1 uses the default parser in worker processes; do not pass parse=")
    if parse is None:
        parse, default_version = default_parser()
        parser_version = parser_version or default_version
    parser_version = parser_version or "unknown"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(out)
    remove_partial(out)
    db = None
    try:
        db = sqlite_utils.Database(tmp)
        cache = OcrCache(ocr_cache or out.parent / OCR_CACHE_FILE)
        try:
            return _build_into(db, tmp, out, warcs=warcs, files=files, parse=parse,
                               parser_version=parser_version, registry_path=registry_path,
                               batch_size=batch_size, jobs=jobs, ocr_cache=cache)
        finally:
            cache.close()
    except BaseException:
        # a failed build (disk full, interrupted, a bug) leaves no partial file to fill the disk
        if db is not None:
            try:
                db.close()
            except Exception:
                pass
        remove_partial(out)
        raise


def partial_path(out: Path) -> Path:
    """The file a build writes before it is renamed over `out`."""
    out = Path(out)
    return out.with_name(out.name + ".building")


def remove_partial(out: Path) -> list[Path]:
    """Remove a build's partial file (and SQLite's side files); returns what was removed."""
    tmp = partial_path(out)
    removed = []
    for stale in (tmp, Path(str(tmp) + "-journal"), Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        try:
            stale.unlink()
            removed.append(stale)
        except FileNotFoundError:
            pass
    return removed


def _build_into(db: sqlite_utils.Database, tmp: Path, out: Path, *, warcs: list[Path] | None,
                files: list[Path] | None, parse: Parser, parser_version: str, registry_path: Path | None,
                batch_size: int, jobs: int, ocr_cache: OcrCache | None = None) -> dict:
    started_wall, started = time.time(), time.perf_counter()
    old_runs = _previous_build_runs(out)
    carried = _previous_tables(out)
    prepare_database(db)
    registry = load_sources(registry_path)
    builder = ArchiveBuilder(db, parse, parser_version, batch_size=batch_size, registry=registry,
                             ocr_cache=ocr_cache)
    warc_files = sorted(closed_warcs(warcs or []), key=lambda p: Path(p).name)
    thresholds = gc.get_threshold()
    gc.set_threshold(20000, 20, 20)  # ~30x fewer young collections; the parser makes few cycles
    try:
        n_records = feed_records(builder, iter_warcs([Path(p) for p in warc_files]), jobs=jobs)
        n_records += feed_records(builder, iter_files(files or []), jobs=jobs)
        gc.freeze()
        counts = builder.finish()
        create_indexes(db)
        totals.fill_report_totals(db)  # the reports view's rows, summed once from the cells
        search.fill_section_search(db)  # the search box's narrow rows (archive/search.py)
    finally:
        gc.unfreeze()  # the build's objects are garbage-collectable again
        gc.set_threshold(*thresholds)
    seconds = time.perf_counter() - started
    stats = {**builder.stats, "parse_seconds": round(builder.stats["parse_seconds"], 3)}
    run = {
        "id": "build:" + datetime.fromtimestamp(started_wall, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "kind": "build", "started": utc_iso(started_wall),
        "finished": utc_iso(time.time()), "complete": 1, "parser_version": parser_version,
        "inputs": json.dumps([str(p) for p in warc_files] + [str(p) for p in files or []], ensure_ascii=False),
        "n_warc_files": len(warc_files), "n_records": n_records, "n_captures": counts["captures"],
        "n_documents": counts["documents"], "n_versions": counts["versions"],
        "n_cells": builder.stats["cells"], "n_rule_failures": builder.stats["rule_failures"],
        "seconds": round(seconds, 3),
        "reports_per_second": round(builder.stats["parsed"] / seconds, 1) if seconds else None,
        "stats": json.dumps(stats, sort_keys=True),
    }
    if old_runs:
        db["runs"].insert_all(old_runs, replace=True)
    db["runs"].insert(run, replace=True)
    _restore_tables(db, carried)
    db.conn.commit()
    db.conn.execute("pragma journal_mode = delete")
    db.close()
    os.replace(tmp, out)
    return run
