"""WarcRecorder on its own: framing headers Scrapy already undid (chunked) must not break
`warcio check`; unique file names; revisit headers."""

from __future__ import annotations

import subprocess
import sys

from scrapy.http import HtmlResponse, Request, Response

from nianbao.crawler.warc import WarcRecorder, payload_digest
from tests.crawler.helpers import read_warc


def check(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from warcio.cli import main; sys.exit(main())",
                           "check", str(path)], capture_output=True, text=True)


def test_chunked_response_round_trips_and_checks(tmp_path):
    rec = WarcRecorder(tmp_path, "r1", "src", {"software": "test"})
    req = Request("http://x.gov.cn/a.html?b=1", headers={"Accept-Encoding": "gzip"})
    body = "某区2023年政府信息公开工作年度报告".encode("gbk")
    resp = HtmlResponse(req.url, status=200, body=body, request=req,
                        headers={"Content-Type": "text/html; charset=GBK", "Transfer-Encoding": "chunked"})
    rid, date = rec.write_response(resp, "report")
    rec.write_request(req, concurrent_to=rid)
    rec.write_revisit(Response(req.url, status=304, headers={"ETag": '"e1"'}), "report", payload_digest(body),
                      {"url": req.url, "date": date, "record_id": rid})
    rec.write_summary({"source": "src", "complete": True}, "http://x.gov.cn/")
    rec.close()
    proc = check(rec.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recs = read_warc(rec.path)
    assert [r.type for r in recs] == ["warcinfo", "response", "request", "revisit", "metadata"]
    response = recs[1]
    assert response.content == body  # not de-chunked a second time
    assert response.http_headers["x-nianbao-original-transfer-encoding"] == "chunked"
    assert response.headers["WARC-Payload-Digest"] == payload_digest(body)
    request = recs[2]
    assert request.headers["WARC-Concurrent-To"] == rid
    assert request.status_line == "GET /a.html?b=1 HTTP/1.1", request.status_line
    assert request.http_headers["host"] == "x.gov.cn" and request.http_headers["accept-encoding"] == "gzip"
    revisit = recs[3]
    assert revisit.http_status == 304 and revisit.headers["WARC-Refers-To"] == rid
    assert revisit.headers["WARC-Refers-To-Date"] == date
    assert revisit.headers["WARC-Payload-Digest"] == payload_digest(body)


def test_two_recorders_never_share_a_file(tmp_path):
    a = WarcRecorder(tmp_path, "same", "src", {})
    b = WarcRecorder(tmp_path, "same", "src", {})
    a.close(), b.close()
    assert a.path != b.path and a.path.exists() and b.path.exists()
