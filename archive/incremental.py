"""Incremental builds: add the WARC files written since the last build to a copy of the database.

The result is the database a full build of all the files would give (tests/archive/test_incremental.py
compares every table). That holds because a build is a fold over the records in file-name order:
the builder is put back in the state the last build ended in (versions, captures, summaries, the
record and section counters, the parts before pairing: archive/build_state.py), the new records are
fed exactly as a full build feeds them, and `finish()` redoes what depends on the whole archive —
version numbers, latest versions, withdrawals, the metadata tables — from that state (on disk, like a
full build's: archive/version_store.py), while the large tables (cells, rules, sections) are only
added to. Carry chains are re-checked only for the agencies whose documents changed.

When the new records could make an earlier decision come out differently, the build says why and a
full build runs instead (`IncrementalUnsafe`): a new file that sorts before one already read, a file
read before that changed or vanished, another parser/schema/registry (`build_state.signature`), or
a pairing of parts (archive/pairing.py) that is no longer what the last build merged — e.g. a new
payload of an attachment whose page was already joined with an earlier payload of it.
"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path
from typing import Any

import sqlite_utils

from nianbao.archive import build_state, pairing, summary_store, version_store
from nianbao.archive.builder import ArchiveBuilder

log = logging.getLogger("nianbao.archive.build")


class IncrementalUnsafe(Exception):
    """The new records cannot be added in place with a full build's result: build in full."""


def new_inputs(db: sqlite_utils.Database, warc_files: list[Path], sig: str) -> list[Path]:
    """The WARC files to add to `db`, or IncrementalUnsafe saying why a full build is needed."""
    state = build_state.read_state(db)
    if not state:
        raise IncrementalUnsafe("the database has no build state (built before incremental builds)")
    if state.get("files"):
        raise IncrementalUnsafe("the last build read report files besides WARCs")
    if state.get("signature") != sig:
        raise IncrementalUnsafe("parser, schema or registry changed since the last build")
    done = build_state.read_inputs(db)
    by_name = {p.name: p for p in warc_files}
    for name, (_path, size) in sorted(done.items()):
        p = by_name.get(name)
        if p is None:
            raise IncrementalUnsafe(f"{name}, read by the last build, is gone")
        if p.stat().st_size != size:
            raise IncrementalUnsafe(f"{name} changed size since the last build read it")
    new = [p for p in warc_files if p.name not in done]
    if done and new and min(p.name for p in new) < max(done):
        raise IncrementalUnsafe(f"{min(p.name for p in new)} sorts before files already read (record order)")
    return new


class IncrementalBuilder(ArchiveBuilder):
    """An ArchiveBuilder resumed from the database an earlier build wrote (a copy: see build.py)."""

    def __init__(self, db: sqlite_utils.Database, *args: Any, **kwargs: Any):
        super().__init__(db, *args, **kwargs)
        self._load()

    # -- the state the last build ended in ---------------------------------------------------------
    def _load(self) -> None:
        """The versions the last build wrote, back on disk as a full build would hold them at this point
        (archive/version_store.py: one SQL statement, nothing in memory); parts and captures stay in
        their tables, where the builder reads them."""
        db = self.db
        state = build_state.read_state(db)
        self.section_id = int(state["section_id"])
        self.order = self.old_order = int(state["order"])
        self.old_capture_rowid = db.execute("select coalesce(max(rowid), 0) from captures").fetchone()[0]
        self._temp_table("version_order", "version_id text primary key, ord integer",
                         "select version_id, min(ord) from build_parts group by version_id")
        cols = [c for c in version_store.COLUMNS if c != "documents"]
        values = {c: f"dv.{c}" for c in cols}
        values.update({"document_key": "d.key", "digest": "dv.payload_digest", "ord": "o.ord",
                       "chain": "p.chain", "version": "0", "is_latest": "0", "withdrawn_at": "null",
                       "sections_lo": "p.sections_lo", "sections_hi": "p.sections_hi"})
        db.conn.execute(
            f"insert into {version_store.TABLE} ({', '.join(cols)}) select {', '.join(values[c] for c in cols)} "
            "from document_versions dv join documents d on d.id = dv.document_id "
            "join build_parts p on p.digest = dv.payload_digest "
            "join temp.version_order o on o.version_id = dv.id")
        merged: list[tuple] = []  # a joined version's documents, as the merge wrote them
        cur = db.execute("select version_id, capture_id, url, payload_digest, role, status, n_cells, numbers, "
                         "identity from version_documents where version_id in (select version_id from "
                         "version_documents group by version_id having count(*) > 1) order by version_id, "
                         "payload_digest")
        for vid, rows in itertools.groupby(cur, key=lambda r: r[0]):
            merged.append((json.dumps([list(r[1:]) for r in rows], ensure_ascii=False), vid))
        version_store.update(db, "documents = ?", merged)
        self.n_captures = db.execute("select count(*) from captures").fetchone()[0]
        for s in build_state.read_summaries(db):  # back in the log withdrawals read (not written again)
            summary_store.log(db, self.n_summaries, s)
            self.n_summaries += 1
        self.touched: set[str] = set()

    # -- finish(): what the new records change -----------------------------------------------------
    def _resolve_versions(self) -> None:
        """Pair as a full build would over every part, earlier and new; apply only what is new.

        An earlier part that a merge had already joined (or an attachment that inherited its page's
        identity) has no version of its own any more: if the plan over all parts treats it
        differently from the plan the last build applied, the build cannot be incremental."""
        self.remap = {}
        old_parts, old_caps = self._pairing_inputs(self.old_capture_rowid)
        parts, all_caps = self._pairing_inputs()
        before = pairing.plan(old_parts, old_caps)
        after = pairing.plan(parts, all_caps)

        def key(g: pairing.Group) -> tuple:
            return tuple(g.parts), g.numbers, g.identity, tuple(sorted(g.roles.items()))

        joined = {p for g in before.groups for p in g.parts} | set(before.inherit)
        old_keys, new_keys = {key(g) for g in before.groups}, {key(g) for g in after.groups}
        if not old_keys <= new_keys or any(after.inherit.get(a) != p for a, p in before.inherit.items()):
            raise IncrementalUnsafe("a page and attachment joined by the last build pair differently now")
        groups = [g for g in after.groups if key(g) not in old_keys]
        inherit = {a: p for a, p in after.inherit.items() if before.inherit.get(a) != p}
        if any(p in joined for g in groups for p in g.parts) or any(a in joined for a in inherit):
            raise IncrementalUnsafe("a new document pairs with parts the last build had already joined")
        for pid in [p for g in groups for p in g.parts] + list(inherit):
            agency = getattr(parts.get(pid), "agency", None)
            if agency:
                self.touched.add(agency)
        self.touched |= {a for (a,) in self.db.execute(  # the agencies of the new parts
            f"select distinct agency from {version_store.TABLE} where ord > ?", [self.old_order]) if a}
        self._drop_chains()
        if groups or inherit:
            plan = pairing.Plan(groups, inherit)
            self._apply_plan(plan, self._part_roles(self._plan_ids(plan)), self._page_of)

    def _page_of(self, pid: str) -> Any:
        """The page part an inheriting attachment takes its identity from, as a full build's merges
        leave it: its own version (new or never joined), the version it became when its numbers were
        kept, else the earlier part as it was."""
        if pid in self.merging:
            return self.merging[pid]
        own = version_store.get(self.db, pid)
        if own is not None:
            return own
        part = build_state.read_part(self.db, pid)
        v = version_store.get(self.db, part.version_id) if part is not None else None
        return v if v is not None and v.digest == part.digest else part

    def _drop_chains(self) -> None:
        """Carry-chain results of the touched agencies' earlier versions go; finish() checks them again."""
        db = self.db
        self._temp_table("touched", "agency text primary key", rows=((a,) for a in sorted(self.touched)))
        ids = [r[0] for r in db.execute(f"select id from {version_store.TABLE} where ord <= ? and agency in "
                                        "(select agency from temp.touched) order by id", [self.old_order])]
        less = []
        for vid in ids:
            failed = db.execute("select count(*) from rule_results where version_id = ? and "
                                "other_version_id is not null and ok = 0", [vid]).fetchone()[0]
            db.conn.execute("delete from rule_results where version_id = ? and other_version_id is not null", [vid])
            if failed:
                less.append((failed, vid))
        version_store.update(db, "n_rule_failures = n_rule_failures - ?", less)

    def _chains_wanted(self, agency: str) -> bool:
        return agency in self.touched

    def _clear_metadata(self) -> None:
        """The metadata tables are rewritten whole (from the state in memory), in a full build's order."""
        for table in ("document_versions", "version_documents", "documents", "sources", "agencies"):
            self.db.conn.execute(f"delete from [{table}]")
        fts = "document_versions_fts"
        self.db.conn.execute(f"insert into [{fts}] ([{fts}]) values ('delete-all')")
