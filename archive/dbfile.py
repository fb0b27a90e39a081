"""The database file's life around a build: its partial name, the copy an incremental build starts
from, and the packing of a full build's file before the rename.

Apart from archive/build.py because these are file-system mechanics (O_DIRECT, VACUUM INTO, side files
SQLite leaves) that know nothing of WARCs or versions; build.py keeps the lifecycle and re-exports the
names other modules use (partial_path, remove_partial).
"""

from __future__ import annotations

import logging
import mmap
import os
import shutil
from pathlib import Path

import sqlite_utils

log = logging.getLogger(__name__)


def copy_file(src: Path, dst: Path) -> None:
    """Copy the database for an incremental build (the served file is never written in place).

    Past the page cache (O_DIRECT) where the file system allows it: the kernel's copy of a 4.8 GB
    database (100k reports) cost 2.4-22 s of CPU depending on the page cache's state, more than the
    rest of a night's build; the direct copy 0.35 s (5 s wall on this VM's disk). The build reads
    back only the pages it touches. Else copy_file_range, else a plain copy."""
    try:
        _copy_direct(src, dst)
        return
    except OSError as exc:  # no O_DIRECT here (tmpfs, some network file systems): the kernel's copy
        log.debug("direct copy of %s not possible (%s): copying through the page cache", src, exc)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        done = 0
        try:
            while done < size:
                n = os.copy_file_range(fin.fileno(), fout.fileno(), size - done)
                if n == 0:
                    break
                done += n
        except (AttributeError, OSError):
            fin.seek(0)
            fout.seek(0)
            fout.truncate()
            shutil.copyfileobj(fin, fout, 1 << 24)


_DIRECT_CHUNK = 64 << 20  # bytes per read/write of the direct copy (a multiple of any block size)


def _copy_direct(src: Path, dst: Path) -> None:
    """Copy with O_DIRECT reads and writes through one page-aligned buffer (dirty pages of `src` are
    written back by the kernel before a direct read, so a just-written file copies correctly)."""
    flag = getattr(os, "O_DIRECT", None)
    if flag is None:
        raise OSError("no O_DIRECT on this platform")
    buf = mmap.mmap(-1, _DIRECT_CHUNK)  # anonymous memory: page-aligned, as O_DIRECT requires
    fin = os.open(src, os.O_RDONLY | flag)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | flag, 0o644)
        try:
            size = os.fstat(fin).st_size
            done = 0
            while done < size:
                n = os.preadv(fin, [buf], done)
                if n <= 0:
                    raise OSError(f"{src} ended at {done} of {size} bytes")
                whole = -(-n // 4096) * 4096  # a short last block is written whole, then cut back
                os.pwritev(fout, [memoryview(buf)[:whole]], done)
                done += n
            os.ftruncate(fout, size)
        finally:
            os.close(fout)
    finally:
        os.close(fin)
        buf.close()


def partial_path(out: Path) -> Path:
    """The file a build writes before it is renamed over `out`."""
    out = Path(out)
    return out.with_name(out.name + ".building")


def remove_partial(out: Path) -> list[Path]:
    """Remove a build's partial file (and SQLite's side files); returns what was removed."""
    tmp = partial_path(out)
    removed = []
    for stale in (tmp, Path(str(tmp) + "-journal"), Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm"),
                  packed_path(out), Path(str(packed_path(out)) + "-journal")):
        try:
            stale.unlink()
            removed.append(stale)
        except FileNotFoundError:
            pass
    return removed


def packed_path(out: Path) -> Path:
    """The file a full build's database is packed into (VACUUM INTO) before it is renamed to `out`."""
    out = Path(out)
    return out.with_name(out.name + ".packing")


PACK_CACHE_MB = 16  # SQLite's page cache while packing (see _pack_into)


def _pack_into(db: sqlite_utils.Database, tmp: Path, out: Path) -> None:
    """Rename a full build's database to `out` packed: VACUUM INTO a fresh file beside it.

    The cell tables' primary keys begin with hash-derived version ids, so each batch's rows land all
    over their b-tree indexes and leave pages part-empty (16 % of the requests key's pages at 100,000
    reports). The copy writes every table and index in key order, full pages; rowids are kept (the FTS
    indexes' document ids), the schema is the same. 46.8 -> 44.3 KB/report at 10,000 reports (~2 s of
    CPU), 47.0 -> 44.3 at 100,000 (19-33 s of CPU, mostly the kernel's: archive/README.md, Benchmark).
    Beside `out`, not in the temp directory (an in-place VACUUM's copy would go there, and it writes
    the pages twice); the served file is still replaced by one rename. A REINDEX alone frees the pages
    but leaves them in the file. Incremental builds add 1 % to a packed file and are not packed."""
    packed = packed_path(out)
    packed.unlink(missing_ok=True)
    # the copy gets the source's page cache size: a small one for both, or the build's peak memory grows
    # by a second full cache (the pages are read and written once, in order; the OS caches the file)
    db.conn.execute(f"pragma cache_size = -{PACK_CACHE_MB * 1024}")
    db.conn.execute("vacuum into ?", [str(packed)])  # a failure: build_archive removes both partial files
    kept = _fts_rowids_kept(db, packed)
    db.close()
    if not kept:  # SQLite only promises to keep INTEGER PRIMARY KEY rowids: never serve a shifted FTS index
        log.warning("VACUUM INTO changed the rowids an FTS index refers to: the build keeps the unpacked file")
        packed.unlink()
        os.replace(tmp, out)
        return
    tmp.unlink()
    os.replace(packed, out)


def _fts_rowids_kept(db: sqlite_utils.Database, packed: Path) -> bool:
    """Whether every table with an FTS index (schema.FTS) pairs the same rowids with the same keys in `packed`.

    The FTS5 indexes are external-content: their document ids are the tables' rowids. `sections` has an
    INTEGER PRIMARY KEY (kept by definition); `document_versions` has a text key, whose implicit rowids
    VACUUM "may" renumber (SQLite's documentation), though the SQLite measured here keeps them."""
    from nianbao.archive.schema import FTS

    db.conn.execute("attach database ? as packed", [str(packed)])
    try:
        for table in FTS:
            pks = [c for c in db[table].columns if c.is_pk]
            if len(pks) == 1 and pks[0].type.upper() == "INTEGER":  # the rowid itself: kept by definition
                continue
            key = ", ".join(f"[{c.name}]" for c in pks)  # (rowid, key): a renumbered row shows
            differs = db.conn.execute(
                f"select 1 from (select rowid, {key} from main.[{table}] "
                f"except select rowid, {key} from packed.[{table}]) limit 1").fetchone()
            if differs:
                return False
        return True
    finally:
        db.conn.execute("detach database packed")
