"""The end of a build: version numbers, latest versions, carry chains, withdrawals, and the metadata
tables (document_versions, documents, version_documents, captures, sources, agencies, crawl runs).

A mixin of `archive.builder.ArchiveBuilder`; these are known only once every record was read.
"""

from __future__ import annotations

import itertools
import json
import logging
import operator
from collections.abc import Iterator

from nianbao.archive import build_state, findings, pairing, search, summary_store, version_store
from nianbao.archive.agencies import infer_level, split_region
from nianbao.archive.identity import normalize_agency
from nianbao.archive.parsing import USABLE
from nianbao.archive.schema import FTS
from nianbao.archive.version import Version, _chain_report
from nianbao.archive.withdrawals import crawl_runs

log = logging.getLogger("nianbao.archive.build")


class FinishMixin:
    """finish() and what it writes, reading the versions from disk (archive/version_store.py) in the
    order each step needs: memory stays what one document or one chunk of rows takes."""

    # -- the end: versions, documents, agencies, chains, withdrawals ---------------------------------
    def finish(self) -> dict:
        self.flush()  # every version on disk, as parts (build_parts) and as versions (version_store)
        self._resolve_versions()
        self._seen_from_captures()
        self._carry_chains_and_order()
        self.flush()
        self._withdraw()
        self._clear_metadata()
        self._write_roles()
        order = ("order by coalesce(nullif(v.agency, ''), char(65535)), coalesce(v.year, 0), v.document_key, "
                 "v.version")
        # Rows go to executemany as generators, never as whole lists (peak memory: bench/build.py).
        self._insert_many("document_versions", self._VERSION_COLUMNS, ((
            v.id, v.document_id, v.version, v.is_latest, v.agency, v.year, v.edition, v.status,
            v.title, v.published, v.url, v.source, v.digest, v.first_seen, v.last_seen,
            v.withdrawn_at, v.parser_version, v.capture_id, v.n_cells, v.n_rule_failures,
            json.dumps(v.warnings, ensure_ascii=False) if v.warnings else None,
        ) for v in version_store.stream(self.db, order)))
        fts = FTS["document_versions"]
        cur = self.db.conn.execute(f"select rowid, {', '.join(fts)} from document_versions order by rowid")
        while rows := cur.fetchmany(10000):  # in insertion (= `order`) order, a chunk at a time
            search.index_rows(self.db, "document_versions", fts, rows)
        self._insert_many("version_documents", self._VERSION_DOCUMENT_COLUMNS, (
            (v.id, *d) for v, role in version_store.stream_with(self.db, "r.role", "left join temp.version_roles r "
                                                              "on r.id = v.id " + order)
            for d in (v.documents or [self._document_row(v, role or "report", numbers=1, identity=1)])))
        self._insert_many("documents", self._DOCUMENT_COLUMNS, self._documents())
        self._write_sources_and_agencies()
        self._write_crawl_runs()
        self._write_state()
        n_documents, n_versions = self.db.execute(
            f"select count(distinct document_id), count(*) from {version_store.TABLE}").fetchone()
        return {"documents": n_documents, "versions": n_versions, "captures": self.n_captures}

    def _documents(self) -> Iterator[tuple]:
        """documents rows, each from its versions (read one document at a time), ordered by the agency
        and year of its first version."""
        self._temp_table("document_first", "document_id text primary key, agency text, year integer",
                         f"select document_id, agency, year from (select document_id, agency, year, min(ord) "
                         f"from {version_store.TABLE} group by document_id)")
        rows = version_store.stream_with(
            self.db, "f.agency, f.year",
            "join temp.document_first f on f.document_id = v.document_id order by "
            "coalesce(nullif(f.agency, ''), char(65535)), coalesce(f.year, 0), v.document_id, v.version")
        for doc_id, group in itertools.groupby(rows, key=lambda r: r[0].document_id):
            yield self._document(doc_id, [v for v, _, _ in group])

    def _seen_from_captures(self) -> None:
        """First and last seen of each version: the earliest and latest capture that showed it."""
        self._temp_table("version_seen", "id text primary key, first text, last text",
                         "select version_id, min(nullif(fetched, '')), max(nullif(fetched, '')) from captures "
                         "where version_id is not null group by version_id")
        self.db.conn.execute(
            f"update {version_store.TABLE} as v set first_seen = s.first, last_seen = s.last "
            "from temp.version_seen s where s.id = v.id")

    def _withdraw(self) -> None:
        """withdrawn_at of each version every URL of which (a capture's, or the page it was linked from)
        that a complete crawl listed was withdrawn since: the latest of those times."""
        if not summary_store.fill_withdrawals(self.db):
            return
        self._temp_table(
            "version_withdrawn", "id text primary key, at text",
            "select u.version_id, max(w.at) from (select version_id, url from captures where version_id is not null "
            "union all select version_id, parent_url from captures where version_id is not null and parent_url != '') "
            "u join temp.withdrawn_urls w on w.url = u.url group by u.version_id "
            "having min(coalesce(w.at, '') != '')")
        self.db.conn.execute(f"update {version_store.TABLE} as v set withdrawn_at = w.at "
                             "from temp.version_withdrawn w where w.id = v.id")

    def _write_roles(self) -> None:
        """temp.version_roles: the WARC role of each version's document (version_store.roles_select)."""
        self._temp_table("version_roles", "id text primary key, role text",
                         version_store.roles_select("c.version_id", "c.version_id is not null"))

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
    def _clear_metadata(self) -> None:
        """Make room for the metadata tables' rows (a full build starts from empty tables)."""

    def _write_state(self) -> None:
        """build_parts' versions, build_summaries and the counters (archive/build_state.py)."""
        self.db.conn.executemany("update build_parts set version_id = ? where part_id = ?",
                                 sorted((vid, pid) for pid, vid in self.remap.items()))
        build_state.write_state(self.db, {"section_id": self.section_id, "order": self.order,
                                          "n_summaries": self.n_summaries})

    # carry-chain rule rows written at least this often (~6 MB of tuples; with the cells' batch_size,
    # 200,000 rows or 58 MB, finish() at 100k held 82 MB of Python objects at its peak)
    CHAIN_BATCH = 20000

    def _chains_wanted(self, agency: str) -> bool:
        """Whether this build (re)checks the agency's carry chains (all of them, in a full build)."""
        return True

    def _carry_chains_and_order(self) -> None:
        """Version numbers and the latest version of each document (read a document at a time), then
        the carry chain of each agency's consecutive years (read in agency, year order)."""
        cur = self.db.conn.execute(f"select id, document_id, status from {version_store.TABLE} "
                                   "order by document_id, coalesce(first_seen, ''), ord")
        numbered: list[tuple] = []
        for _doc, group in itertools.groupby(cur, key=operator.itemgetter(1)):
            vs = list(group)
            # the latest usable version (tables read), else the latest report, else the latest
            # document: junk (a not-found or challenge page) never hides a report the URL served
            usable = [v for v in vs if v[2] in USABLE]
            reports = usable or [v for v in vs if v[2] in pairing.REPORTISH]
            latest = (reports or vs)[-1][0]
            numbered.extend((i, int(v[0] == latest), v[0]) for i, v in enumerate(vs, 1))
            if len(numbered) >= 10000:
                version_store.update(self.db, "version = ?, is_latest = ?", numbered)
                numbered.clear()
        version_store.update(self.db, "version = ?, is_latest = ?", numbered)
        prev: Version | None = None
        for cur_v in version_store.stream(self.db, "where v.is_latest = 1 and coalesce(v.agency, '') != '' "
                                          "and coalesce(v.year, 0) != 0 order by v.agency, v.year"):
            before, prev = prev, cur_v
            if not self._chains_wanted(cur_v.agency):
                continue
            if not before or before.agency != cur_v.agency or before.year != cur_v.year - 1:
                continue
            if not before.chain or not cur_v.chain:
                continue
            try:
                checks = self.carry_chain(_chain_report(before), _chain_report(cur_v))
            except Exception as exc:
                log.warning("carry_chain failed for %s %s: %s", cur_v.agency, cur_v.year, exc)
                continue
            for check in checks or []:
                check = {**check, "rule": check.get("rule") or "carry_chain"}
                if not check.get("ok"):
                    check.update(findings.describe_chain(check, _chain_report(before), _chain_report(cur_v),
                                                         self.ocr_threshold))
                self._buffer_rule(cur_v.id, check, other_version_id=before.id)
            if len(self.buffers["rule_results"]) >= self.CHAIN_BATCH:
                self.flush()  # ~7 rows an agency-year: never the whole archive's at once
        version_store.update(self.db, "n_rule_failures = n_rule_failures + ?",
                             sorted((n, vid) for vid, n in self.failures_on_disk.items()))
        self.failures_on_disk.clear()

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
        sources = {r[0] for r in self.db.execute(f"select distinct source from {version_store.TABLE}") if r[0]}
        for src in sorted(sources - known):
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
        for agency, source in self.db.execute(f"select agency, source from {version_store.TABLE} "
                                              "where coalesce(agency, '') != '' order by ord"):
            if agency not in names:
                src = code_by_source.get(source or "") or {}
                names[agency] = {"source": None, "division_code": src.get("division_code")}
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
        """The crawl `runs` rows of the runs whose summaries this build read (their crawl_summaries rows
        were written as they were read), from every summary of each run in the table, a run at a time."""
        for run_id in sorted(self.crawl_run_ids):
            cur = self.db.execute("select * from crawl_summaries where run_id = ?", [run_id])
            names = [d[0] for d in cur.description]
            self.db["runs"].insert_all(crawl_runs([dict(zip(names, r)) for r in cur.fetchall()]), replace=True)

