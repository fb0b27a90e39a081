"""A synthetic archive following docs/schema.md, for bench/serve.py, bench/hostile.py and the archive tests.

Rows are inserted directly (sqlite3 executemany on the tables `archive.schema` declares), not parsed
from pages: 100,000 reports through the parser would take far longer than a benchmark should, and the
tests need known findings. Everything the generator knows of the template, the rules and the WARC
format is the product's own, never restated here: the template's keys (`parsers.keys`), the rules
(`parsers.checks.run_checks` and `check_carry_chain`, whose results become `rule_results`), the report
page (`parsers.render.render_report`, whose bytes give the version id as a crawl's would), the deadlines
(`nianbao.deadlines`) and, with `warc_dir`, the crawler's WARC writer (`crawler.warc.WarcRecorder`).

It plants, deterministically from a seed: reports that don't add up (outcomes_sum / row_total /
appeals_total failures), carry-over chains that break between years, documents edited after
publication (two versions whose numbers differ), agency × year gaps and late publications, and section
texts with and without 复议 / 收费. With `warc_dir`, every capture is a response record holding its
rendered page, one capture is a revisit, and one archived page carries a script that must not run.

A generator for benchmarks and tests, so it lives in bench/ (not in the installed package).

Why one module of ~450 lines: it is one generator. `build` plants findings across tables that must agree with
each other (versions, cells, rule results, coverage, WARC captures), so the helpers it calls share its planted
state. Its knowledge of the template, the rules and the WARC format is imported, not restated.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from nianbao.archive.ids import payload_digest, stable_id
from nianbao.archive.lookups import write_lookups
from nianbao.archive.schema import FTS, create_indexes, create_tables
from nianbao.archive.search import enable_fts, fill_section_search, index_rows
from nianbao.archive.totals import fill_report_totals
from nianbao.deadlines import deadline
from nianbao.parsers.checks import check_carry_chain, run_checks
from nianbao.parsers.keys import (
    active_cells,
    appeal_outcomes,
    appeal_procedures,
    applicant_columns,
    request_columns,
    request_rows,
    result_rows,
    section_titles,
)
from nianbao.parsers.render import render_report
from nianbao.parsers.template import edition_for_year
from nianbao.parsers.values import measure_kind

YEARS = [2019, 2020, 2021, 2022, 2023]
HTML = "text/html; charset=utf-8"
# the position of each table in the stored cells (0-based page table index, first data row, first value col)
POSITION = {"active": (1, 1, 1), "requests": (2, 3, 1), "appeals": (3, 2, 0)}
PROVINCES = {
    "河南省": ["郑州市", "洛阳市", "开封市"], "浙江省": ["杭州市", "宁波市", "温州市"],
    "广东省": ["广州市", "深圳市", "佛山市"], "四川省": ["成都市", "绵阳市"], "江苏省": ["南京市", "苏州市"],
}
DEPARTMENTS = ["人民政府", "教育局", "公安局", "财政局", "自然资源和规划局", "生态环境局", "住房和城乡建设局",
               "交通运输局", "卫生健康委员会", "市场监督管理局", "人力资源和社会保障局", "民政局", "司法局", "水利局"]


@dataclass
class Planted:
    """What the generator deliberately put in, so tests can assert exact answers."""

    versions_with_fuyi: set[str] = field(default_factory=set)      # latest versions whose sections say 复议
    versions_with_shoufei: set[str] = field(default_factory=set)
    sections_with_fuyi: set[int] = field(default_factory=set)
    rule_failures: set[tuple[str, str, str]] = field(default_factory=set)  # (version_id, rule, scope)
    carry_breaks: set[tuple[str, int]] = field(default_factory=set)       # (agency, year)
    edited_documents: set[str] = field(default_factory=set)
    missing: set[tuple[str, int]] = field(default_factory=set)
    late: set[tuple[str, int]] = field(default_factory=set)
    script_capture_id: str | None = None
    revisit_capture_id: str | None = None
    capture_ids: list[str] = field(default_factory=list)
    received_by_year: dict[int, int] = field(default_factory=dict)  # sum of new_received total, latest versions
    n_reports: int = 0


def _agencies(n: int, rng: random.Random) -> list[dict]:
    out = []
    seen: set[str] = set()
    provinces = list(PROVINCES)
    i = 0
    while len(out) < n:
        province = provinces[i % len(provinces)]
        city = PROVINCES[province][(i // len(provinces)) % len(PROVINCES[province])]
        dept = DEPARTMENTS[(i // 13) % len(DEPARTMENTS)]
        serial = i // (13 * len(DEPARTMENTS))
        district = f"第{serial + 1}区" if serial else ""
        level = "prefecture" if dept == "人民政府" and not district else (
            "county" if dept == "人民政府" else "department")
        name = f"{province}{city}{district}{dept}"
        if name not in seen:
            seen.add(name)
            out.append({"name": name, "division_code": None, "province": province, "city": city,
                        "county": district or None, "level": level, "level_rule": "synthetic",
                        "source": None})
        i += 1
    return out


def _requests_grid(edition: str, carried_over: list[int], rng: random.Random) -> dict[str, list[int]]:
    """A consistent table 3, row -> values in `request_columns()` order: per applicant column, then the
    total column as the row sums."""
    columns, applicants = request_columns(), applicant_columns()
    grid: dict[str, list[int]] = {row: [0] * len(columns) for row in request_rows(edition)}
    results = result_rows(edition)
    for c in range(len(applicants)):
        scale = 40 if c == 0 else 6
        new = int(rng.expovariate(1 / scale)) if rng.random() < (0.95 if c == 0 else 0.4) else 0
        co = carried_over[c]
        forward = int((new + co) * rng.uniform(0, 0.1))
        handled = new + co - forward
        weights = [rng.random() ** 3 for _ in results]
        weights[0] += 2.0
        weights[results.index("unavailable_not_held")] += 0.8
        total_w = sum(weights)
        counts = [int(handled * w / total_w) for w in weights]
        counts[0] += handled - sum(counts)
        grid["new_received"][c] = new
        grid["carried_over"][c] = co
        for row, k in zip(results, counts):
            grid[row][c] = k
        grid["total"][c] = handled
        grid["carried_forward"][c] = forward
    total = columns.index("total")
    for row in grid:
        grid[row][total] = sum(grid[row][c] for c in range(len(columns)) if c != total)
    return grid


def _appeals(rng: random.Random) -> dict[str, dict[str, int]]:
    """Table 4, procedure -> outcome -> count, totals consistent."""
    outcomes = appeal_outcomes()
    parts = [o for o in outcomes if o != "total"]
    appeals = {p: {o: 0 for o in outcomes} for p in appeal_procedures()}
    for p in appeals:
        if rng.random() < (0.3 if p == "review" else 0.15):
            appeals[p]["upheld"] = rng.randint(0, 6)
            appeals[p]["corrected"] = rng.randint(0, 2)
            appeals[p]["pending"] = rng.randint(0, 2)
        appeals[p]["total"] = sum(appeals[p][o] for o in parts)
    return appeals


def _active(edition: str, rng: random.Random) -> list[dict[str, Any]]:
    """Table 2's cells in template order: counts, signed changes, money with two decimals."""
    out = []
    table, r0, c0 = POSITION["active"]
    for i, (row, measure) in enumerate(active_cells(edition)):
        kind = measure_kind(measure)
        value: int | float = round(rng.uniform(0, 500), 2) if kind.startswith("money") else \
            rng.randint(-5, 20) if kind == "signed" else rng.randint(0, 60)
        out.append({"row": row, "measure": measure, "value": value, "raw": str(value),
                    "position": {"table": table, "row": r0 + i, "col": c0}})
    return out


def _report(agency: str, year: int, edition: str, published: date, grid: dict[str, list[int]],
            appeals: dict[str, dict[str, int]], active: list[dict], sections: list[tuple[int, str, str]]) -> dict:
    """The canonical report (parsers' shape) of one version: what the renderer draws and the rules check."""
    t, r0, c0 = POSITION["requests"]
    rows = request_rows(edition)
    requests = [{"row": row, "column": col, "value": grid[row][c], "raw": str(grid[row][c]),
                 "position": {"table": t, "row": r0 + rows.index(row), "col": c0 + c}}
                for row in rows for c, col in enumerate(request_columns())]
    t, r0, c0 = POSITION["appeals"]
    outcomes = appeal_outcomes()
    appeal_cells = [{"procedure": p, "outcome": o, "value": appeals[p][o], "raw": str(appeals[p][o]),
                     "position": {"table": t, "row": r0, "col": c0 + p_i * len(outcomes) + o_i}}
                    for p_i, p in enumerate(appeal_procedures()) for o_i, o in enumerate(outcomes)]
    return {"title": f"{agency}{year}年政府信息公开工作年度报告", "agency": agency, "year": year,
            "edition": edition, "status": "parsed", "published": published.isoformat(), "active": active,
            "requests": requests, "appeals": appeal_cells,
            "sections": [{"number": n, "heading": h, "text": text} for n, h, text in sections]}


def _sections(agency: str, year: int, review: int, fees: bool, rng: random.Random) -> list[tuple[int, str, str]]:
    texts = {
        1: f"{year}年，{agency}深入贯彻《中华人民共和国政府信息公开条例》，坚持以公开为常态、不公开为例外，"
           f"全面推进决策、执行、管理、服务、结果公开。",
        2: f"{year}年度{agency}通过门户网站主动公开政府信息{rng.randint(20, 900)}条。"
           + ("本年度未收取信息处理费，无行政事业性收费项目。" if fees else ""),
        3: f"{year}年共收到政府信息公开申请，均按法定时限答复。",
        4: (f"本年度因政府信息公开申请引起行政复议{review}件，已全部依法办理。" if review
            else "本年度未发生因政府信息公开引起的行政诉讼。"),
        5: "存在的主要问题：公开内容不够全面，解读形式单一。改进措施：加强培训，完善制度。",
        6: "无其他需要报告的事项。",
    }
    titles = section_titles()
    return [(n, titles[n], texts[n]) for n in sorted(texts)]


EVIL_SCRIPT = ("<p id=\"marker\">原始页面 original page</p>"
               "<script>document.getElementById('marker').textContent='SCRIPT RAN';"
               "document.title='PWNED';fetch('/-/pwned?from=archived-page');</script>")


def render_page(report: dict, script: bool = False) -> bytes:
    """The report's page as the product's renderer draws it; `script` adds one that must never run
    when the archived original is shown."""
    page = render_report(report, style="plain")
    if script:
        page = page.replace("</body>", EVIL_SCRIPT + "</body>", 1)
    return page.encode("utf-8")


def _rule_row(vid: str, check: dict, other: str | None = None) -> tuple:
    """A parsers.checks result as a `rule_results` row (blank cells read as 0 flagged as the build does)."""
    return (vid, check["rule"], str(check["scope"]), int(bool(check["ok"])), check["expected"], check["actual"],
            int(bool(check.get("blank_as_zero"))), None, other)


class _WarcSink:
    """The crawler's WARC writer (crawler.warc.WarcRecorder) fed Scrapy responses, remembering where each
    record lands (offset, length) as the build's captures do."""

    def __init__(self, directory: Path):
        from nianbao.crawler.warc import WarcRecorder

        self.recorder = WarcRecorder(directory, "synthetic", "synthetic", {"software": "bench/synthetic.py"})

    @property
    def name(self) -> str:
        return self.recorder.filename

    @staticmethod
    def _response(url: str, body: bytes, status: int = 200) -> Any:
        from scrapy.http import HtmlResponse

        return HtmlResponse(url, status=status, headers={"Content-Type": HTML}, body=body)

    def _placed(self, write) -> tuple[int, int, Any]:
        start = self.recorder.path.stat().st_size
        result = write()
        return start, self.recorder.path.stat().st_size - start, result

    def response(self, url: str, body: bytes) -> tuple[int, int, str, str]:
        """(offset, length, record id, WARC-Date) of a response record."""
        off, ln, (rid, when) = self._placed(lambda: self.recorder.write_response(self._response(url, body), "report"))
        return off, ln, rid, when

    def revisit(self, url: str, digest: str, refers_to: str, refers_date: str) -> tuple[int, int, str]:
        """(offset, length, record id) of an identical-payload-digest revisit of `refers_to`."""
        refers = {"record_id": refers_to, "url": url, "date": refers_date}
        off, ln, rid = self._placed(lambda: self.recorder.write_revisit(
            self._response(url, b""), "report", digest, refers))
        return off, ln, rid

    def close(self) -> None:
        self.recorder.close()


def build(db_path: Path, n_reports: int, warc_dir: Path | None = None, seed: int = 0,
          batch: int = 2000) -> Planted:
    """Create `db_path` (replacing it) with about `n_reports` latest reports; return what was planted."""
    rng = random.Random(seed)
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if db_path.exists():
        db_path.unlink()
    db = sqlite_utils.Database(db_path)
    db.conn.execute("pragma journal_mode = off")
    db.conn.execute("pragma synchronous = off")
    db.conn.execute("pragma cache_size = -1000000")  # 1 GB: primary keys of 17M cells stay in memory
    db.conn.execute("pragma temp_store = memory")
    create_tables(db, indexes=False)  # indexes after the bulk load, as the archive build does
    for table, columns in FTS.items():
        enable_fts(db, table, columns)
    write_lookups(db)  # the template's labels, as the build writes them
    planted = Planted()
    n_agencies = max(2, round(n_reports / (len(YEARS) * 0.9)) + 5)  # enough for the gaps
    agencies = _agencies(n_agencies, rng)
    db["agencies"].insert_all(agencies, replace=True)
    db["sources"].insert({"name": "synthetic", "agency": "synthetic", "enabled": 1, "frozen": 0,
                          "note": "generated by bench/synthetic.py"}, replace=True)
    sink = _WarcSink(Path(warc_dir)) if warc_dir else None
    buffers: dict[str, list[tuple]] = {t: [] for t in (
        "captures", "documents", "document_versions", "requests", "appeals", "active_disclosure",
        "sections", "rule_results")}
    fts_rows: dict[str, list[tuple]] = {"sections": [], "document_versions": []}
    section_id = 0
    made = 0
    version_rowid = 0

    def flush() -> None:
        for table, rows in buffers.items():
            if rows:
                marks = ",".join("?" * len(rows[0]))
                # the table's leading columns: later nullable ones (e.g. the cells' OCR provenance) stay null
                cols = ",".join(f"[{c.name}]" for c in db[table].columns[:len(rows[0])])
                db.conn.executemany(f"insert into [{table}] ({cols}) values ({marks})", rows)
                rows.clear()
        index_rows(db, "sections", FTS["sections"], fts_rows["sections"])
        index_rows(db, "document_versions", FTS["document_versions"], fts_rows["document_versions"])
        fts_rows["sections"].clear()
        fts_rows["document_versions"].clear()

    columns = request_columns()
    total_col = columns.index("total")
    for agency in agencies:
        if made >= n_reports:
            break
        name = agency["name"]
        prev_forward = [0] * len(columns)
        prev_report: dict | None = None
        prev_version: str | None = None
        for year in YEARS:
            if made >= n_reports:
                break
            if rng.random() < 0.07:
                planted.missing.add((name, year))
                prev_version = prev_report = None
                continue
            edition = edition_for_year(year)  # the template data's first_year: 2019 until 2020, then 2021
            carried = list(prev_forward)
            chain_break = prev_version is not None and rng.random() < 0.05
            if chain_break:
                carried[0] += rng.randint(1, 5)
            grid = _requests_grid(edition, carried, rng)
            appeals = _appeals(rng)
            # Planted arithmetic errors: published numbers that don't add up.
            if rng.random() < 0.04:
                grid["granted"][total_col] += rng.randint(1, 9)  # outcomes_sum + row_total on the total column
            if rng.random() < 0.02:
                appeals["review"]["total"] += 1
            due = deadline(agency["level"], year)
            late = rng.random() < 0.06
            published = due + timedelta(days=rng.randint(1, 90)) if late else due - timedelta(days=rng.randint(0, 40))
            if late:
                planted.late.add((name, year))
            doc_id = stable_id("doc", name, year)
            url = f"http://127.0.0.1/gov/{doc_id}.html"
            title = f"{name}{year}年政府信息公开工作年度报告"
            review = appeals["review"]["total"]
            fees = rng.random() < 0.3
            sections = _sections(name, year, review, fees, rng)
            active = _active(edition, rng)
            edited = rng.random() < 0.04
            versions = [grid]
            if edited:
                old = {k: list(v) for k, v in grid.items()}
                for row in ("new_received", "granted", "total"):  # first published with 3 more
                    old[row][0] += 3
                    old[row][total_col] += 3
                versions = [old, grid]
                planted.edited_documents.add(doc_id)
            fetched_base = f"{published.isoformat()}T08:00:00Z"
            version_ids = []
            report: dict = {}
            for vi, g in enumerate(versions, start=1):
                is_latest = int(vi == len(versions))
                report = _report(name, year, edition, published, g, appeals, active, sections)
                script = sink is not None and planted.script_capture_id is None and is_latest
                body = render_page(report, script=script)
                digest = payload_digest(body)
                vid = stable_id(doc_id, digest)
                version_ids.append(vid)
                fetched = fetched_base if vi == 1 else f"{(published + timedelta(days=30)).isoformat()}T08:00:00Z"
                offset = length = record_id = record_date = None
                warc_file = None
                if sink:
                    offset, length, record_id, record_date = sink.response(url, body)
                    warc_file = sink.name
                cap_id = stable_id(warc_file or "synthetic.warc.gz", offset if offset is not None else vid)
                if script:
                    planted.script_capture_id = cap_id
                planted.capture_ids.append(cap_id)
                checks = [_rule_row(vid, c) for c in run_checks(report)]
                if is_latest and prev_report is not None:
                    checks += [_rule_row(vid, c, prev_version) for c in check_carry_chain(prev_report, report)]
                failures = [c for c in checks if not c[3]]
                buffers["captures"].append((
                    cap_id, url, fetched, "response", "report", "synthetic", None, 200,
                    HTML, digest, None, None, warc_file, offset, length, record_id, vid))
                version_rowid += 1
                n_cells = len(report["active"]) + len(report["requests"]) + len(report["appeals"])
                buffers["document_versions"].append((
                    vid, doc_id, vi, is_latest, name, year, edition, "parsed", title, published.isoformat(),
                    url, "synthetic", digest, fetched, fetched, None, "synthetic", cap_id,
                    n_cells, len(failures), "[]"))
                fts_rows["document_versions"].append((version_rowid, title, name))
                for key, table, a, b in (("active", "active_disclosure", "row", "measure"),
                                         ("requests", "requests", "row", "column"),
                                         ("appeals", "appeals", "procedure", "outcome")):
                    buffers[table] += [(vid, c[a], c[b], c["value"], c["raw"], None, c["position"]["table"],
                                        c["position"]["row"], c["position"]["col"]) for c in report[key]]
                buffers["rule_results"] += checks
                if is_latest:
                    planted.rule_failures |= {(vid, c[1], c[2]) for c in failures}
                for seq, (number, heading, text) in enumerate(sections):
                    section_id += 1
                    buffers["sections"].append((section_id, vid, seq, number, heading, text, name, year, title))
                    fts_rows["sections"].append((section_id, heading, text, name, title))
                    if is_latest and "复议" in text:
                        planted.sections_with_fuyi.add(section_id)
                        planted.versions_with_fuyi.add(vid)
                    if is_latest and "收费" in text:
                        planted.versions_with_shoufei.add(vid)
                if is_latest:
                    received = g["new_received"][total_col]
                    planted.received_by_year[year] = planted.received_by_year.get(year, 0) + received
                    if sink and planted.revisit_capture_id is None and vi == 1 and not edited:
                        # The same page fetched again, unchanged: an identical-payload-digest revisit.
                        when = f"{(published + timedelta(days=1)).isoformat()}T08:00:00Z"
                        off, ln, rid = sink.revisit(url, digest, record_id, record_date)
                        rev_id = stable_id(warc_file, off)
                        planted.revisit_capture_id = rev_id
                        buffers["captures"].append((
                            rev_id, url, when, "revisit", "report", "synthetic", None, 200,
                            HTML, digest, record_id, None, warc_file, off, ln, None, vid))
            if chain_break:
                planted.carry_breaks.add((name, year))
            buffers["documents"].append((
                doc_id, name, year, f"doc|{name}|{year}", url, fetched_base, fetched_base, None,
                len(versions), version_ids[-1]))
            prev_forward = grid["carried_forward"]
            prev_report = report
            prev_version = version_ids[-1]
            made += 1
            if made % batch == 0:
                flush()
    flush()
    planted.n_reports = made
    produced = set(db.conn.execute("select agency, year from documents").fetchall())
    planted.missing = {(a["name"], y) for a in agencies for y in YEARS if (a["name"], y) not in produced}
    if sink:
        sink.close()
    db.conn.commit()
    create_indexes(db)
    fill_report_totals(db)  # as the archive build does last
    fill_section_search(db)
    db.conn.execute("analyze")
    db.conn.commit()
    db.conn.execute("pragma journal_mode = delete")
    db.close()
    return planted


