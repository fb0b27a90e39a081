"""A full build's file is packed (VACUUM INTO) before the rename, and only served packed when the FTS
indexes' document ids (the tables' rowids) survived the copy (archive/build.py `_pack_into`)."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from nianbao.archive.dbfile import _fts_rowids_kept, _pack_into, packed_path
from nianbao.archive.schema import FTS, create_tables


def archive(path: Path) -> sqlite_utils.Database:
    db = sqlite_utils.Database(path)
    create_tables(db)
    columns = [c.name for c in db["document_versions"].columns]
    for n in range(40):  # ids in hash order, as the build's are: rowids follow insertion, not the key
        db["document_versions"].insert({c: None for c in columns} | {"id": f"{(n * 7919) % 40:016x}",
                                                                     "title": f"报告 {n}", "agency": "甲区"})
    db["document_versions"].delete_where("rowid % 5 = 0")  # gaps, as superseded rows leave
    return db


def rows(path: Path) -> list[tuple]:
    return sqlite_utils.Database(path).execute("select rowid, id from document_versions order by rowid").fetchall()


def test_the_packed_file_keeps_rowids_and_replaces_the_database(tmp_path):
    tmp, out = tmp_path / "nianbao.db.building", tmp_path / "nianbao.db"
    before = (archive(tmp), rows(tmp))[1]
    _pack_into(sqlite_utils.Database(tmp), tmp, out)
    assert rows(out) == before and len(before) == 32
    assert not tmp.exists() and not packed_path(out).exists()
    assert set(FTS) == {"document_versions", "sections"}


def test_renumbered_rowids_are_caught(tmp_path):
    db = archive(tmp_path / "a.db")
    packed = tmp_path / "b.db"
    db.conn.execute("vacuum into ?", [str(packed)])
    assert _fts_rowids_kept(db, packed)
    other = sqlite_utils.Database(packed)
    other.execute("update document_versions set rowid = rowid + 1000 where rowid = (select max(rowid) "
                  "from document_versions)")
    other.conn.commit()
    other.close()
    assert not _fts_rowids_kept(db, packed)
