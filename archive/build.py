"""Derive the archive database from the record (WARC files, or a folder of report files): the build's
lifecycle — a temporary file (`nianbao.db.building`), the tables carried over from the database it
replaces, earlier build runs, and the rename over the old file at the end (a full build's file packed
first: VACUUM INTO `nianbao.db.packing`, see archive/dbfile.py `_pack_into`).

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

from nianbao.archive import build_state, refresh, search, totals
from nianbao.archive.builder import ArchiveBuilder
from nianbao.archive.dbfile import (  # noqa: F401 (partial_path, remove_partial: public names, re-exported)
    _pack_into,
    copy_file,
    packed_path,
    partial_path,
    remove_partial,
)
from nianbao.archive.incremental import IncrementalBuilder, IncrementalUnsafe, new_inputs
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
from nianbao.archive.sources import source_rows
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


CACHE_MB = 256  # SQLite's page cache for a build unless --cache-mb says otherwise


def default_cache_mb() -> int:
    """SQLite's page cache for a build: CACHE_MB, or a quarter of the memory of a smaller machine (64 MB
    at least). Fixed, not grown with the machine: the cache fills up to its size whatever it is, so a
    machine-sized one made the build's peak memory grow with the archive (4.5 GB at 100,000 reports
    with 4 GB). Pages beyond it go to the file through the OS page cache: at 100,000 reports a 256 MB
    cache cost no more CPU than 4 GB (bench/build.py --cache-mb; archive/README.md, Benchmark)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError, AttributeError):
        total = 4096
    return max(64, min(CACHE_MB, total // 4))


# SQLite's page cache once every record is read (finish, indexes, totals, the search table, the refresh):
# those steps scan and sort, and SQLite's sorter keeps up to the page cache's size in memory before it spills to its
# temporary file (vdbesort.c): with the build's 256 MB cache, CREATE INDEX added another 246 MB at
# 100,000 reports. With this cache the sorter stays within it too.
SORT_CACHE_MB = 16


def shrink_cache(db: sqlite_utils.Database, cache_mb: int | None = None) -> None:
    """The page cache (and so the sorter's memory) for the steps after the rows are in."""
    mb = min(SORT_CACHE_MB, int(cache_mb or default_cache_mb()))
    db.conn.execute(f"pragma cache_size = -{mb * 1024}")


def set_pragmas(db: sqlite_utils.Database, cache_mb: int | None = None) -> None:
    """A build's file is private until it is renamed: no journal, no syncs; a failed build deletes it."""
    db.conn.execute("pragma journal_mode = off")
    db.conn.execute("pragma synchronous = off")
    db.conn.execute(f"pragma cache_size = -{int(cache_mb or default_cache_mb()) * 1024}")
    db.conn.execute("pragma temp_store = file")  # sorts (CREATE INDEX) and temp tables spill to a file, not RAM


def prepare_database(db: sqlite_utils.Database, cache_mb: int | None = None) -> None:
    set_pragmas(db, cache_mb)
    create_tables(db, indexes=False)
    add_build_columns(db)
    for table, columns in FTS.items():
        search.enable_fts(db, table, columns)
    write_lookups(db)
    build_state.create_state_tables(db)


def build_archive(out: Path, *, warcs: list[Path] | None = None, files: list[Path] | None = None,
                  parse: Parser | None = None, parser_version: str | None = None,
                  registry_path: Path | None = None, batch_size: int = 200000, jobs: int = 1,
                  ocr_cache: Path | None = None, incremental: bool = False, cache_mb: int | None = None) -> dict:
    """Build `out` (into a temporary file, then renamed): WARCs and/or report files.

    jobs > 1 parses in that many worker processes with the default parser (same result).
    `ocr_cache`: the file OCR results are kept in across builds (default: ocr_cache.db beside `out`,
    i.e. in the data dir), so a rebuild does not OCR a scan it read before.
    `incremental`: add only the WARC files the existing `out` has not read (archive/incremental.py;
    same rows as a full build), or build in full when that cannot give the same rows (the run's
    stats say why). `cache_mb`: SQLite's page cache (default: `default_cache_mb()`)."""
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
    registry = source_rows(registry_path)
    warc_files = [Path(p) for p in sorted(closed_warcs(warcs or []), key=lambda p: Path(p).name)]
    sig = build_state.signature(parser_version, registry)
    reason = "full build asked for" if not incremental else None
    new: list[Path] | None = None
    if reason is None:
        reason, new = _incremental_inputs(out, warc_files, files, sig)
    db = None
    try:
        cache = OcrCache(ocr_cache or out.parent / OCR_CACHE_FILE)
        try:
            if new is not None:
                copy_file(out, tmp)
                db = sqlite_utils.Database(tmp)
                try:
                    return _build_into(db, tmp, out, warcs=new, files=None, parse=parse,
                                       parser_version=parser_version, registry=registry, sig=sig,
                                       batch_size=batch_size, jobs=jobs, ocr_cache=cache, cache_mb=cache_mb,
                                       resume=True)
                except IncrementalUnsafe as exc:
                    reason = str(exc)
                    log.info("incremental build not possible (%s): building in full", reason)
                    db.close()
                    remove_partial(out)
            db = sqlite_utils.Database(tmp)
            return _build_into(db, tmp, out, warcs=warc_files, files=files, parse=parse,
                               parser_version=parser_version, registry=registry, sig=sig,
                               batch_size=batch_size, jobs=jobs, ocr_cache=cache, cache_mb=cache_mb,
                               full_because=reason)
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


def _incremental_inputs(out: Path, warc_files: list[Path], files: list[Path] | None,
                        sig: str) -> tuple[str | None, list[Path] | None]:
    """(why a full build is needed, None) or (None, the WARC files to add to `out`)."""
    if files:
        return "report files are read in full builds only", None
    if not out.exists():
        return f"no {out.name} yet", None
    try:
        old = sqlite_utils.Database(out)
        try:
            return None, new_inputs(old, warc_files, sig)
        finally:
            old.close()
    except IncrementalUnsafe as exc:
        return str(exc), None
    except Exception as exc:  # an unreadable old database: build it again
        return f"{out.name} unreadable ({type(exc).__name__}: {exc})", None


def _build_id(started: float) -> str:
    """`build:<start>`: the start as nianbao.stamps writes times (`utc_iso`), with microseconds (two
    builds in one second are two runs)."""
    when = datetime.fromtimestamp(started, UTC)
    return f"build:{utc_iso(when)[:-1]}.{when.microsecond:06d}Z"


def _build_into(db: sqlite_utils.Database, tmp: Path, out: Path, *, warcs: list[Path],
                files: list[Path] | None, parse: Parser, parser_version: str, registry: list[dict], sig: str,
                batch_size: int, jobs: int, ocr_cache: OcrCache | None = None, cache_mb: int | None = None,
                resume: bool = False, full_because: str | None = None) -> dict:
    started_wall, started = time.time(), time.perf_counter()
    old_runs = [] if resume else _previous_build_runs(out)
    carried = [] if resume else _previous_tables(out)
    if resume:
        set_pragmas(db, cache_mb)
        builder: ArchiveBuilder = IncrementalBuilder(db, parse, parser_version, batch_size=batch_size,
                                                     registry=registry, ocr_cache=ocr_cache)
    else:
        prepare_database(db, cache_mb)
        builder = ArchiveBuilder(db, parse, parser_version, batch_size=batch_size, registry=registry,
                                 ocr_cache=ocr_cache)
    thresholds = gc.get_threshold()
    gc.set_threshold(20000, 20, 20)  # ~30x fewer young collections; the parser makes few cycles
    try:
        n_records = feed_records(builder, iter_warcs(warcs), jobs=jobs)
        if files:  # (no second pool of workers forked from a process that holds the whole WARC read)
            n_records += feed_records(builder, iter_files(files), jobs=jobs)
        gc.freeze()
        shrink_cache(db, cache_mb)  # finish() sorts the versions: bounded like the steps after it
        counts = builder.finish()
        if not resume:
            create_indexes(db)
        if resume:  # only the agencies this night changed (archive/refresh.py)
            refreshed = refresh.refresh_derived(db, out, builder.touched)
        else:
            totals.fill_report_totals(db)  # the reports view's rows, summed once from the cells
            search.fill_section_search(db)  # the search box's narrow rows (archive/search.py)
        build_state.write_inputs(db, warcs)
        build_state.write_state(db, {"signature": sig, "files": len(files or [])})
    finally:
        gc.unfreeze()  # the build's objects are garbage-collectable again
        gc.set_threshold(*thresholds)
    seconds = time.perf_counter() - started
    stats = {**builder.stats, "parse_seconds": round(builder.stats["parse_seconds"], 3),
             "incremental": resume, "new_warc_files": len(warcs) if resume else None,
             "full_because": None if resume else full_because}
    if resume:
        stats["refreshed"] = refreshed
    run = {
        "id": _build_id(started_wall),
        "kind": "build", "started": utc_iso(started_wall),
        "finished": utc_iso(time.time()), "complete": 1, "parser_version": parser_version,
        "inputs": json.dumps([str(p) for p in warcs] + [str(p) for p in files or []], ensure_ascii=False),
        "n_warc_files": len(warcs), "n_records": n_records, "n_captures": counts["captures"],
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
    if resume:
        db.conn.execute("pragma journal_mode = delete")
        db.close()
        os.replace(tmp, out)
    else:
        _pack_into(db, tmp, out)
    return run
