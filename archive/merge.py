"""One report, one version: applying archive/pairing.py's plan to the parts the build parsed.

A mixin of `archive.builder.ArchiveBuilder`: a page and the attachments holding its report become one
version (rows of the numbers part renamed, the others dropped, a page_attachment_mismatch finding
when two parts disagree).
"""

from __future__ import annotations

import json
from typing import Any

from nianbao.archive import build_state, pairing, search, version_store
from nianbao.archive.ids import document_key, stable_id
from nianbao.archive.schema import FTS
from nianbao.archive.version import Version


class MergeMixin:
    """Parts → versions (see archive/pairing.py)."""

    # -- one report, one version: a page and the attachment holding its report --------------------

    def _resolve_versions(self) -> None:
        """Turn parts (one per parsed payload) into versions: a page and the attachments that hold
        its report become one version (archive/pairing.py decides, independent of record order).

        Cells were streamed under each part's id: the numbers part's rows are renamed to the
        version's id, the other parts' rows dropped (their documents stay as captures and in
        `version_documents`); when two of them parse and disagree, a `page_attachment_mismatch`
        finding says which cells differ."""
        parts, captures = self._pairing_inputs()
        plan = pairing.plan(parts, captures)
        self.remap: dict[str, str] = {}  # part id -> version id
        if not plan.groups and not plan.inherit:
            return
        self._apply_plan(plan, self._part_roles(self._plan_ids(plan)), self._page_in_plan)

    def _pairing_inputs(self, max_rowid: int | None = None) -> tuple[dict[str, Any], list[dict]]:
        """What archive/pairing.plan reads, from the captures table (those up to `max_rowid`: the ones an
        earlier build had read): the captures of attachments with a parent URL and the captures at those
        parent URLs, each pointed at the part its payload was parsed as, and those parts. Only these
        can pair, so only they are read: memory follows the attachments, not the archive."""
        upto = "" if max_rowid is None else f" and c.rowid <= {int(max_rowid)}"
        cur = self.db.execute(
            "select c.id, c.url, c.fetched, c.role, c.parent_url, p.part_id, p.digest from captures c "
            "join build_parts p on p.digest = c.payload_digest where c.version_id is not null" + upto +
            " and ((c.role = 'attachment' and c.parent_url is not null and c.parent_url != '') or c.url in "
            "(select c.parent_url from captures c where c.role = 'attachment' and c.version_id is not null"
            + upto + ")) order by c.rowid")
        captures, digests = [], set()
        for cid, url, fetched, role, parent_url, part_id, digest in cur:
            captures.append({"id": cid, "url": url, "fetched": fetched, "role": role, "parent_url": parent_url,
                             "version_id": part_id})
            digests.add(digest)
        return build_state.read_parts(self.db, digests), captures

    @staticmethod
    def _plan_ids(plan: pairing.Plan) -> set[str]:
        return {p for g in plan.groups for p in g.parts} | set(plan.inherit) | set(plan.inherit.values())

    def _apply_plan(self, plan: pairing.Plan, roles: dict[str, str], page_of: Any) -> None:
        """Merge the plan's groups, give inheriting attachments their page's identity (`page_of`: part
        id -> the page part as the merges left it), and point captures at the versions.

        The versions the plan names are read from disk into `self.merging` (keyed by part id, as the
        merges leave them), changed there and written back."""
        remap = self.remap
        self.merging = {pid: v for pid in sorted(self._plan_ids(plan))
                        if (v := version_store.get(self.db, pid)) is not None}
        dropped: set[str] = set()
        for group in plan.groups:
            self._merge_group(group, roles, remap, dropped)
        for aid, pid in sorted(plan.inherit.items()):
            part, page = self.merging[aid], page_of(pid)
            fields = {f: getattr(part, f) or getattr(page, f) for f in pairing.IDENTITY_FIELDS}
            part.documents = [self._document_row(part, roles.get(part.id, "report"), numbers=1, identity=0),
                              self._document_row(page, roles.get(page.id, "report"), numbers=0, identity=1)]
            part.warnings.append(f"a later payload of an attachment of {page.url}: identity from that page")
            self._rename_part(part, fields, page.url, remap)
        version_store.delete(self.db, self.merging)
        version_store.put(self.db, (v for pid, v in self.merging.items() if pid not in dropped))
        self.merging = {}
        moved = sorted((old, new) for old, new in remap.items() if old != new)
        self._temp_table("remap", "old text primary key, new text", rows=moved)
        self.db.conn.execute("update captures set version_id = (select new from temp.remap where old = version_id) "
                             "where version_id in (select old from temp.remap)")

    def _page_in_plan(self, pid: str) -> Version:
        return self.merging[pid]

    def _part_roles(self, part_ids: set[str]) -> dict[str, str]:
        """Part id -> WARC role of its document: `attachment` if any capture was one, else `report` if
        any was (a role-less capture or a file counts as a report), else the first capture's
        (version_store.roles_select, over the captures of their payloads)."""
        digests = sorted(set(build_state.digests_of(self.db, part_ids)))
        if not digests:
            return {}
        self._temp_table("wanted", "digest text primary key", rows=((d,) for d in digests))
        return dict(self.db.execute(version_store.roles_select(
            "p.part_id", "c.version_id is not null and c.payload_digest in (select digest from temp.wanted)",
            joins="join build_parts p on p.digest = c.payload_digest")))

    @staticmethod
    def _document_row(part: Version, role: str, numbers: int, identity: int) -> tuple:
        return (part.capture_id, part.url, part.digest, role, part.status, part.n_cells, numbers, identity)

    def _merge_group(self, group: pairing.Group, roles: dict[str, str], remap: dict[str, str],
                     dropped: set[str]) -> None:
        parts = [self.merging[p] for p in group.parts]
        num = self.merging[group.numbers]
        page = self.merging[group.parts[0]]
        others = [p for p in parts if p is not num]
        _, fields = pairing.identity(page, [p for p in parts if p is not page])
        roles = {**roles, **group.roles}
        num.documents = [self._document_row(p, roles.get(p.id, "report"), numbers=int(p is num),
                                            identity=int(p.id == group.identity))
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

