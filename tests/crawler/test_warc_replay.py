"""Standard WARC (issue 12 point 6): two nights of the real crawler against the fixture portal, then
`warcio check` on every file, the revisit profiles (a 304 is `server-not-modified`, an unchanged 200
`identical-payload-digest`), the crawl summaries under `urn:` targets, and replay by pywb: the column page,
a report page and its PDF replay as captured (same bytes, status and content type), and the column never
replays as the summary's JSON.

pywb pins redis==2.10.6, which the crawl queue's redis client excludes, so it lives in its own venv
(`make replay-env` → .venv-replay; NIANBAO_PYWB_BIN names another bin directory). Its server is started on a
free loopback port and waited for by its own "Starting Gevent Server" line, never by sleeping.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nianbao.crawler.fixture_portal import FixturePortal
from tests.crawler.helpers import REPO, Rec, records, run_crawl
from tests.ports import unused_port

NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"


def pywb_bin() -> Path:
    where = Path(os.environ.get("NIANBAO_PYWB_BIN") or REPO / ".venv-replay" / "bin")
    if not (where / "wayback").exists():
        pytest.fail(f"pywb not found in {where}: run `make replay-env` "
                    "(pywb needs its own venv: it pins redis==2.10.6)")
    return where


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay")
    data = tmp / "data"
    with FixturePortal(tmp / "site") as portal:
        registry = portal.write_registry(tmp / "sources.yaml")
        files: list[list[Path]] = []
        for extra in ([], ["--revalidate", "all"]):
            before = set((data / "warcs").glob("*.warc.gz")) if (data / "warcs").exists() else set()
            proc = run_crawl(data, "--sources", str(registry), "--impolite", *extra)
            assert proc.returncode == 0, proc.stderr[-3000:]
            files.append(sorted(set((data / "warcs").glob("*.warc.gz")) - before))
        urls = {"column": portal.column_url("fixture-static"), "report": portal.report_url("s2022"),
                "pdf": portal.attachment_urls("s2022")[0]}
    return {"data": data, "files": files, "recs": [records(data / "warcs", f) for f in files], "urls": urls}


def by_url(recs: list[Rec], url: str, rtype: str) -> Rec:
    (rec,) = [r for r in recs if r.url == url and r.type == rtype]
    return rec


def test_warcio_check_is_clean_on_every_file(nights):
    files = [str(f) for night in nights["files"] for f in night]
    assert len(files) == 6
    proc = subprocess.run([sys.executable, "-c", "import sys; from warcio.cli import main; sys.exit(main())",
                           "check", "-v", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "digest failed" not in proc.stdout and proc.stdout.count("digest pass") > 50


def test_revisit_profiles_and_summary_targets(nights):
    first, second = nights["recs"]
    urls = nights["urls"]
    for url in (urls["report"], urls["pdf"]):  # the server said 304 to our conditional GET
        original = by_url(first, url, "response")
        revisit = by_url(second, url, "revisit")
        assert revisit.http_status == 304 and revisit.headers["WARC-Profile"] == NOT_MODIFIED
        assert "WARC-Payload-Digest" not in revisit.headers and revisit.body == b""
        assert revisit.headers["WARC-Refers-To"] == original.headers["WARC-Record-ID"]
        assert revisit.headers["WARC-Refers-To-Target-URI"] == url
        assert revisit.headers["WARC-Refers-To-Date"] == original.headers["WARC-Date"]
        assert revisit.headers["WARC-Nianbao-Refers-To-Digest"] == original.headers["WARC-Payload-Digest"]
    column = by_url(second, urls["column"], "revisit")  # list pages are asked unconditionally: same bytes
    assert column.http_status == 200 and column.headers["WARC-Profile"] == IDENTICAL
    assert column.headers["WARC-Payload-Digest"] == by_url(first, urls["column"], "response").headers[
        "WARC-Payload-Digest"]
    for night in (first, second):
        summaries = [r for r in night if r.type == "metadata"]
        assert len(summaries) == 3
        for s in summaries:
            body = json.loads(s.content)
            assert s.url == f"urn:nianbao:crawl-summary:{body['source']}:{body['run_id']}"
            assert s.headers["WARC-Nianbao-Kind"] == "crawl-summary"
        assert not [r for r in night if r.url == urls["column"] and r.type == "metadata"]


@pytest.fixture(scope="module")
def wayback(nights, tmp_path_factory):
    """pywb over a collection made from both nights' WARCs (wb-manager copies and indexes them)."""
    bin_dir = pywb_bin()
    root = tmp_path_factory.mktemp("pywb")
    files = [str(f) for night in nights["files"] for f in night]
    for args in (["init", "nb"], ["add", "nb", *files]):
        proc = subprocess.run([str(bin_dir / "wb-manager"), *args], cwd=root, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
    port = unused_port()
    server = subprocess.Popen([str(bin_dir / "wayback"), "-p", str(port), "-b", "127.0.0.1"], cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:  # read its log for the start line, and keep the pipe from filling
        for line in server.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    seen: list[str] = []

    def next_line(timeout: float) -> str:
        line = lines.get(timeout=timeout)
        assert line is not None, "wayback exited: " + "".join(seen)[-2000:]
        seen.append(line)
        return line

    try:
        while f"Starting Gevent Server on {port}" not in next_line(60):
            pass
        # it logs that line just before binding: now wait on the port itself, between tries on its log
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "wayback never listened: " + "".join(seen)[-2000:]
                with contextlib.suppress(queue.Empty):
                    next_line(0.05)
        yield f"http://127.0.0.1:{port}/nb"
    finally:
        server.terminate()
        server.wait(timeout=30)


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def timestamp(rec: Rec) -> str:
    return "".join(ch for ch in rec.headers["WARC-Date"] if ch.isdigit())[:14]


def test_column_report_and_pdf_replay_as_captured(nights, wayback):
    first, second = nights["recs"]
    for name in ("column", "report", "pdf"):
        url = nights["urls"][name]
        captured = by_url(first, url, "response")
        status, headers, body = fetch(f"{wayback}/{timestamp(captured)}id_/{url}")
        assert status == captured.http_status == 200, name
        assert headers["content-type"] == captured.http_headers["content-type"], name
        assert body == captured.content, name  # the payload as received (content-decoded)
    pdf = by_url(first, nights["urls"]["pdf"], "response")
    assert pdf.content.startswith(b"%PDF-") and pdf.http_headers["content-type"] == "application/pdf"
    # the second night: the unchanged column replays the first night's bytes; a 304 replays as the 304 it was
    column = by_url(second, nights["urls"]["column"], "revisit")
    status, headers, body = fetch(f"{wayback}/{timestamp(column)}id_/{nights['urls']['column']}")
    assert (status, body) == (200, by_url(first, nights["urls"]["column"], "response").content)
    assert headers["memento-datetime"]
    report = by_url(second, nights["urls"]["report"], "revisit")
    status, _, body = fetch(f"{wayback}/{timestamp(report)}id_/{nights['urls']['report']}")
    assert (status, body) == (304, b"")


def test_the_column_never_replays_as_the_crawl_summary(nights, wayback):
    url = nights["urls"]["column"]
    with urllib.request.urlopen(f"{wayback}/cdx?url={url}&output=json", timeout=30) as resp:
        rows = [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]
    assert len(rows) == 2 and {r["mime"] for r in rows} <= {"text/html", "warc/revisit"}
    for night in nights["recs"]:  # at the summary's own time the column is still the column
        summary = next(r for r in night
                       if r.type == "metadata" and r.headers["WARC-Nianbao-Source"] == "fixture-static")
        status, headers, body = fetch(f"{wayback}/{timestamp(summary)}id_/{url}")
        assert status == 200 and headers["content-type"].startswith("text/html") and not body.startswith(b"{")


def test_the_archive_links_304_revisits_to_their_version(nights, tmp_path):
    """A server-not-modified revisit has no payload digest: the archive links it by the confirmed copy's."""
    import sqlite3

    from nianbao.archive.build import build_archive

    out = tmp_path / "nianbao.db"
    build_archive(out, warcs=[f for night in nights["files"] for f in night])
    db = sqlite3.connect(out)
    db.row_factory = sqlite3.Row
    url = nights["urls"]["report"]
    first, second = (db.execute("select * from captures where url = ? and record_type = ?", [url, t]).fetchone()
                     for t in ("response", "revisit"))
    assert second["http_status"] == 304 and second["payload_digest"] == first["payload_digest"]
    assert first["version_id"] and second["version_id"] == first["version_id"]
    version = db.execute("select * from document_versions where id = ?", [first["version_id"]]).fetchone()
    assert version["last_seen"] >= second["fetched"] > version["first_seen"]  # seen again on night 2
