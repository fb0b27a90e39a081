"""The fixture portal's server behaves like a real portal (the demo reuses it): validators and
304s, gzip only when accepted, redirects, 404s, charsets, robots.txt, mutations, failures."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request

import pytest

from nianbao.crawler.fixture_portal import FixturePortal


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url: str, **headers: str):
    opener = urllib.request.build_opener(NoRedirect)
    try:
        return opener.open(urllib.request.Request(url, headers=headers))
    except urllib.error.HTTPError as exc:
        return exc


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    with FixturePortal(tmp_path_factory.mktemp("portal")) as p:
        yield p


def test_validators_and_304(portal):
    url = portal.report_url("s2021")
    first = get(url)
    etag, lm = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.status == 200 and etag.startswith('"') and lm.endswith("GMT")
    assert get(url, **{"If-None-Match": etag}).status == 304
    assert get(url, **{"If-Modified-Since": lm}).status == 304
    assert get(url, **{"If-None-Match": '"other"'}).status == 200
    years = get(portal.report_url("y2024a"))
    assert years.status == 200 and "ETag" not in years.headers and "Last-Modified" not in years.headers


def test_gzip_only_when_accepted(portal):
    url = portal.report_url("s2024")
    plain = get(url).read()
    zipped = get(url, **{"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.read()) == plain
    assert get(portal.report_url("t2023"), **{"Accept-Encoding": "gzip"}).headers["Content-Encoding"] is None


def test_charsets_redirects_404s_robots(portal):
    assert get(portal.report_url("y2024a")).headers["Content-Type"] == "text/html; charset=GBK"
    assert get(portal.column_url("fixture-years")).headers["Content-Type"] == "text/html"
    body = get(portal.report_url("y2024a")).read()
    assert "丁区人民政府办公室".encode("gbk") in body
    moved = get(portal.listed_url("s2018"))
    assert moved.status == 301 and moved.headers["Location"] == "/static/zfxxgknb/201901/t20190130_0901.html"
    assert get(portal.report_url("s2019")).status == 404
    assert get(portal.base_url + "/robots.txt").read() == b"User-agent: *\nDisallow: /static/zfxxgknb/private/\n"
    challenge = get(portal.report_url("s2020")).read()
    from nianbao.parsers.junk import classify_junk
    assert classify_junk(challenge, "") == "challenge_page"


def test_mutations_change_exactly_what_they_say(tmp_path):
    with FixturePortal(tmp_path / "site") as p:
        before = {k: get(p.report_url(k)).headers["ETag"] for k in ("t2020", "t2024")}
        p.edit("t2024")
        assert get(p.report_url("t2024")).headers["ETag"] != before["t2024"]
        assert get(p.report_url("t2020")).headers["ETag"] == before["t2020"]  # untouched file, same validators
        old = p.report_url("t2023")
        p.move("t2023", "202402/t20240201_90002.htm")
        assert get(old).status == 301 and get(p.report_url("t2023")).status == 200
        listing = get(p.column_url("fixture-trs")).read().decode()
        assert "202402/t20240201_90002.htm" in listing and "202401/t20240120_90001.htm" not in listing
        gone = p.report_url("t2021")
        p.remove("t2021")
        assert get(gone).status == 404
        p.unlist("t2020")
        assert get(p.report_url("t2020")).status == 200
        assert "t20210120_60001" not in "".join(get(p.column_url("fixture-trs") + f"index_{i}.html").read().decode()
                                               if i else get(p.column_url("fixture-trs")).read().decode()
                                               for i in range(2))
        p.fail("t2022", times=1, status=503)
        assert get(p.report_url("t2022")).status == 503
        assert get(p.report_url("t2022")).status == 200
        assert [(q.path, q.status) for q in p.requests()][-2:] == [
            ("/trs/zwgk/zfxxgk/zfxxgknb/202301/t20230118_80001.htm", 503),
            ("/trs/zwgk/zfxxgk/zfxxgknb/202301/t20230118_80001.htm", 200)]
