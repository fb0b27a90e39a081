"""A small real archive for the publishing tests: report pages rendered in the national template
(parsers.render), written to a WARC with warcio the way the crawler does, built by the archive's
own builder (archive.build.build_archive) into <data>/nianbao.db.

The parser is a stand-in that returns the canonical report each page was rendered from (plus the
four in-report rules computed by archive.rules), so these tests check publishing, not parsing.
Planted, so the tests know the exact answers:
- A (教育局) 2022: the 总计 column's 予以公开 is 5 too high — outcomes_sum and row_total fail;
- B (财政局) 2023: 上年结转 (natural_person) is 7 but 2022 carried forward 3 — carry_chain breaks;
- C (人民政府) 2023: edited after publication — a second capture with 3 more 予以公开 (consistent);
- D (公安局) has no 2022 report — a coverage gap; E (民政局) 2023 was published on 2024-05-10 — late;
- section texts: 复议 in section 1 of A 2023 and B 2021 (every section 4 heading also says 复议),
  收费 only in section 2 of C 2022 and E 2021;
- the A 2023 page carries a <script> that must never run; one capture is a revisit; the B 2021
  response is gzip Content-Encoded in the WARC.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from nianbao.archive.build import build_archive
from nianbao.archive.rules import report_rules
from nianbao.parsers.render import random_report, render_report

PREFIX = "浙江省宁波市"
AGENCIES = {
    "A": f"{PREFIX}教育局",
    "B": f"{PREFIX}财政局",
    "C": f"{PREFIX}人民政府",
    "D": f"{PREFIX}公安局",
    "E": f"{PREFIX}民政局",
    "F": f"{PREFIX}卫生健康委员会",
}
YEARS = (2021, 2022, 2023)
SCRIPT = ("<script>document.getElementById('nianbao-marker').textContent='SCRIPT RAN';"
          "document.title='PWNED';fetch('/-/pwned-by-archived-page');</script>")
MARKER = '<p id="nianbao-marker">原始页面未被脚本修改 untouched by scripts</p>'


@dataclass
class Expect:
    """The planted facts, by (letter, year)."""

    reports: dict[tuple[str, int], dict] = field(default_factory=dict)
    urls: dict[tuple[str, int], str] = field(default_factory=dict)
    fuyi_in_text: set[tuple[str, int]] = field(default_factory=set)
    shoufei: set[tuple[str, int]] = field(default_factory=set)
    script_url: str = ""
    gbk_url: str = "http://www.nb.gov.cn/col/list_gbk.html"
    gbk_body: bytes = ('<html><head><meta charset="gbk"><title>年报栏目</title></head>'
                       "<body>政府信息公开年报</body></html>").encode("gbk")
    pdf_url: str = "http://www.nb.gov.cn/col/A/2023/attach.pdf"
    pdf_body: bytes = b"%PDF-1.4\n% not a real report\n%%EOF\n"
    revisit_url: str = ""
    gzip_url: str = ""
    edited_url: str = ""


def _cell(report: dict, row: str, column: str) -> dict:
    return next(c for c in report["requests"] if c["row"] == row and c["column"] == column)


def _bump(report: dict, row: str, column: str, delta: int) -> None:
    c = _cell(report, row, column)
    c["value"] = (c["value"] or 0) + delta
    c["raw"] = str(c["value"])


APPLICANTS = ("natural_person", "commercial_enterprise", "research_institution",
              "social_welfare_org", "legal_service_org", "other_org")


def _shift(report: dict, col: str, changes: dict[str, int]) -> None:
    """Change rows of one applicant column and the same rows of the total column (row_total holds)."""
    for row, d in changes.items():
        if d:
            _bump(report, row, col, d)
            _bump(report, row, "total", d)


def _add_carried_over(report: dict, col: str, d: int) -> None:
    """More (or fewer) carried over, balanced by more granted (or more newly received)."""
    if d > 0:
        _shift(report, col, {"carried_over": d, "granted": d, "total": d})
    elif d < 0:
        _shift(report, col, {"carried_over": d, "new_received": -d})


def _set_carried_forward(report: dict, col: str, value: int) -> None:
    d = value - (_cell(report, "carried_forward", col)["value"] or 0)
    if d > 0:
        _shift(report, col, {"carried_forward": d, "new_received": d})
    elif d < 0:
        _shift(report, col, {"carried_forward": d, "granted": -d, "total": -d})


def _with_checks(report: dict) -> dict:
    checks = report_rules(report["requests"], report["appeals"], report.get("edition"))
    return {**report, "checks": checks, "parser_version": "test"}


def make_reports() -> Expect:
    rng = random.Random(20240601)
    ex = Expect()
    for letter, agency in AGENCIES.items():
        for year in YEARS:
            if (letter, year) == ("D", 2022):
                continue
            r = random_report(rng, year=year, agency=agency, edition="2021")
            r["published"] = f"{year + 1}-01-20"
            for s in r["sections"]:
                if s["number"] == 2:
                    s["text"] = "本年度主动公开政府信息，及时更新各类政府信息。"
                if s["number"] == 4:
                    s["text"] = "本年度无相关情况。"
            ex.reports[(letter, year)] = r
            ex.urls[(letter, year)] = f"http://www.nb.gov.cn/col/{letter}/{year}/art_{letter}{year}.html"
    # Planted before the chains are tied: B 2022 carries 3 natural-person requests forward.
    _set_carried_forward(ex.reports[("B", 2022)], "natural_person", 3)
    # Carry-over chains hold unless planted otherwise: carried_over(Y) := carried_forward(Y-1).
    for letter in AGENCIES:
        for year in YEARS[1:]:
            prev, cur = ex.reports.get((letter, year - 1)), ex.reports.get((letter, year))
            if not prev or not cur:
                continue
            for col in APPLICANTS:
                d = ((_cell(prev, "carried_forward", col)["value"] or 0)
                     - (_cell(cur, "carried_over", col)["value"] or 0))
                _add_carried_over(cur, col, d)
    # Planted findings: B 2023 says 7 were carried over (3 were carried forward); A 2022's total
    # column grants 5 more than its rows.
    _add_carried_over(ex.reports[("B", 2023)], "natural_person", 4)
    _bump(ex.reports[("A", 2022)], "granted", "total", 5)
    ex.reports[("E", 2023)]["published"] = "2024-05-10"
    for key in (("A", 2023), ("B", 2021)):
        ex.reports[key]["sections"][0]["text"] = "本年度未发生政府信息公开行政复议案件，工作平稳有序。"
        ex.fuyi_in_text.add(key)
    for key in (("C", 2022), ("E", 2021)):
        ex.reports[key]["sections"][1]["text"] = "本年度未收取信息处理费，无行政事业性收费事项公开。"
        ex.shoufei.add(key)
    ex.script_url = ex.urls[("A", 2023)]
    ex.revisit_url = ex.urls[("F", 2023)]
    ex.gzip_url = ex.urls[("B", 2021)]
    ex.edited_url = ex.urls[("C", 2023)]
    return ex


def _edited(report: dict) -> dict:
    r = {**report, "requests": [dict(c) for c in report["requests"]]}
    _shift(r, "natural_person", {"new_received": 3, "granted": 3, "total": 3})
    return r


def _page(report: dict, script: bool = False) -> bytes:
    html = render_report(report)
    html = html.replace("<body>", "<body>\n" + MARKER, 1)
    if script:
        html = html.replace("</body>", SCRIPT + "</body>", 1)
    return html.encode("utf-8")


def build(data_dir: Path) -> Expect:
    """Write <data>/warcs/test-00001.warc.gz and build <data>/nianbao.db from it."""
    ex = make_reports()
    warcs = data_dir / "warcs"
    warcs.mkdir(parents=True, exist_ok=True)
    path = warcs / "test-00001.warc.gz"
    by_body: dict[bytes, dict] = {}
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)

        def response(url: str, report: dict, when: str, script: bool = False, encode: bool = False):
            page = _page(report, script)
            by_body[page] = _with_checks({**report, "source": url})
            headers = [("Content-Type", "text/html; charset=utf-8")]
            payload = page
            if encode:
                payload = gzip.compress(page)
                headers.append(("Content-Encoding", "gzip"))
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            rec = writer.create_warc_record(
                url, "response", payload=BytesIO(payload), http_headers=http,
                warc_headers_dict={"WARC-Date": when, "WARC-Nianbao-Source": "nb-test",
                                   "WARC-Nianbao-Role": "report"})
            writer.write_record(rec)
            return rec

        for (letter, year), report in sorted(ex.reports.items()):
            url = ex.urls[(letter, year)]
            when = f"{year + 1}-02-01T03:00:00Z"
            rec = response(url, report, when, script=url == ex.script_url, encode=url == ex.gzip_url)
            if url == ex.revisit_url:
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                        protocol="HTTP/1.1")
                rev = writer.create_revisit_record(
                    url, digest=rec.rec_headers.get_header("WARC-Payload-Digest"),
                    refers_to_uri=url, refers_to_date=when, http_headers=http,
                    warc_headers_dict={"WARC-Date": f"{year + 1}-03-01T03:00:00Z",
                                       "WARC-Refers-To": rec.rec_headers.get_header("WARC-Record-ID"),
                                       "WARC-Nianbao-Source": "nb-test", "WARC-Nianbao-Role": "report"})
                writer.write_record(rev)
            if url == ex.edited_url:
                response(url, _edited(report), f"{year + 1}-04-15T03:00:00Z")
        for url, body, ctype, role in ((ex.gbk_url, ex.gbk_body, "text/html; charset=GBK", "list"),
                                       (ex.pdf_url, ex.pdf_body, "application/pdf", "other")):
            http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            headers = {"WARC-Date": "2024-02-02T03:00:00Z", "WARC-Nianbao-Source": "nb-test",
                       "WARC-Nianbao-Role": role}
            if role == "attachment":
                headers["WARC-Nianbao-Parent"] = ex.urls[("A", 2023)]
            writer.write_record(writer.create_warc_record(
                url, "response", payload=BytesIO(body), http_headers=http, warc_headers_dict=headers))

    def stand_in_parser(data: bytes | str, source: str = "") -> dict:
        body = data.encode("utf-8") if isinstance(data, str) else data
        report = by_body.get(body)
        if report is None:
            return {"source": source, "status": "not_a_report", "warnings": ["unknown page"]}
        return report

    registry = data_dir / "sources.yaml"
    registry.write_text(
        "sources:\n  - name: nb-test\n    agency: " + AGENCIES["C"] + "\n"
        "    start_urls: [\"http://www.nb.gov.cn/col/\"]\n    platform: generic\n"
        "    enabled: true\n    frozen: false\n", encoding="utf-8")
    build_archive(data_dir / "nianbao.db", warcs=[path], parse=stand_in_parser, parser_version="test",
                  registry_path=registry)
    return ex
