"""TRS CMS (拓尔思 WCM) columns: index.html, index_1.html… with the page count in a script
(`createPageHTML(countPage, …)` or `var countPage = N`). The generic rules already read those
scripts; this base adds the TRS habit of numbering pages even when the script is missing or
obfuscated: it probes `index_1`… from the first page when `recordCount` says there are more items
than one page shows (Pingtan's column: 20 records, 10 per page, the rest behind a search API). A
probed page that 404s does not make the crawl incomplete. Per-site config stays a few lines in sources.yaml.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from nianbao.crawler.links import column_prefix
from nianbao.crawler.spiders.column import ColumnSpider

_RECORD_COUNT = re.compile(r"recordCount\s*[:=]\s*['\"]?(\d+)")
_PER_PAGE = re.compile(r"(?:prepage|pageSize|perPage)\s*[:=]\s*['\"]?(\d+)", re.I)


class TrsSpider(ColumnSpider):
    name = "trs"

    def probe_list_pages(self, response: Any, pages: list[str]) -> list[str]:
        first_page = response.url.endswith(("/", "/index.html", "/index.shtml", "/index.htm"))
        if pages or response.meta.get("sub_depth", 0) or not first_page:
            return []
        text = response.text
        total, per = _RECORD_COUNT.search(text), _PER_PAGE.search(text)
        if total and per and int(total.group(1)) > int(per.group(1)):
            suffix = "shtml" if response.url.endswith(".shtml") else "html"
            n = -(-int(total.group(1)) // int(per.group(1)))
            base = column_prefix(response.url)
            return [urljoin(base, f"index_{i}.{suffix}") for i in range(1, min(n, 500))]
        return []
