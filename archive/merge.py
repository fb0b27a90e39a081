"""One report, one version: applying archive/pairing.py's plan to the parts the build parsed.

A mixin of `archive.builder.ArchiveBuilder`: a page and the attachments holding its report become one
version (rows of the numbers part renamed, the others dropped, a page_attachment_mismatch finding
when two parts disagree).
"""

from __future__ import annotations

import json
from typing import Any

from nianbao.archive import pairing, search
from nianbao.archive.ids import document_key, stable_id
from nianbao.archive.schema import FTS
from nianbao.archive.version import Version, _earlier, _later


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
        plan = pairing.plan(self.versions, self.captures)
        self.remap: dict[str, str] = {}  # part id -> version id
        if not plan.groups and not plan.inherit:
            return
        self._apply_plan(plan, self._part_roles(), self.versions.__getitem__)

    def _apply_plan(self, plan: pairing.Plan, roles: dict[str, str], page_of: Any) -> None:
        """Merge the plan's groups, give inheriting attachments their page's identity (`page_of`: part
        id -> the page part as the merges left it), and point captures at the versions."""
        remap = self.remap
        dropped: set[str] = set()
        for group in plan.groups:
            self._merge_group(group, roles, remap, dropped)
        for aid, pid in sorted(plan.inherit.items()):
            part, page = self.versions[aid], page_of(pid)
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

