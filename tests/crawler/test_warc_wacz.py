"""`nianbao export --wacz`: a real crawl's WARCs packaged as a WACZ that the format's own validator accepts,
holding every closed WARC byte for byte (never a `.open` file still being written), an index that finds the
column, a report and its PDF, and a pages list of every good column and report page, titled as listed."""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import zipfile

import pytest

from nianbao.commands import export
from nianbao.crawler.fixture_portal import FixturePortal
from tests.crawler.helpers import records, run_crawl, summaries


def run_export(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    export.register(parser.add_subparsers())
    return export.run(parser.parse_args(["export", *argv]))


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wacz")
    data = tmp / "data"
    with FixturePortal(tmp / "site") as portal:
        registry = portal.write_registry(tmp / "sources.yaml")
        proc = run_crawl(data, "--sources", str(registry), "--impolite")
        assert proc.returncode == 0, proc.stderr[-3000:]
        urls = {"column": portal.column_url("fixture-static"), "report": portal.report_url("s2022"),
                "pdf": portal.attachment_urls("s2022")[0]}
    warcs = sorted((data / "warcs").glob("*.warc.gz"))
    recs = records(data / "warcs", warcs)
    titles = {u: t for s in summaries(recs).values() for u, t in s["titles"].items()}
    good_pages = {r.url for r in recs if r.type == "response" and r.http_status == 200
                  and r.headers.get("WARC-Nianbao-Role") in ("list", "report") and "WARC-Nianbao-Junk" not in r.headers
                  and "html" in r.http_headers.get("content-type", "")}
    (data / "warcs" / "nianbao-x-fixture-static-20260101T000000-1.warc.gz.open").write_bytes(b"being written")
    return {"tmp": tmp, "data": data, "warcs": warcs, "urls": urls, "titles": titles, "good_pages": good_pages}


def test_export_wacz_validates_and_holds_the_crawl(crawled, capsys):
    out = crawled["tmp"] / "out" / "crawl.wacz"
    assert run_export("--data-dir", str(crawled["data"]), "--wacz", str(out)) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{out}: 3 WARC files, ") and "pages" in printed
    proc = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0 and "Validation succeeded" in proc.stdout, proc.stdout + proc.stderr
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        assert {f"archive/{w.name}" for w in crawled["warcs"]} == {n for n in names if n.startswith("archive/")}
        for w in crawled["warcs"]:
            assert z.read(f"archive/{w.name}") == w.read_bytes()
        index = gzip.decompress(z.read("indexes/index.cdx.gz")).decode()
        pages = [json.loads(line) for line in z.read("pages/pages.jsonl").decode().splitlines()]
        package = json.loads(z.read("datapackage.json"))
    urls = crawled["urls"]
    for url in urls.values():
        assert f'"url": "{url}"' in index, url
    assert '"mime": "application/pdf"' in index
    assert pages[0]["format"] == "json-pages-1.0"
    listed = {p["url"]: p for p in pages[1:]}
    assert {urls["column"], urls["report"]} <= set(listed) and urls["pdf"] not in listed
    assert listed[urls["report"]]["title"] == crawled["titles"][urls["report"]]  # as the column listed it
    assert len(listed) == len(crawled["good_pages"]) == len(pages) - 1 and set(listed) == crawled["good_pages"]
    assert package["profile"] == "data-package" and len(package["resources"]) == len(names) - 2


def test_export_wacz_without_warcs_says_so(tmp_path, capsys):
    assert run_export("--data-dir", str(tmp_path / "empty"), "--wacz", str(tmp_path / "x.wacz")) == 1
    assert "no closed WARC files" in capsys.readouterr().err
    assert not (tmp_path / "x.wacz").exists()
