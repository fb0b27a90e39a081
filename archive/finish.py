"""The end of a build: version numbers, latest versions, carry chains, withdrawals, and the metadata
tables (document_versions, documents, version_documents, captures, sources, agencies, crawl runs).

A mixin of `archive.builder.ArchiveBuilder`; these are known only once every record was read.
"""

from __future__ import annotations

import json
import logging

from nianbao.archive import build_state, findings, pairing, search
from nianbao.archive.agencies import infer_level, split_region
from nianbao.archive.identity import normalize_agency
from nianbao.archive.parsing import USABLE
from nianbao.archive.schema import FTS
from nianbao.archive.version import Version, _chain_report
from nianbao.archive.withdrawals import crawl_rows, withdrawals

log = logging.getLogger("nianbao.archive.build")


class FinishMixin:
    """finish() and what it writes."""

    # -- the end: versions, documents, agencies, chains, withdrawals ---------------------------------
    def finish(self) -> dict:
        self.flush()
        # the parts as parsed, before pairing joins them (build_parts: what the next build adds to),
        # each under its own id until _write_state() names the version it ended in
        build_state.write_parts(self.db, (build_state.part_row(v) for v in self.versions.values()
                                          if self._is_new(v.id)), {})
        self._resolve_versions()
        self._carry_chains_and_order()
        self.flush()
        withdrawn = withdrawals(self.summaries)
        self._clear_metadata()
        docs: dict[str, list[Version]] = {}
        for v in self.versions.values():
            docs.setdefault(v.document_id, []).append(v)
        for vs in docs.values():
            for v in vs:
                listed = [withdrawn.get(u) for u in v.urls if u in withdrawn]
                if listed and all(listed):
                    v.withdrawn_at = max(listed)
        ordered = sorted(self.versions.values(),
                         key=lambda v: (v.agency or "\uffff", v.year or 0, v.document_key, v.version))
        # Rows go to executemany as generators, never as whole lists (peak memory: bench/build.py).
        self._insert_many("document_versions", self._VERSION_COLUMNS, ((
            v.id, v.document_id, v.version, v.is_latest, v.agency, v.year, v.edition, v.status,
            v.title, v.published, v.url, v.source, v.digest, v.first_seen, v.last_seen,
            v.withdrawn_at, v.parser_version, v.capture_id, v.n_cells, v.n_rule_failures,
            json.dumps(v.warnings, ensure_ascii=False) if v.warnings else None,
        ) for v in ordered))
        fts = FTS["document_versions"]
        cur = self.db.conn.execute(f"select rowid, {', '.join(fts)} from document_versions order by rowid")
        while rows := cur.fetchmany(10000):  # in insertion (= `ordered`) order, a chunk at a time
            search.index_rows(self.db, "document_versions", fts, rows)
        roles = self._part_roles()
        self._insert_many("version_documents", self._VERSION_DOCUMENT_COLUMNS, (
            (v.id, *d) for v in ordered
            for d in (v.documents or [self._document_row(v, roles, numbers=1, identity=1)])))
        self._insert_many("documents", self._DOCUMENT_COLUMNS, (
            self._document(doc_id, docs[doc_id])
            for doc_id in sorted(docs, key=lambda d: (docs[d][0].agency or "\uffff", docs[d][0].year or 0, d))))
        self._update_moved_captures()
        self._write_sources_and_agencies()
        self._write_crawl_runs()
        self._write_state()
        return {"documents": len(docs), "versions": len(self.versions),
                "captures": self.n_captures}

    @staticmethod
    def _document(doc_id: str, versions: list[Version]) -> tuple:
        """A documents row from its versions."""
        vs = sorted(versions, key=lambda v: v.version)
        latest = next(v for v in vs if v.is_latest)
        return (
            doc_id, vs[0].agency, vs[0].year, vs[0].document_key, vs[0].url,
            min((v.first_seen for v in vs if v.first_seen), default=None),
            max((v.last_seen for v in vs if v.last_seen), default=None),
            latest.withdrawn_at if all(v.withdrawn_at for v in vs) else None,
            len(vs), latest.id,
        )

    # -- hooks an incremental build (archive/incremental.py) replaces ----------------------------------
    def _is_new(self, version_id: str) -> bool:
        """Whether a version in memory was parsed by this build (every one, in a full build)."""
        return True

    def _clear_metadata(self) -> None:
        """Make room for the metadata tables' rows (a full build starts from empty tables)."""

    def _write_state(self) -> None:
        """build_parts' versions, build_summaries and the counters (archive/build_state.py)."""
        self.db.conn.executemany("update build_parts set version_id = ? where part_id = ?",
                                 sorted((vid, pid) for pid, vid in self.remap.items()))
        build_state.write_summaries(self.db, self.summaries[self.n_old_summaries:], self.n_old_summaries)
        build_state.write_state(self.db, {"section_id": self.section_id, "order": self.order,
                                          "n_summaries": len(self.summaries)})

    def _chains_wanted(self, agency: str) -> bool:
        """Whether this build (re)checks the agency's carry chains (all of them, in a full build)."""
        return True

    def _chain(self, v: Version) -> bytes | None:
        """The version's carried_over/forward cells, packed (kept in memory by a full build)."""
        return v.chain

    def _carry_chains_and_order(self) -> None:
        docs: dict[str, list[Version]] = {}
        for v in self.versions.values():
            docs.setdefault(v.document_id, []).append(v)
        latest_by_agency_year: dict[tuple[str, int], Version] = {}
        for vs in docs.values():
            vs.sort(key=lambda v: (v.first_seen or "", v.order))
            for i, v in enumerate(vs, 1):
                v.version = i
            # the latest usable version (tables read), else the latest report, else the latest
            # document: junk (a not-found or challenge page) never hides a report the URL served
            usable = [v for v in vs if v.status in USABLE]
            reports = usable or [v for v in vs if v.status in pairing.REPORTISH]
            latest = (reports or vs)[-1]
            latest.is_latest = 1
            if latest.agency and latest.year:
                latest_by_agency_year[(latest.agency, latest.year)] = latest
        for (agency, year), cur in sorted(latest_by_agency_year.items()):
            if not self._chains_wanted(agency):
                continue
            prev = latest_by_agency_year.get((agency, year - 1))
            if not prev or not self._chain(prev) or not self._chain(cur):
                continue
            try:
                checks = self.carry_chain(_chain_report(prev), _chain_report(cur))
            except Exception as exc:
                log.warning("carry_chain failed for %s %s: %s", agency, year, exc)
                continue
            for check in checks or []:
                check = {**check, "rule": check.get("rule") or "carry_chain"}
                if not check.get("ok"):
                    check.update(findings.describe_chain(check, _chain_report(prev), _chain_report(cur),
                                                         self.ocr_threshold))
                self._buffer_rule(cur.id, check, other_version_id=prev.id)
            if len(self.buffers["rule_results"]) >= self.batch_size:
                self.flush()  # ~7 rows an agency-year: never the whole archive's at once

    def _write_sources_and_agencies(self) -> None:
        rows = []
        for s in self.registry:
            rows.append({
                "name": s["name"], "agency": s.get("agency"), "region": s.get("region"),
                "division_code": str(s["division_code"]) if s.get("division_code") else None,
                "start_urls": json.dumps(list(s.get("start_urls") or []), ensure_ascii=False),
                "platform": s.get("platform"), "enabled": int(bool(s.get("enabled", True))),
                "frozen": int(bool(s.get("frozen", False))), "note": s.get("note"),
            })
        known = {r["name"] for r in rows}
        for src in sorted({v.source for v in self.versions.values() if v.source} - known):
            rows.append({"name": src, "note": "seen in WARCs, not in the registry"})
        if rows:
            self.db["sources"].insert_all(rows, replace=True, alter=False)
        # The registry's bodies under the name the archive keys reports by (normalised like them).
        registry_agency = {s["name"]: normalize_agency(s.get("agency"), s.get("region")) for s in rows}
        code_by_agency = {registry_agency[s["name"]]: s for s in rows if registry_agency[s["name"]]}
        code_by_source = {s["name"]: s for s in rows}
        names: dict[str, dict] = {}
        for s in rows:
            if registry_agency[s["name"]]:
                names.setdefault(registry_agency[s["name"]],
                                 {"source": s["name"], "division_code": s.get("division_code")})
        for v in sorted(self.versions.values(), key=lambda v: v.order):
            if v.agency and v.agency not in names:
                src = code_by_source.get(v.source or "") or {}
                names[v.agency] = {"source": None, "division_code": src.get("division_code")}
        agency_rows = []
        for name in sorted(names):
            info = names[name]
            reg = code_by_agency.get(name)
            code = info.get("division_code") or (reg or {}).get("division_code")
            level, rule = infer_level(name, code)
            province, city, county = split_region(name)
            agency_rows.append({"name": name, "division_code": code, "province": province, "city": city,
                                "county": county, "level": level, "level_rule": rule,
                                "source": info.get("source")})
        if agency_rows:
            self.db["agencies"].insert_all(agency_rows, replace=True)

    def _write_crawl_runs(self) -> None:
        rows, runs = crawl_rows(self.summaries)
        if runs:
            self.db["runs"].insert_all(runs, replace=True)
        if rows:
            self.db["crawl_summaries"].insert_all(rows, replace=True)

