"""Helpers for crawler tests: run a crawl in a child process, read WARC records back with warcio."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

REPO = Path(__file__).resolve().parents[2]


def run_crawl(data_dir: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    """`python -m nianbao.crawler.run` against a data dir (Twisted cannot restart in the test process)."""
    return subprocess.run([sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


@dataclass
class Rec:
    file: str
    type: str
    url: str
    headers: dict[str, str]
    http_status: int | None
    http_headers: dict[str, str]
    body: bytes  # as stored (raw stream: still gzip if it came gzip)
    content: bytes  # content-decoded (what a parser reads)
    status_line: str = ""  # HTTP status or request line


def read_warc(path: Path) -> list[Rec]:
    out = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            h = dict(rec.rec_headers.headers)
            status = None
            http: dict[str, str] = {}
            line = ""
            if rec.http_headers is not None:
                http = {k.lower(): v for k, v in rec.http_headers.headers}
                line = " ".join(x for x in (rec.http_headers.protocol, rec.http_headers.statusline) if x)
                if rec.rec_type in ("response", "revisit"):
                    status = int(rec.http_headers.get_statuscode())
            raw = rec.raw_stream.read()
            out.append(Rec(path.name, rec.rec_type, h.get("WARC-Target-URI", ""), h, status, http, raw, b"", line))
    # decoded content, second pass (content_stream consumes the stream)
    with open(path, "rb") as fh:
        for rec, o in zip(ArchiveIterator(fh), out):
            o.content = rec.content_stream().read()
    return out


def records(warc_dir: Path, files: list[Path] | None = None) -> list[Rec]:
    out: list[Rec] = []
    if files is None:  # a killed crawl's file keeps its .open name until the next crawl closes it
        files = sorted(warc_dir.glob("*.warc.gz")) + sorted(warc_dir.glob("*.warc.gz.open"))
    for f in files:
        out.extend(read_warc(f))
    return out


def summaries(recs: list[Rec]) -> dict[str, dict[str, Any]]:
    """The crawl-summary payloads by source (last one wins)."""
    out = {}
    for r in recs:
        if r.type == "metadata" and r.headers.get("WARC-Nianbao-Kind") == "crawl-summary":
            s = json.loads(r.content)
            out[s["source"]] = s
    return out
