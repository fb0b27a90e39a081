"""Derive the archive database from the record (WARC files, or a folder of report files): the build's
lifecycle — a temporary file (`nianbao.db.building`), the tables carried over from the database it
replaces, earlier build runs, and the rename over the old file at the end.

Raw first: nothing here fetches anything. The same inputs and parser give the same rows and ids;
only this build's own `runs` row differs. Cells stream into the database in batches as reports are
parsed (one report's rows never wait for the whole archive); the small per-version metadata
(versions, documents, captures, agencies) is written at the end, when first/last seen, version
numbers, withdrawals and carry chains are known.

The jobs live in their own modules (this one keeps their public names importable):
archive/readers.py (WARC and file readers), archive/parsing.py (the parser's door, worker processes,
the record feed), archive/builder.py with archive/rows.py, archive/merge.py and archive/finish.py
(the version builder), archive/withdrawals.py (what crawl summaries mean).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from nianbao.archive import search, totals
from nianbao.archive.builder import ArchiveBuilder
from nianbao.archive.lookups import write_lookups
from nianbao.archive.ocr_cache import FILE_NAME as OCR_CACHE_FILE
from nianbao.archive.ocr_cache import OcrCache
from nianbao.archive.parsing import (  # noqa: F401 (public names, re-exported)
    REPORT_ROLES,
    USABLE,
    Parser,
    _with_hints,
    default_parser,
    feed_records,
    file_name_of,
    parse_capture,
)
from nianbao.archive.readers import (  # noqa: F401 (public names, re-exported)
    FILE_SUFFIXES,
    iter_file_inputs,
    iter_files,
    iter_warc,
    iter_warcs,
    utc_iso,
)
from nianbao.archive.schema import FTS, add_build_columns, create_indexes, create_tables
from nianbao.archive.sources import load_sources
from nianbao.archive.version import BUILD_ERROR, Version  # noqa: F401 (public names, re-exported)
from nianbao.config import OPEN_SUFFIXES, closed_warcs  # noqa: F401 (the data dir's naming; re-exported)

log = logging.getLogger(__name__)


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
        "id": "build:" + datetime.fromtimestamp(started_wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
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

