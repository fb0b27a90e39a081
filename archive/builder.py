"""The version builder: captures in record order → versions, cells, sections, rules.

`ArchiveBuilder` is one object split by job over mixins: this module takes the records (parse, new
version or one seen again, a failed document rolled back); archive/rows.py buffers and writes rows;
archive/merge.py joins a page and its attachment; archive/finish.py writes what is known at the end.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlite_utils

from nianbao.archive import build_state, findings, pairing, summary_store, version_store
from nianbao.archive.finish import FinishMixin
from nianbao.archive.identity import hints_for, normalize_agency, registry_index
from nianbao.archive.ids import document_key, stable_id
from nianbao.archive.merge import MergeMixin
from nianbao.archive.parsing import USABLE, Parser, parse_capture
from nianbao.archive.rows import RowsMixin
from nianbao.archive.rules import carry_chain_function
from nianbao.archive.version import BUILD_ERROR, Version, _text
from nianbao.archive.withdrawals import crawl_rows
from nianbao.parsers.junk import classify_junk

log = logging.getLogger("nianbao.archive.build")


class ArchiveBuilder(RowsMixin, MergeMixin, FinishMixin):
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
        self.carry_chain = carry_chain_function()
        self.ocr_threshold = findings.ocr_threshold()
        # The versions whose rows are being buffered; each flush writes them to disk (build_parts, and
        # the build's temp table archive/version_store.py), so memory does not grow with the archive.
        self.live: dict[str, Version] = {}
        self.live_by_digest: dict[str, str] = {}  # payload digest -> version id, of the live versions
        version_store.create(db)
        # Captures are written in record order as they come (rows.py `_write_captures`); pairing,
        # first/last seen and the URLs of a version are read back from the table at the end.
        self.pending_captures: list[dict] = []
        self.n_captures = 0
        summary_store.create(db)  # crawl summaries go to disk as they are read (archive/summary_store.py)
        self.n_summaries = 0  # summaries read, by this build and (incremental) the earlier ones
        self.crawl_run_ids: set[str] = set()  # the crawl runs whose summaries this build read
        self.buffers: dict[str, list] = {t: [] for t in
                                         ("active_disclosure", "requests", "appeals", "rule_results")}
        self.section_rows: list[dict] = []
        self.section_id = 0
        self.n_buffered = 0
        self.stats = {"records": 0, "parsed": 0, "parse_seconds": 0.0, "cells": 0, "rule_failures": 0,
                      "build_errors": 0, "damaged_records": 0}
        self.order = 0
        self.failed: set[str] = set()  # versions turned build_error while their rows sat in the buffers
        self.failures_on_disk: dict[str, int] = {}  # failed carry-chain rules of versions already on disk

    # -- input ------------------------------------------------------------------------------------
    def add_capture(self, capture: dict, body: bytes | None, parseable: bool,
                    require_report: bool = False, parsed: tuple[dict, float | None] | None = None) -> None:
        """A response (or input file). Parse it when it shows a report whose payload is new
        (`parsed`: the result of `parse_capture` already computed by a worker process)."""
        self._pend(capture)
        if not parseable or (body is None and parsed is None):
            if body is not None and capture.get("role") == "list":
                self._classify(capture, body)
            return
        digest = capture["payload_digest"]
        known = self._version_of(digest)
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

    def _pend(self, capture: dict) -> None:
        """A capture in record order; the ones before it are done, so a full batch of them is written."""
        if len(self.pending_captures) >= self.CAPTURE_BATCH:
            self._write_captures()
        self.order += 1
        capture.setdefault("version_id", None)
        self.pending_captures.append(capture)

    def add_damaged(self, capture: dict) -> None:
        """A WARC record (or stretch of a file) that could not be read: kept as a capture with its error."""
        self._pend(capture)
        self.stats["damaged_records"] += 1

    # -- one document's failure: its rows out, a build_error version in ------------------------------
    def _mark(self) -> tuple:
        return ({t: len(rows) for t, rows in self.buffers.items()}, len(self.section_rows), self.section_id,
                self.n_buffered, len(self.live), self.stats["cells"], self.stats["rule_failures"])

    def _rollback(self, mark: tuple) -> None:
        """Drop what a failed document buffered (nothing of it was written: flushes wait for it)."""
        lengths, n_sections, section_id, n_buffered, n_versions, cells, failures = mark
        for table, rows in self.buffers.items():
            del rows[lengths[table]:]
        del self.section_rows[n_sections:]
        self.section_id, self.n_buffered = section_id, n_buffered
        self.stats["cells"], self.stats["rule_failures"] = cells, failures
        for vid in list(self.live)[n_versions:]:
            v = self.live.pop(vid)
            if self.live_by_digest.get(v.digest) == vid:
                del self.live_by_digest[v.digest]

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
            warnings=[self._error_text(exc)],
        )
        self._keep(v)
        self.stats["build_errors"] += 1
        return v


    def add_revisit(self, capture: dict) -> None:
        """An unchanged page: the version with that payload was still there at this time."""
        self._pend(capture)
        known = self._version_of(capture.get("payload_digest") or "")
        if known:
            self._seen_again(known, capture)

    def add_summary(self, summary: dict, meta: dict) -> None:
        """A crawl summary: its crawl_summaries and build_summaries rows now, its listing to the log
        withdrawals read at the end."""
        s = {"summary": summary, **meta}
        summary_store.log(self.db, self.n_summaries, s)
        build_state.write_summaries(self.db, [s], self.n_summaries)
        (row,), _ = crawl_rows([s])
        self._insert_many("crawl_summaries", tuple(row), [tuple(row.values())])
        self.crawl_run_ids.add(row["run_id"])
        self.n_summaries += 1

    def _classify(self, capture: dict, body: bytes) -> str | None:
        """Name a junk page (challenge, soft 404, login wall) with the current classifier (parsers/junk.py).

        Only pages the parser could not read as a report are asked: a page with the report's tables
        is not junk, and the classifier costs as much as a parse on big portal pages."""
        if capture.get("junk"):
            return capture.get("junk")
        try:
            capture["junk"] = classify_junk(body, capture["url"])
        except Exception as exc:  # never lose a record over a classifier bug
            log.warning("junk classifier failed on %s: %s", capture["url"], exc)
        return capture.get("junk")

    def _seen_again(self, version_id: str, capture: dict) -> None:
        """The capture shows a version already built (its times and URL count from the captures table)."""
        capture["version_id"] = version_id

    def _keep(self, v: Version) -> None:
        self.live[v.id] = v
        self.live_by_digest[v.digest] = v.id

    def _version_of(self, digest: str) -> str | None:
        """The version a payload was built as: a live one, else the part written at a flush (or by an
        earlier build: then the version that part ended in)."""
        known = self.live_by_digest.get(digest)
        if known is None and digest:
            r = self.db.execute("select version_id from build_parts where digest = ?", [digest]).fetchone()
            known = r[0] if r else None
        return known

    def _spill(self) -> None:
        """The live versions to disk: as parts (build_parts, what pairing and the next build read) and
        as versions (archive/version_store.py), then out of memory."""
        if not self.live:
            return
        build_state.write_parts(self.db, (build_state.part_row(v) for v in self.live.values()), {})
        version_store.put(self.db, self.live.values())
        self.live.clear()
        self.live_by_digest.clear()

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
        )
        if status not in pairing.REPORTISH and any(named):
            v.warnings.append(f"{status}: agency/year read as {named[0]}/{named[1]} not filed")
        elif raw_agency and not agency:
            v.warnings.append(f"agency {raw_agency!r} dropped: navigation text, not a body")
        self._keep(v)
        self._buffer_cells(v, report)
        return v

