"""The builder's hot path: a report's cells, sections and rule results as tuples, written in batches.

A mixin of `archive.builder.ArchiveBuilder` (the class is split by job, not by object): rows are
buffered in the tables' column order and flushed in primary-key order with executemany; a row the
database refuses turns its version into a build_error, never stops the build.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from nianbao.archive import findings, search, version_store
from nianbao.archive.schema import BUILD_COLUMNS, FTS, TABLES
from nianbao.archive.version import (
    _CHAIN_ROWS,
    _INT64,
    _NUMBER_TYPES,
    _PK_FIELDS,
    _ROW_ERRORS,
    _RULE_KEYS,
    _TABLE_OF,
    BUILD_ERROR,
    Version,
    _box_text,
    _measure_bound,
    _num,
    _number_text,
    _pk_order_safe,
    _rule_number,
    pack_chain,
)
from nianbao.parsers.values import COUNT_BOUND

log = logging.getLogger("nianbao.archive.build")


class RowsMixin:
    """Buffering and writing a version's rows (cells, sections, rules)."""

    _PART_TABLES = ("active_disclosure", "requests", "appeals", "rule_results")

    def _fail_version(self, vid: str, exc: BaseException) -> None:
        """A version whose rows the database refused: delete what was written, mark it build_error."""
        v = self.live.get(vid)  # cells and sections are only ever buffered for a live version
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
            if key == "requests":  # kept until finish() runs the carry chains, packed (~150 bytes)
                chain = [(c.get("row"), c.get("column"), self._bounded(c.get("value")), c.get("raw"),
                          c.get("position") is not None)
                         for c in report.get(key) or () if c.get("row") in _CHAIN_ROWS]
        if chain:
            v.chain = pack_chain(chain)
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
                self._count_failure(vid)
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
            self._count_failure(vid)

    def _count_failure(self, vid: str) -> None:
        """One more failed rule on a version (a carry chain's, in finish(), is on one already on disk:
        counted in `failures_on_disk` until the chains are done)."""
        self.stats["rule_failures"] += 1
        v = self.live.get(vid)
        if v is not None:
            v.n_rule_failures += 1
        else:
            self.failures_on_disk[vid] = self.failures_on_disk.get(vid, 0) + 1

    def _warn(self, vid: str, text: str) -> None:
        """A warning on a version, live or on disk."""
        v = self.live.get(vid) or version_store.get(self.db, vid)
        if v is None:
            return
        v.warnings.append(text)
        if vid not in self.live:
            version_store.put(self.db, [v])

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

    def _temp_table(self, name: str, columns: str, select: str | None = None,
                    rows: Iterable[tuple] = ()) -> None:
        """temp.<name> (made anew), filled by `select` or with `rows`; keyed by its first column (the
        joins that read it go by key)."""
        self.db.conn.execute(f"drop table if exists temp.{name}")
        self.db.conn.execute(f"create temp table {name} ({columns})")
        if select is not None:
            self.db.conn.execute(f"insert into temp.{name} {select}")
        else:
            marks = ", ".join("?" for _ in columns.split(","))
            self.db.conn.executemany(f"insert into temp.{name} values ({marks})", rows)

    CAPTURE_BATCH = 4096  # captures written at least this often (list pages have no cells to flush them)

    def _write_captures(self) -> None:
        """Write the captures read since the last call (their version is known by now: a capture's
        record is done before the next is read)."""
        cols = self._CAPTURE_COLUMNS
        pending = self.pending_captures
        if not pending:
            return
        self._insert_many("captures", cols, [tuple(c.get(k) for k in cols) for c in pending])
        self.n_captures += len(pending)
        pending.clear()

    def flush(self) -> None:
        """Write buffered rows in one batch per table (the last of duplicate keys wins), the captures,
        and the versions they belong to (out of memory: `_spill`)."""
        self._write_captures()
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
        self._spill()

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
                        self._warn(vid, f"rule {r[1]!r} {r[2]!r} not stored: {type(row_exc).__name__}: "
                                        f"{row_exc}"[:500])

