"""Shared helpers for the archive tests: a stand-in parser over canonical JSON, and a WARC writer."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

FAKE_VERSION = "fake-1"


def json_parser(data: bytes | str, source: str = "") -> dict:
    """Parse a 'report' that is its own canonical JSON; anything else is not a report."""
    try:
        report = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {"source": source, "status": "not_a_report", "warnings": ["not JSON"]}
    report.setdefault("source", source)
    return report


def canonical(agency: str, year: int, *, received: int = 5, carried_over: int = 0,
              carried_forward: int = 1, title: str | None = None, sections: list | None = None,
              published: str | None = None) -> dict:
    """A small hand-made canonical report (2021 edition, only the cells the tests read)."""
    total = received + carried_over - carried_forward
    cells = []
    for row, value in (("new_received", received), ("carried_over", carried_over), ("granted", total),
                       ("total", total), ("carried_forward", carried_forward)):
        cells.append({"row": row, "column": "natural_person", "value": value, "raw": str(value),
                      "position": {"table": 1, "row": 2, "col": 3}})
        cells.append({"row": row, "column": "total", "value": value, "raw": str(value),
                      "position": {"table": 1, "row": 2, "col": 9}})
    cells.append({"row": "partially_granted", "column": "commercial_enterprise", "value": None,
                  "raw": "\xa0", "position": {"table": 1, "row": 4, "col": 4}})
    return {
        "source": "", "title": title or f"{agency}{year}年政府信息公开工作年度报告", "agency": agency,
        "year": year, "edition": "2021", "status": "parsed", "published": published,
        "active": [{"row": "fees", "measure": "amount_10k_yuan", "value": 1.25, "raw": "1.25",
                    "position": {"table": 0, "row": 9, "col": 1}},
                   {"row": "rules", "measure": "issued", "value": 0, "raw": "—", "reading": "dash as 0",
                    "position": {"table": 0, "row": 2, "col": 1}}],
        "requests": cells,
        "appeals": [{"procedure": "review", "outcome": "upheld", "value": 2, "raw": "2",
                     "position": {"table": 2, "row": 2, "col": 0}},
                    {"procedure": "review", "outcome": "total", "value": 2, "raw": "2",
                     "position": {"table": 2, "row": 2, "col": 4}}],
        "sections": sections or [{"number": 1, "heading": "总体情况", "text": "本年度工作概述。"}],
        "checks": [{"rule": "balance", "scope": "total", "ok": True, "expected": received + carried_over,
                    "actual": received + carried_over}],
        "warnings": [],
        "parser_version": FAKE_VERSION,
    }


def body(report: dict) -> bytes:
    return json.dumps(report, ensure_ascii=False, sort_keys=True).encode("utf-8")


class Warc:
    """Write a small WARC the way docs/architecture.md says the crawler does."""

    def __init__(self, path: Path):
        self.fh = open(path, "wb")
        self.writer = WARCWriter(self.fh, gzip=True)

    def response(self, url: str, payload: bytes, *, source: str = "testsrc", role: str = "report",
                 date: str, content_type: str = "text/html; charset=utf-8", status: str = "200 OK",
                 parent: str | None = None) -> tuple[str, str]:
        http = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
        headers = {"WARC-Nianbao-Source": source, "WARC-Nianbao-Role": role, "WARC-Date": date}
        if parent:
            headers["WARC-Nianbao-Parent"] = parent
        rec = self.writer.create_warc_record(url, "response", payload=BytesIO(payload),
                                             http_headers=http, warc_headers_dict=headers)
        self.writer.write_record(rec)
        return rec.rec_headers.get_header("WARC-Record-ID"), rec.rec_headers.get_header("WARC-Payload-Digest")

    def revisit(self, url: str, digest: str, refers_to: str, *, date: str, source: str = "testsrc",
                role: str = "report") -> None:
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        rec = self.writer.create_revisit_record(url, digest, url, "2026-01-01T00:00:00Z", http_headers=http)
        rec.rec_headers.replace_header("WARC-Date", date)
        rec.rec_headers.add_header("WARC-Refers-To", refers_to)
        rec.rec_headers.add_header("WARC-Nianbao-Source", source)
        rec.rec_headers.add_header("WARC-Nianbao-Role", role)
        self.writer.write_record(rec)

    def summary(self, summary: dict, *, date: str) -> None:
        rec = self.writer.create_warc_record(
            "urn:nianbao:crawl-summary:" + summary["source"], "metadata",
            payload=BytesIO(json.dumps(summary, ensure_ascii=False).encode("utf-8")),
            warc_content_type="application/json",
            warc_headers_dict={"WARC-Nianbao-Kind": "crawl-summary", "WARC-Nianbao-Source": summary["source"],
                               "WARC-Date": date})
        self.writer.write_record(rec)

    def close(self) -> None:
        self.fh.close()


def build_fake(root: Path):
    """Build `root/nianbao.db` from every WARC in `root/warcs` with the stand-in parser (no registry)."""
    import sqlite_utils

    from nianbao.archive.build import build_archive

    out = root / "nianbao.db"
    build_archive(out, warcs=sorted((root / "warcs").glob("*.warc.gz")), parse=json_parser,
                  parser_version=FAKE_VERSION, registry_path=root / "none.yaml")
    return sqlite_utils.Database(out)


NAVIGATION_MARKS = (">", "»", "›", "首页", "当前位置")
COLUMN_NAMES = ("政府信息公开年报", "年度报告", "年报", "政府信息公开", "信息公开", "政务公开")


def navigation_agencies(db) -> list[str]:
    """Archived agency names (document_versions.agency, agencies.name) that are navigation text:
    a breadcrumb mark, 首页 / 当前位置, or a column name at the end. Should always be empty."""
    names = {r[0] for r in db.execute("select distinct agency from document_versions where agency is not null")}
    names |= {r[0] for r in db.execute("select name from agencies")}
    return sorted(n for n in names if any(m in n for m in NAVIGATION_MARKS) or n.endswith(COLUMN_NAMES))
