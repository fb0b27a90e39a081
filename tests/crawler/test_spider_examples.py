"""Every registry entry, run through its platform spider on a saved example of its list page (Kingfisher
Collect's test over every spider, juriscraper's example files with their expected output).

`tests/crawler/examples/<source>/list.html` is a list page written in the shape the portal serves
(../shared/portals.md, ../shared/real/pingtan_list_index.html: item markup, pagination scripts, Hanweb
datastores, year sub-columns, a GB2312 page, 解读 and 通知 among the reports), not a copy of it;
`expected.json` holds the report links and the further list requests (pagination, sub-columns, a
search API's first page) the spider must make from it. The spider is built as `scrapy crawl
<platform> -a source=NAME` builds it: from the registry entry's name.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from scrapy.http import HtmlResponse
from scrapy.settings import Settings

from nianbao.crawler.registry import load_sources
from nianbao.crawler.spiders import SPIDERS_BY_PLATFORM

EXAMPLES = Path(__file__).with_name("examples")
SOURCES = {s.name: s for s in load_sources()}


def test_every_registry_entry_has_an_example():
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(SOURCES)


def crawl_example(name: str, tmp_path: Path) -> tuple[list[str], list[list]]:
    source = SOURCES[name]
    spider = SPIDERS_BY_PLATFORM[source.platform](source=name)  # by name, as `-a source=NAME` gives it
    assert spider.source == source
    spider.bind(Settings({"NIANBAO_STATE_DB": str(tmp_path / "state.db"), "NIANBAO_RUN_ID": "example"}))
    url = source.start_urls[0]
    body = (EXAMPLES / name / "list.html").read_bytes()
    start = spider.list_request(url, depth=0)  # as the spider's start() asks for it
    assert start is not None and start.url == url
    response = HtmlResponse(url, body=body, request=start)
    out = list(spider.parse_list(response) or [])
    spider.crawl_db.close()
    reports = sorted(r.url for r in out if r.meta["nianbao_role"] == "report")
    lists = sorted([r.method, r.url, dict(parse_qsl(r.body.decode())) if r.method == "POST" else None]
                   for r in out if r.meta["nianbao_role"] == "list")
    return reports, lists


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_spider_finds_the_reports_of_the_example_list_page(name, tmp_path):
    expected = json.loads((EXAMPLES / name / "expected.json").read_text(encoding="utf-8"))
    reports, lists = crawl_example(name, tmp_path)
    assert reports == sorted(expected["reports"])
    assert lists == sorted(expected["lists"])
    assert reports or lists  # every example leads somewhere
