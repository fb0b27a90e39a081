"""Write what the crawler saw as ISO 28500 WARC records (warcio), exactly as received.

One `WarcRecorder` per crawl of one source; its file name carries the run id, the source and a
per-process stamp, so two crawls (or a resumed crawl) never write the same file. While it is being
written the file is named `….warc.gz.open` (OPEN_SUFFIX) and `close()` renames it to its final
`….warc.gz` name, so a build (which skips `*.open`) never reads a file being written; an `.open`
file a killed crawl left is reconciled and renamed by the next crawl (crawler/reconcile.py). Conventions are
those of docs/architecture.md (extra `WARC-Nianbao-*` headers, `revisit` for unchanged pages,
one `crawl-summary` metadata record per source per crawl, under a `urn:` target so that replay tools never
take it for a capture of the column).

Revisits follow WARC 1.1 §6.7: a 304 is the server's own assertion, written with the `server-not-modified`
profile (no WARC-Payload-Digest: this fetch saw no payload; the digest of the copy it confirms is kept in
`WARC-Nianbao-Refers-To-Digest` so a reader links it without the record it refers to); a 200 whose payload
digest equals the stored copy's is an `identical-payload-digest` revisit.

A file name is `nianbao-{run}-{source}-{stamp}[-{worker}]-{pid}.warc.gz`: `worker` is the Scrapy setting
NIANBAO_WORKER_ID (the job queue's workers set it, so files from several machines never collide); unset, the
name has no worker part (one machine: stamp and pid suffice, and no host name is published in the archive).
"""

from __future__ import annotations

import json
import os
import re
import time
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from nianbao import stamps

WARC_VERSION = "1.1"
# Hop-by-hop framing Scrapy has already undone (the body we get is de-chunked): keeping the header
# would make readers de-chunk again and `warcio check` fail. Renamed, not dropped, so nothing is lost.
FRAMING_HEADERS = {"transfer-encoding"}
OPEN_SUFFIX = ".open"  # docs/architecture.md: a name ending in .open is being written; builds skip it
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
REFERS_TO_DIGEST = "WARC-Nianbao-Refers-To-Digest"  # a 304 revisit: the payload digest of the copy it confirms
SUMMARY_KIND = "crawl-summary"  # WARC-Nianbao-Kind of the per-source summary metadata record


def summary_target(source: str, run_id: str) -> str:
    """The WARC-Target-URI of a crawl summary: a name, not the column's URL (which replay tools would
    otherwise serve as the column page)."""
    return f"urn:nianbao:{SUMMARY_KIND}:{source}:{run_id}"


def safe_worker_id(worker_id: str | None) -> str | None:
    """A worker id as it may appear in a file name (letters, digits, `_` and `.`; None when empty)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.]+", "_", worker_id or "").strip("_.")
    return cleaned or None


payload_digest = stamps.payload_digest  # the WARC-Payload-Digest warcio computes (nianbao.stamps)


def _headers(raw_headers: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, values in raw_headers.items():
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if name.lower() in FRAMING_HEADERS:
            name = "X-Nianbao-Original-" + name
        for value in values if isinstance(values, (list, tuple)) else [values]:
            out.append((name, value.decode("latin-1") if isinstance(value, bytes) else str(value)))
    return out


class WarcRecorder:
    """Appends records to one gzipped WARC file."""

    def __init__(self, directory: str | Path, run_id: str, source: str, info: dict[str, Any],
                 worker_id: str | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        worker = safe_worker_id(worker_id)
        self.filename = f"nianbao-{run_id}-{source}-{stamp}{'-' + worker if worker else ''}-{os.getpid()}.warc.gz"
        self.path = self.directory / self.filename
        n = 1
        while self.path.exists():  # same second, same pid (resume in-process): never overwrite
            n += 1
            self.path = self.directory / self.filename.replace(".warc.gz", f"-{n}.warc.gz")
        self.filename = self.path.name  # the final name (what mark_checked records)
        self.final_path = self.path
        # never overwrite a left-over .open file of the same name either
        while self.final_path.exists() or self._open_path(self.final_path).exists():
            n += 1
            self.final_path = self.directory / self.filename.replace(".warc.gz", f"-{n}.warc.gz")
        self.filename = self.final_path.name
        self.path = self._open_path(self.final_path)  # where records go until close()
        self._fh = open(self.path, "xb")
        self._buf = BytesIO()  # each record is compressed here, then written with one write()
        self.writer = WARCWriter(self._buf, gzip=True, warc_version=WARC_VERSION)
        self.source = source
        record = self.writer.create_warcinfo_record(self.filename, info)
        self._write(record)
        self.records = 0

    @staticmethod
    def _open_path(final: Path) -> Path:
        return final.with_name(final.name + OPEN_SUFFIX)

    def _write(self, record: Any) -> None:
        """Write one whole record with a single write() and hand it to the OS at once: a killed
        crawl keeps every record it wrote and never leaves half a record (so `warcio check`
        passes), and the crawl state (updated after this) never points at an unwritten record."""
        self.writer.write_record(record)
        data = self._buf.getvalue()
        self._buf.seek(0)
        self._buf.truncate()
        self._fh.write(data)
        self._fh.flush()

    def _extra(self, role: str, parent: str | None, junk: str | None) -> dict[str, str]:
        extra = {"WARC-Nianbao-Source": self.source, "WARC-Nianbao-Role": role}
        if parent:
            extra["WARC-Nianbao-Parent"] = parent
        if junk:
            extra["WARC-Nianbao-Junk"] = junk
        return extra

    def write_request(self, request: Any, concurrent_to: str | None = None) -> str:
        """The request as sent (method, path, headers after every middleware that adds some)."""
        parts = urlsplit(request.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = _headers(request.headers)
        if not any(k.lower() == "host" for k, _ in headers):
            headers.insert(0, ("Host", parts.netloc))
        http = StatusAndHeaders(f"{request.method} {path} HTTP/1.1", headers, is_http_request=True)
        warc_headers = {"WARC-Concurrent-To": concurrent_to} if concurrent_to else {}
        body = request.body or b""
        record = self.writer.create_warc_record(
            request.url, "request", payload=BytesIO(body), length=len(body),
            http_headers=http, warc_headers_dict=warc_headers)
        self._write(record)
        self.records += 1
        return record.rec_headers.get_header("WARC-Record-ID")

    def _status_line(self, response: Any) -> str:
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        return f"{response.status} {reason}"

    def write_response(self, response: Any, role: str, parent: str | None = None,
                       junk: str | None = None) -> tuple[str, str]:
        """A full response, body as received (still compressed if it came compressed)."""
        protocol = getattr(response, "protocol", None) or "HTTP/1.1"
        http = StatusAndHeaders(self._status_line(response), _headers(response.headers), protocol=protocol)
        body = response.body
        extra = self._extra(role, parent, junk)
        if getattr(response, "ip_address", None):
            extra["WARC-IP-Address"] = str(response.ip_address)
        record = self.writer.create_warc_record(
            response.url, "response", payload=BytesIO(body), length=len(body), http_headers=http,
            warc_headers_dict=extra)
        self._write(record)
        self.records += 1
        return record.rec_headers.get_header("WARC-Record-ID"), record.rec_headers.get_header("WARC-Date")

    def write_revisit(self, response: Any, role: str, digest: str, refers_to: dict[str, str],
                      parent: str | None = None) -> str:
        """An unchanged page, headers only: a 304 as a `server-not-modified` revisit, a 200 with the
        stored copy's payload `digest` as an `identical-payload-digest` one. `refers_to`: the stored
        copy's `url`, `date` (its WARC-Date) and `record_id`."""
        protocol = getattr(response, "protocol", None) or "HTTP/1.1"
        http = StatusAndHeaders(self._status_line(response), _headers(response.headers), protocol=protocol)
        extra = self._extra(role, parent, None)
        if refers_to.get("record_id"):
            extra["WARC-Refers-To"] = refers_to["record_id"]
        if response.status == 304:
            extra.update({"WARC-Profile": NOT_MODIFIED_PROFILE, "WARC-Refers-To-Target-URI": refers_to["url"],
                          "WARC-Refers-To-Date": refers_to["date"], REFERS_TO_DIGEST: digest})
            record = self.writer.create_warc_record(response.url, "revisit", http_headers=http,
                                                    warc_headers_dict=extra)
        else:
            record = self.writer.create_revisit_record(
                response.url, digest, refers_to["url"], refers_to["date"], http_headers=http,
                warc_headers_dict=extra)
        self._write(record)
        self.records += 1
        return record.rec_headers.get_header("WARC-Record-ID")

    def write_summary(self, summary: dict[str, Any], target: str | None = None) -> str:
        """The crawl summary (JSON) as a metadata record, by default under `summary_target`."""
        payload = json.dumps(summary, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
        record = self.writer.create_warc_record(
            target or summary_target(self.source, self.run_id), "metadata", payload=BytesIO(payload),
            length=len(payload), warc_content_type="application/json",
            warc_headers_dict={"WARC-Nianbao-Kind": SUMMARY_KIND, "WARC-Nianbao-Source": self.source})
        self._write(record)
        self.records += 1
        return record.rec_headers.get_header("WARC-Record-ID")

    def close(self) -> None:
        """Close and give the file its final name (fsync first: the rename must not publish a file
        whose records are still only in the page cache). `path` is then the final path."""
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            os.replace(self.path, self.final_path)
            self.path = self.final_path
