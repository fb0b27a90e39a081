"""The fixture portal's network fault modes (bench/soak.py uses them): reset, truncate, charset,
huge (streamed, never held), drip, trap; each answers as documented and recover() clears it."""

from __future__ import annotations

import http.client
import time

import pytest

from nianbao.crawler.fixture_portal import FixturePortal, big_site


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    with FixturePortal(tmp_path_factory.mktemp("site"), big_site(25, 10)) as p:
        yield p


def get(portal, path: str) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    conn = http.client.HTTPConnection("127.0.0.1", portal.server.port, timeout=30)
    conn.request("GET", path)
    return conn.getresponse(), conn


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


def test_reset_truncate_charset(portal):
    path = portal.report_url("b1")[len(portal.base_url):]
    good, conn = get(portal, path)
    body, ctype = good.read(), good.getheader("Content-Type")
    conn.close()
    portal.fault("b1", "reset", times=1)
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        get(portal, path)
    assert portal.requests()[-1].status == 0
    portal.fault("b1", "truncate", times=1)
    resp, conn = get(portal, path)
    assert int(resp.getheader("Content-Length")) == len(body)
    with pytest.raises(http.client.IncompleteRead) as cut:
        resp.read()
    assert cut.value.partial == body[: len(body) // 2]
    conn.close()
    portal.fault("b1", "charset", times=1)
    resp, conn = get(portal, path)
    assert resp.read() == body and resp.getheader("Content-Type") != ctype
    assert resp.getheader("Content-Type").endswith("charset=" + ("utf-8" if "gb" in ctype.lower() else "gbk"))
    conn.close()
    again, conn = get(portal, path)  # times=1 each: the page is itself again
    assert again.read() == body and again.getheader("Content-Type") == ctype
    conn.close()


def test_huge_body_is_streamed_not_held(portal):
    size = 96 * 1024 * 1024
    portal.fault("b2", "huge", times=1, size=size)
    before = rss_mb()
    resp, conn = get(portal, portal.report_url("b2")[len(portal.base_url):])
    assert resp.status == 200 and int(resp.getheader("Content-Length")) == size
    total = 0
    while chunk := resp.read(1 << 20):
        total += len(chunk)
    conn.close()
    assert total == size
    assert rss_mb() - before < 24  # the server thread wrote one 1 MiB buffer over and over


def test_drip_sends_a_byte_per_interval(portal):
    portal.fault("b3", "drip", times=1, size=5, interval=0.02)
    t0 = time.monotonic()
    resp, conn = get(portal, portal.report_url("b3")[len(portal.base_url):])
    assert resp.read() == b"     " and time.monotonic() - t0 >= 0.1
    conn.close()


def test_trap_chains_list_pages_until_recover(portal):
    column = portal.column_url("bench")[len(portal.base_url):]
    portal.fault(column + "index_2.html", "trap")
    resp, conn = get(portal, column + "index_2.html")
    page = resp.read().decode("utf-8")
    conn.close()
    assert 'href="./index_trap1.html">&#19979;&#19968;&#39029;' in page and "t2" in page  # the list + the trap
    resp, conn = get(portal, column + "index_trap7.html")
    assert resp.status == 200 and 'href="./index_trap8.html">下一页' in resp.read().decode("utf-8")
    conn.close()
    portal.recover()
    resp, conn = get(portal, column + "index_trap8.html")
    assert resp.status == 404
    resp.read()
    conn.close()
