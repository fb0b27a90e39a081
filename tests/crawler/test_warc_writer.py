"""WarcRecorder on its own: framing headers Scrapy already undid (chunked) must not break
`warcio check`; unique file names (with the worker id when set); revisit profiles (a 304 is
`server-not-modified`, a 200 with the same payload `identical-payload-digest`); the summary's urn: target."""

from __future__ import annotations

import subprocess
import sys

from scrapy.http import HtmlResponse, Request, Response

from nianbao.crawler.warc import NOT_MODIFIED_PROFILE, REFERS_TO_DIGEST, WarcRecorder, payload_digest
from tests.crawler.helpers import read_warc


def check(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from warcio.cli import main; sys.exit(main())",
                           "check", str(path)], capture_output=True, text=True)


def test_chunked_response_round_trips_and_checks(tmp_path):
    rec = WarcRecorder(tmp_path, "r1", "src", {"software": "test"})
    assert rec.path.name.startswith("nianbao-r1-src-") and rec.path.name.endswith(".warc.gz.open")
    req = Request("http://x.gov.cn/a.html?b=1", headers={"Accept-Encoding": "gzip"})
    body = "某区2023年政府信息公开工作年度报告".encode("gbk")
    resp = HtmlResponse(req.url, status=200, body=body, request=req,
                        headers={"Content-Type": "text/html; charset=GBK", "Transfer-Encoding": "chunked"})
    rid, date = rec.write_response(resp, "report")
    rec.write_request(req, concurrent_to=rid)
    rec.write_revisit(Response(req.url, status=304, headers={"ETag": '"e1"'}), "report", payload_digest(body),
                      {"url": req.url, "date": date, "record_id": rid})
    rec.write_revisit(Response(req.url, status=200, body=body), "report", payload_digest(body),
                      {"url": req.url, "date": date, "record_id": rid})
    rec.write_summary({"source": "src", "complete": True})
    rec.close()
    proc = check(rec.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recs = read_warc(rec.path)
    assert [r.type for r in recs] == ["warcinfo", "response", "request", "revisit", "revisit", "metadata"]
    response = recs[1]
    assert response.content == body  # not de-chunked a second time
    assert response.http_headers["x-nianbao-original-transfer-encoding"] == "chunked"
    assert response.headers["WARC-Payload-Digest"] == payload_digest(body)
    request = recs[2]
    assert request.headers["WARC-Concurrent-To"] == rid
    assert request.status_line == "GET /a.html?b=1 HTTP/1.1", request.status_line
    assert request.http_headers["host"] == "x.gov.cn" and request.http_headers["accept-encoding"] == "gzip"
    revisit = recs[3]  # the server said 304: WARC 1.1 §6.7.3, no payload digest (no payload was seen)
    assert revisit.http_status == 304 and revisit.headers["WARC-Refers-To"] == rid
    assert revisit.headers["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
    assert revisit.headers["WARC-Profile"] == NOT_MODIFIED_PROFILE
    assert revisit.headers["WARC-Refers-To-Date"] == date and revisit.headers["WARC-Refers-To-Target-URI"] == req.url
    assert "WARC-Payload-Digest" not in revisit.headers
    assert revisit.headers[REFERS_TO_DIGEST] == payload_digest(body)  # what the archive links it by
    assert revisit.headers["Content-Length"] != "0" and revisit.http_headers["etag"] == '"e1"'
    same = recs[4]  # a 200 whose payload digest is the stored copy's: §6.7.2
    assert same.http_status == 200 and same.content == b""
    assert same.headers["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    assert same.headers["WARC-Payload-Digest"] == payload_digest(body) and same.headers["WARC-Refers-To"] == rid
    summary = recs[5]
    assert summary.url == "urn:nianbao:crawl-summary:src:r1" and summary.headers["WARC-Nianbao-Kind"] == "crawl-summary"


def test_two_recorders_never_share_a_file(tmp_path):
    a = WarcRecorder(tmp_path, "same", "src", {})
    b = WarcRecorder(tmp_path, "same", "src", {})
    a.close(), b.close()
    assert a.path != b.path and a.path.exists() and b.path.exists()


def test_worker_id_in_the_file_name(tmp_path):
    rec = WarcRecorder(tmp_path, "r2", "src", {}, worker_id="crawl-box/3")
    rec.close()
    name = rec.path.name
    assert name.startswith("nianbao-r2-src-") and "-crawl_box_3-" in name and name.endswith(".warc.gz")
    plain = WarcRecorder(tmp_path, "r2", "src", {}, worker_id="")
    plain.close()
    assert plain.path.name.count("-") == 4  # nianbao, run, source, stamp, pid: no worker part
