"""A synthetic archive following docs/schema.md, for the publishing tests and bench/serve.py.

Rows are inserted directly (sqlite3 executemany on the tables `archive.schema` declares), not
parsed from pages: 100,000 reports through the parser would take far longer than a benchmark
should, and the tests need known findings. The generator plants, deterministically from a seed:
reports that don't add up (balance / outcomes_sum / row_total / appeals_total failures), carry-over
chains that break between years, documents edited after publication (two versions whose numbers
differ), agency × year gaps and late publications, and section texts with and without 复议 / 收费.
With `warc_dir`, every capture is a real WARC response record (warcio) holding an HTML rendering
of the report, one capture is a revisit, and one archived page carries a script that must not run.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from nianbao.archive.ids import payload_digest, stable_id
from nianbao.archive.lookups import write_lookups
from nianbao.archive.schema import FTS, create_indexes, create_tables
from nianbao.archive.search import enable_fts, fill_section_search, index_rows
from nianbao.archive.totals import fill_report_totals

import sqlite_utils

COLUMNS = ["natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
           "legal_service_org", "other_org", "total"]
APPLICANTS = COLUMNS[:-1]
DENIED = ["denied_state_secret", "denied_prohibited_by_law", "denied_three_safeties_one_stability",
          "denied_third_party_rights", "denied_internal_affairs", "denied_process_information",
          "denied_enforcement_case_file", "denied_administrative_query"]
UNAVAILABLE = ["unavailable_not_held", "unavailable_needs_creation", "unavailable_unclear_after_correction"]
NOT_PROCESSED = ["not_processed_petition", "not_processed_repeated", "not_processed_publication",
                 "not_processed_excessive", "not_processed_reconfirmation"]
OTHER = {"2021": ["other_no_correction", "other_fee_unpaid", "other_other"], "2019": ["other"]}
RESULTS = {ed: ["granted", "partially_granted", *DENIED, *UNAVAILABLE, *NOT_PROCESSED, *OTHER[ed]]
           for ed in ("2019", "2021")}
ROWS = {ed: ["new_received", "carried_over", *RESULTS[ed], "total", "carried_forward"] for ed in RESULTS}
PROCEDURES = ["review", "litigation_direct", "litigation_after_review"]
OUTCOMES = ["upheld", "corrected", "other", "pending", "total"]
ACTIVE = {
    "2021": [("rules", "issued"), ("rules", "repealed"), ("rules", "in_force"),
             ("normative_documents", "issued"), ("normative_documents", "repealed"),
             ("normative_documents", "in_force"), ("licensing", "decisions"),
             ("penalties", "decisions"), ("coercive_measures", "decisions"), ("fees", "amount_10k_yuan")],
    "2019": [("rules", "produced"), ("rules", "published"), ("rules", "published_total"),
             ("normative_documents", "produced"), ("normative_documents", "published"),
             ("normative_documents", "published_total"), ("licensing", "items_prev_year"),
             ("licensing", "items_change"), ("licensing", "decisions"), ("penalties", "decisions"),
             ("fees", "items_prev_year"), ("fees", "items_change")],
}
YEARS = [2019, 2020, 2021, 2022, 2023]
SECTION_TITLES = {1: "总体情况", 2: "主动公开政府信息情况", 3: "收到和处理政府信息公开申请情况",
                  4: "政府信息公开行政复议、行政诉讼情况", 5: "存在的主要问题及改进情况", 6: "其他需要报告的事项"}
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


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` spread over `parts` non-negative integers, most of it in the first."""
    if parts == 1:
        return [total]
    out = [0] * parts
    for _ in range(total if total < 40 else 0):
        out[min(int(rng.expovariate(1.2)), parts - 1)] += 1
    if total >= 40:
        rest = total
        for j in range(parts - 1, 0, -1):
            share = int(rest * rng.uniform(0.0, 0.15))
            out[j] = share
            rest -= share
        out[0] = rest
    return out


def _requests_grid(edition: str, carried_over: list[int], rng: random.Random) -> dict[str, list[int]]:
    """A consistent table 3: per applicant column, then the total column as the row sums."""
    grid: dict[str, list[int]] = {row: [0] * 7 for row in ROWS[edition]}
    results = RESULTS[edition]
    for c in range(6):
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
    for row in grid:
        grid[row][6] = sum(grid[row][:6])
    return grid


def _check(edition: str, grid: dict[str, list[int]], appeals: dict[str, dict[str, int]]) -> list[tuple]:
    """(rule, scope, ok, expected, actual) as the archive's checker records them."""
    out = []
    for c, col in enumerate(COLUMNS):
        lhs = grid["new_received"][c] + grid["carried_over"][c]
        rhs = grid["total"][c] + grid["carried_forward"][c]
        out.append(("balance", col, int(lhs == rhs), lhs, rhs))
        s = sum(grid[r][c] for r in RESULTS[edition])
        out.append(("outcomes_sum", col, int(s == grid["total"][c]), s, grid["total"][c]))
    for row in ROWS[edition]:
        s = sum(grid[row][:6])
        out.append(("row_total", row, int(s == grid[row][6]), s, grid[row][6]))
    for p in PROCEDURES:
        s = sum(appeals[p][o] for o in OUTCOMES[:-1])
        out.append(("appeals_total", p, int(s == appeals[p]["total"]), s, appeals[p]["total"]))
    return out


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
    return [(n, SECTION_TITLES[n], texts[n]) for n in range(1, 7)]


def render_html(report: dict, script: bool = False) -> str:
    """A plain HTML page for an archived capture (enough for a person to recognise the report)."""
    rows = "".join(
        f"<tr><td>{row}</td>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>"
        for row, values in report["grid"].items()
    )
    sections = "".join(f"<h2>{n}、{h}</h2><p>{t}</p>" for n, h, t in report["sections"])
    evil = ""
    if script:
        evil = ("<script>document.getElementById('marker').textContent='SCRIPT RAN';"
                "document.title='PWNED';fetch('/-/pwned?from=archived-page');</script>")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{report['title']}</title></head>"
            f"<body><h1>{report['title']}</h1><p id=\"marker\">原始页面 original page</p>{sections}"
            f"<table border=\"1\">{rows}</table>{evil}</body></html>")


class _WarcSink:
    """Appends response (and one revisit) records to a single WARC file, remembering offsets."""

    def __init__(self, path: Path):
        from warcio.warcwriter import WARCWriter

        self.path = path
        self.fh = path.open("wb")
        self.writer = WARCWriter(self.fh, gzip=True)

    def response(self, url: str, when: str, body: bytes, content_type: str) -> tuple[int, int, str]:
        from warcio.statusandheaders import StatusAndHeaders

        http = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
        record = self.writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=http,
            warc_headers_dict={"WARC-Date": when, "WARC-Nianbao-Source": "synthetic",
                               "WARC-Nianbao-Role": "report"})
        return self._write(record)

    def revisit(self, url: str, when: str, refers_to: str, digest: str) -> tuple[int, int, str]:
        from warcio.statusandheaders import StatusAndHeaders

        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        record = self.writer.create_revisit_record(
            url, digest=digest, refers_to_uri=url, refers_to_date=when, http_headers=http,
            warc_headers_dict={"WARC-Date": when, "WARC-Refers-To": refers_to})
        return self._write(record)

    def _write(self, record) -> tuple[int, int, str]:
        start = self.fh.tell()
        self.writer.write_record(record)
        return start, self.fh.tell() - start, record.rec_headers.get_header("WARC-Record-ID")

    def close(self) -> None:
        self.fh.close()


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
                          "note": "generated by nianbao.publish.synthetic"}, replace=True)
    if warc_dir:
        Path(warc_dir).mkdir(parents=True, exist_ok=True)
    sink = _WarcSink(Path(warc_dir) / "synthetic-00000.warc.gz") if warc_dir else None
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

    for agency in agencies:
        if made >= n_reports:
            break
        name = agency["name"]
        prev_forward = [0] * 7
        prev_version: str | None = None
        for year in YEARS:
            if made >= n_reports:
                break
            if rng.random() < 0.07:
                planted.missing.add((name, year))
                prev_version = None
                continue
            edition = "2019" if year <= 2020 else "2021"
            carried = list(prev_forward[:6])
            chain_break = prev_version is not None and rng.random() < 0.05
            if chain_break:
                carried[0] += rng.randint(1, 5)
            grid = _requests_grid(edition, carried, rng)
            appeals = {p: {o: 0 for o in OUTCOMES} for p in PROCEDURES}
            for p in PROCEDURES:
                if rng.random() < (0.3 if p == "review" else 0.15):
                    appeals[p]["upheld"] = rng.randint(0, 6)
                    appeals[p]["corrected"] = rng.randint(0, 2)
                    appeals[p]["pending"] = rng.randint(0, 2)
                appeals[p]["total"] = sum(appeals[p][o] for o in OUTCOMES[:-1])
            # Planted arithmetic errors: published numbers that don't add up.
            if rng.random() < 0.04:
                grid["granted"][6] += rng.randint(1, 9)       # outcomes_sum + row_total on the total column
            if rng.random() < 0.02:
                appeals["review"]["total"] += 1
            deadline = date(year + 1, 1, 31) if agency["level"] == "department" else date(year + 1, 3, 31)
            late = rng.random() < 0.06
            published = deadline + timedelta(days=rng.randint(1, 90)) if late else \
                deadline - timedelta(days=rng.randint(0, 40))
            if late:
                planted.late.add((name, year))
            doc_id = stable_id("doc", name, year)
            url = f"http://127.0.0.1/gov/{doc_id}.html"
            title = f"{name}{year}年政府信息公开工作年度报告"
            review = appeals["review"]["total"]
            fees = rng.random() < 0.3
            sections = _sections(name, year, review, fees, rng)
            edited = rng.random() < 0.04
            versions = [("v1", grid)]
            if edited:
                old = {k: list(v) for k, v in grid.items()}
                for row in ("new_received", "granted", "total"):  # first published with 3 more
                    old[row][0] += 3
                    old[row][6] += 3
                versions = [("v1", old), ("v2", grid)]
                planted.edited_documents.add(doc_id)
            fetched_base = f"{published.isoformat()}T08:00:00Z"
            version_ids = []
            for vi, (_, g) in enumerate(versions, start=1):
                is_latest = int(vi == len(versions))
                report = {"title": title, "grid": g, "sections": sections}
                script = sink is not None and planted.script_capture_id is None and is_latest
                body = render_html(report, script=script).encode("utf-8")
                digest = payload_digest(body)
                vid = stable_id(doc_id, digest)
                version_ids.append(vid)
                fetched = fetched_base if vi == 1 else f"{(published + timedelta(days=30)).isoformat()}T08:00:00Z"
                offset = length = record_id = None
                warc_file = None
                if sink:
                    offset, length, record_id = sink.response(url, fetched, body, "text/html; charset=utf-8")
                    warc_file = sink.path.name
                cap_id = stable_id(warc_file or "synthetic.warc.gz", offset if offset is not None else vid)
                if script:
                    planted.script_capture_id = cap_id
                planted.capture_ids.append(cap_id)
                checks = _check(edition, g, appeals)
                if is_latest and prev_version is not None:
                    for c, col in enumerate(COLUMNS):
                        exp, act = prev_forward[c], g["carried_over"][c]
                        checks.append(("carry_chain", col, int(exp == act), exp, act))
                failures = [c for c in checks if not c[2]]
                buffers["captures"].append((
                    cap_id, url, fetched, "response", "report", "synthetic", None, 200,
                    "text/html; charset=utf-8", digest, None, None, warc_file, offset, length, record_id, vid))
                version_rowid += 1
                buffers["document_versions"].append((
                    vid, doc_id, vi, is_latest, name, year, edition, "parsed", title, published.isoformat(),
                    url, "synthetic", digest, fetched, fetched, None, "synthetic", cap_id,
                    sum(len(v) for v in g.values()) + 15, len(failures), "[]"))
                fts_rows["document_versions"].append((version_rowid, title, name))
                for row, values in g.items():
                    for c, col in enumerate(COLUMNS):
                        r = ROWS[edition].index(row)
                        buffers["requests"].append((vid, row, col, values[c], str(values[c]), None, 2, r + 3, c + 1))
                for p_i, p in enumerate(PROCEDURES):
                    for o_i, o in enumerate(OUTCOMES):
                        buffers["appeals"].append((vid, p, o, appeals[p][o], str(appeals[p][o]), None, 3, 2, p_i * 5 + o_i))
                for a_i, (row, measure) in enumerate(ACTIVE[edition]):
                    value = round(rng.uniform(0, 500), 2) if measure == "amount_10k_yuan" else rng.randint(0, 60)
                    buffers["active_disclosure"].append((vid, row, measure, value, str(value), None, 1, 1 + a_i, 1))
                for rule, scope, ok, exp, act in checks:
                    other = prev_version if rule == "carry_chain" else None
                    buffers["rule_results"].append((vid, rule, scope, ok, exp, act, 0, None, other))
                    if not ok and is_latest:
                        planted.rule_failures.add((vid, rule, scope))
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
                    planted.received_by_year[year] = planted.received_by_year.get(year, 0) + g["new_received"][6]
                    if sink and planted.revisit_capture_id is None and vi == 1 and not edited:
                        # The same page fetched again a day later, unchanged: a revisit record.
                        when = f"{(published + timedelta(days=1)).isoformat()}T08:00:00Z"
                        off, ln, rid = sink.revisit(url, when, record_id, digest)
                        rev_id = stable_id(warc_file, off)
                        planted.revisit_capture_id = rev_id
                        buffers["captures"].append((
                            rev_id, url, when, "revisit", "report", "synthetic", None, 200,
                            "text/html; charset=utf-8", digest, record_id, None, warc_file, off, ln, None, vid))
            if chain_break:
                planted.carry_breaks.add((name, year))
            buffers["documents"].append((
                doc_id, name, year, f"doc|{name}|{year}", url, fetched_base, fetched_base, None,
                len(versions), version_ids[-1]))
            prev_forward = grid["carried_forward"]
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


