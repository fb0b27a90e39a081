"""Incremental builds: add the WARC files written since the last build to a copy of the database.

The result is the database a full build of all the files would give (tests/archive/test_incremental.py
compares every table). That holds because a build is a fold over the records in file-name order:
the builder is put back in the state the last build ended in (versions, captures, summaries, the
record and section counters, the parts before pairing: archive/build_state.py), the new records are
fed exactly as a full build feeds them, and `finish()` redoes what depends on the whole archive —
version numbers, latest versions, withdrawals, the metadata tables — in memory from that state, while
the large tables (cells, rules, sections) are only added to. Carry chains are re-checked only for the
agencies whose documents changed.

When the new records could make an earlier decision come out differently, the build says why and a
full build runs instead (`IncrementalUnsafe`): a new file that sorts before one already read, a file
read before that changed or vanished, another parser/schema/registry (`build_state.signature`), or
a pairing of parts (archive/pairing.py) that is no longer what the last build merged — e.g. a new
payload of an attachment whose page was already joined with an earlier payload of it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from nianbao.archive import build_state, pairing
from nianbao.archive.builder import ArchiveBuilder
from nianbao.archive.version import Version
from nianbao.archive.withdrawals import crawl_rows, crawl_runs

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


@dataclass(slots=True)
class Part:
    """An earlier build's part (archive/pairing.Part) as build_parts keeps it."""

    id: str
    version_id: str
    order: int
    status: str
    agency: str | None
    year: int | None
    title: str | None
    published: str | None
    url: str
    digest: str
    n_cells: int
    capture_id: str
    sections: tuple
    chain: bytes | None


class IncrementalBuilder(ArchiveBuilder):
    """An ArchiveBuilder resumed from the database an earlier build wrote (a copy: see build.py)."""

    def __init__(self, db: sqlite_utils.Database, *args: Any, **kwargs: Any):
        super().__init__(db, *args, **kwargs)
        self._load()

    # -- the state the last build ended in ---------------------------------------------------------
    def _load(self) -> None:
        db = self.db
        state = build_state.read_state(db)
        self.section_id = int(state["section_id"])
        self.order = self.old_order = int(state["order"])
        self.old_parts: dict[str, Part] = {}
        self.part_of_digest: dict[str, str] = {}
        for r in db.execute("select part_id, version_id, ord, status, agency, year, title, published, url, digest, "
                            "n_cells, capture_id, sections_lo, sections_hi, chain from build_parts"):
            p = Part(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], (r[12], r[13]), r[14])
            self.old_parts[p.id] = p
            self.part_of_digest[p.digest] = p.id
            self.by_digest[p.digest] = p.version_id
        order_of: dict[str, int] = {}
        for p in self.old_parts.values():
            if p.version_id not in order_of or p.order < order_of[p.version_id]:
                order_of[p.version_id] = p.order
        keys = dict(db.execute("select id, key from documents").fetchall())
        merged: dict[str, list[tuple]] = {}
        for r in db.execute("select version_id, capture_id, url, payload_digest, role, status, n_cells, numbers, "
                            "identity from version_documents where version_id in (select version_id from "
                            "version_documents group by version_id having count(*) > 1) order by version_id, "
                            "payload_digest"):
            merged.setdefault(r[0], []).append(tuple(r[1:]))
        for r in db.execute("select id, document_id, agency, year, edition, status, title, published, url, source, "
                            "payload_digest, first_seen, last_seen, parser_version, capture_id, n_cells, "
                            "n_rule_failures, warnings from document_versions"):
            num = self.old_parts[self.part_of_digest[r[10]]]
            v = Version(id=r[0], document_id=r[1], document_key=keys[r[1]], agency=r[2], year=r[3], edition=r[4],
                        status=r[5], title=r[6], published=r[7], url=r[8], source=r[9], digest=r[10],
                        first_seen=r[11], last_seen=r[12], parser_version=r[13], capture_id=r[14],
                        order=order_of[r[0]], n_cells=r[15], n_rule_failures=r[16],
                        warnings=json.loads(r[17]) if r[17] else [], sections=num.sections)
            v.documents = merged.get(r[0])  # a joined version's documents, as the merge wrote them
            self.versions[v.id] = v
        cols = self.CAPTURE_KEPT  # the captures of a version, as a full build keeps them
        for r in db.execute(f"select {', '.join(cols)} from captures where version_id is not null "
                            f"order by warc_file, warc_offset"):
            c = dict(zip(cols, r))
            self.captures.append(c)
            self.written_versions.append(c["version_id"])
            v = self.versions.get(c["version_id"] or "")
            if v is not None:
                v.urls.add(c["url"])
                if c["parent_url"]:
                    v.urls.add(c["parent_url"])
        self.n_old_captures = len(self.captures)
        self.n_captures = db.execute("select count(*) from captures").fetchone()[0]
        self.summaries = build_state.read_summaries(db)
        self.n_old_summaries = len(self.summaries)
        self.touched: set[str] = set()

    # -- finish(): what the new records change -----------------------------------------------------
    def _is_new(self, version_id: str) -> bool:
        return self.versions[version_id].order > self.old_order

    def _resolve_versions(self) -> None:
        """Pair as a full build would over every part, earlier and new; apply only what is new.

        An earlier part that a merge had already joined (or an attachment that inherited its page's
        identity) has no Version of its own any more: if the plan over all parts treats it
        differently from the plan the last build applied, the build cannot be incremental."""
        self.remap = {}
        new = {vid: v for vid, v in self.versions.items() if v.order > self.old_order}
        parts: dict[str, Any] = {**self.old_parts, **new}
        part_of = {**self.part_of_digest, **{v.digest: vid for vid, v in new.items()}}

        def by_part(caps: list[dict]) -> list[dict]:
            out = []
            for c in caps:
                pid = part_of.get(c.get("payload_digest") or "") if c.get("version_id") else None
                if pid is not None:
                    out.append({**c, "version_id": pid})
            return out

        old_caps = by_part(self.captures[:self.n_old_captures])
        all_caps = old_caps + by_part(self.captures[self.n_old_captures:])
        before = pairing.plan(self.old_parts, old_caps)
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
        for pid in [p for g in groups for p in g.parts] + list(inherit) + list(new):
            agency = getattr(parts[pid], "agency", None)
            if agency:
                self.touched.add(agency)
        self._drop_chains()
        if groups or inherit:
            roles: dict[str, str] = {}
            for c in all_caps:  # _part_roles over the captures as the parts had them
                vid = c["version_id"]
                if roles.get(vid) != "attachment":
                    role = c.get("role") or "report"
                    if vid not in roles or role in ("attachment", "report"):
                        roles[vid] = role
            self._apply_plan(pairing.Plan(groups, inherit), roles, self._page_of)

    def _page_of(self, pid: str) -> Any:
        """The page part an inheriting attachment takes its identity from, as a full build's merges
        leave it: its own Version (new or never joined), the version it became when its numbers were
        kept, else the earlier part as it was."""
        if pid in self.versions:
            return self.versions[pid]
        part = self.old_parts[pid]
        v = self.versions.get(part.version_id)
        return v if v is not None and v.digest == part.digest else part

    def _drop_chains(self) -> None:
        """Carry-chain results of the touched agencies' earlier versions go; finish() checks them again."""
        for v in self.versions.values():
            if v.agency not in self.touched or v.order > self.old_order:
                continue
            failed = self.db.execute("select count(*) from rule_results where version_id = ? and "
                                     "other_version_id is not null and ok = 0", [v.id]).fetchone()[0]
            self.db.conn.execute("delete from rule_results where version_id = ? and other_version_id is not null",
                                 [v.id])
            v.n_rule_failures -= failed

    def _chains_wanted(self, agency: str) -> bool:
        return agency in self.touched

    def _chain(self, v: Version) -> bytes | None:
        if v.chain is None and v.order <= self.old_order:
            part = self.old_parts.get(self.part_of_digest.get(v.digest, ""))
            v.chain = part.chain if part is not None else None
        return v.chain

    def _clear_metadata(self) -> None:
        """The metadata tables are rewritten whole (from the state in memory), in a full build's order."""
        for table in ("document_versions", "version_documents", "documents", "sources", "agencies"):
            self.db.conn.execute(f"delete from [{table}]")
        fts = "document_versions_fts"
        self.db.conn.execute(f"insert into [{fts}] ([{fts}]) values ('delete-all')")

    def _write_crawl_runs(self) -> None:
        rows, _ = crawl_rows(self.summaries[self.n_old_summaries:])
        if not rows:
            return
        self.db["crawl_summaries"].insert_all(rows, replace=True)
        run_ids = sorted({r["run_id"] for r in rows})
        marks = ", ".join("?" for _ in run_ids)
        cur = self.db.execute(f"select * from crawl_summaries where run_id in ({marks})", run_ids)
        names = [d[0] for d in cur.description]
        runs = crawl_runs([dict(zip(names, r)) for r in cur.fetchall()])
        self.db["runs"].insert_all(runs, replace=True)


