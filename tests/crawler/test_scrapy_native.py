"""Scrapy-native (issue 12 point 5): from the top of the repo, `scrapy list` shows the platform spiders and
the host spider, and `scrapy crawl <spider> -a source=NAME` (or `host -a host=H`) crawls a registry entry
with no help from `nianbao crawl`: the spider reads the entry from the registry by name, the WARC capture
writes its file and summary. Politeness is switched off with `-s` for the loopback fixture portal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nianbao.crawler.fixture_portal import FixturePortal
from tests.crawler.helpers import REPO, records, summaries

SCRAPY = [sys.executable, "-m", "scrapy"]
LOOPBACK = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=WARNING"]


def test_scrapy_list_shows_the_spiders():
    proc = subprocess.run([*SCRAPY, "list"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["column", "host", "trs"]


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("native")
    with FixturePortal(root / "site") as p:
        yield p, p.write_registry(root / "sources.yaml"), root


@pytest.mark.parametrize("spider,arg,expected", [
    ("trs", "source=fixture-trs", {"fixture-trs": 5}),
    ("column", "source=fixture-static", {"fixture-static": 8}),
    ("column", "source=fixture-years", {"fixture-years": 4}),
    ("host", "host=127.0.0.1:{port}", {"fixture-static": 8, "fixture-trs": 5, "fixture-years": 4}),
])
def test_scrapy_crawl_a_registry_entry(portal, spider, arg, expected):
    site, registry, root = portal
    out = root / f"{spider}-{arg.split('=')[1].split(':')[0]}"
    proc = subprocess.run([*SCRAPY, "crawl", spider, "-a", arg.format(port=site.server.port),
                           "-a", f"registry={registry}", "-s", f"NIANBAO_WARC_DIR={out / 'warcs'}",
                           "-s", f"NIANBAO_STATE_DB={out / 'state.db'}",
                           *LOOPBACK], capture_output=True, text=True, cwd=REPO, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = summaries(records(Path(out / "warcs")))
    assert {name: len(s["report_urls"]) for name, s in got.items()} == expected
    assert all(s["complete"] and s["close_reason"] == "finished" for s in got.values())
    files = [f.name for f in (out / "warcs").iterdir()]
    assert all(f.endswith(".warc.gz") for f in files)  # closed
    assert sorted(n for n in expected for f in files if f"-{n}-" in f) == sorted(expected)  # one WARC per source


def test_an_unknown_source_name_is_refused_with_the_known_names(portal):
    _, registry, _ = portal
    proc = subprocess.run([*SCRAPY, "crawl", "column", "-a", "source=nope", "-a", f"registry={registry}", *LOOPBACK],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode != 0
    assert "no such source 'nope'" in proc.stderr and "fixture-static" in proc.stderr
