"""The demo portal: the demo content laid out with the crawler's fixture-portal machinery.

Built on `crawler.fixture_portal` (site tree, list styles, HTTP server with validators, gzip,
redirects) with one change: report pages are the demo's own canonical reports rendered by
`parsers.render.render_report` in the declared style, and the DOCX report carries the full
tables (merged cells included) so the attachment path yields real numbers too.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nianbao.crawler.fixture_portal import Extra, FixturePortal, Portal, Report, Site
from nianbao.crawler.fixture_portal.site import CHALLENGE_PAGE, FileMeta, SiteBuilder
from nianbao.demo.content import DemoPortalSpec, DemoReport, portals

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _page(site_name: str, title: str, body: str, encoding: str) -> str:
    """A portal page around `body`: header, breadcrumb, footer (as real 政府信息公开 columns have)."""
    charset = "gbk" if encoding.lower() in ("gbk", "gb2312", "gb18030") else "utf-8"
    return (f'<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html; '
            f'charset={charset}">\n<title>{html.escape(title)}_{html.escape(site_name)}</title>\n</head>\n<body>\n'
            f'<div class="header"><a href="/">{html.escape(site_name)}</a> &gt; 政府信息公开 &gt; '
            '政府信息公开年报</div>\n'
            f"{body}\n"
            f'<div class="footer">主办单位：{html.escape(site_name)}办公室（演示站点，内容为虚构）</div>\n'
            '</body>\n</html>\n')


def _article(report: DemoReport) -> str:
    from nianbao.parsers.render import render_report

    page = render_report(report.canonical, style=report.style)
    start, end = page.find('<div class="article">'), page.rfind("</div>")
    return page[start:end + 6] if start >= 0 else page


def _expand(table: Any) -> tuple[list[tuple[int, int, int, int, str]], int, int]:
    """(row, col, rowspan, colspan, text) for every cell of an lxml <table>, after span expansion."""
    taken: set[tuple[int, int]] = set()
    cells = []
    nrows = ncols = 0
    for r, tr in enumerate(table.iter("tr")):
        c = 0
        for td in tr:
            if td.tag not in ("td", "th"):
                continue
            while (r, c) in taken:
                c += 1
            rs, cs = int(td.get("rowspan", 1)), int(td.get("colspan", 1))
            text = " ".join(td.text_content().split()).replace("\xa0", "").strip()
            cells.append((r, c, rs, cs, text))
            for dr in range(rs):
                for dc in range(cs):
                    taken.add((r + dr, c + dc))
            c += cs
            nrows, ncols = max(nrows, r + rs), max(ncols, c)
    return cells, nrows, ncols


def make_report_docx(report: DemoReport, revision: int = 0) -> bytes:
    """The report as a Word file: the rendered page's paragraphs and its tables with real merges."""
    closing = f"（本报告于第{revision}次更正，更正了部分数据。）" if revision else None
    return article_docx(_article(report), closing=closing)


def article_docx(article_html: str, *, closing: str | None = None,
                 finish: Callable[[Any], None] | None = None) -> bytes:
    """A rendered report article as a Word file with real merges, byte-stable (fixed zip and core
    times: an unchanged report keeps the same bytes and ETag). `closing` adds a last paragraph,
    `finish(document)` may change the document before it is saved (e.g. a page-number footer)."""
    import docx
    import lxml.html

    tree = lxml.html.fromstring(article_html)
    document = docx.Document()
    for el in tree.iter("h1", "h3", "p", "table"):
        if el.tag == "table":
            cells, nrows, ncols = _expand(el)
            table = document.add_table(rows=nrows, cols=ncols)
            table.style = "Table Grid"
            for r, c, rs, cs, text in cells:
                cell = table.cell(r, c)
                if rs > 1 or cs > 1:
                    cell = cell.merge(table.cell(r + rs - 1, c + cs - 1))
                cell.text = text
        elif el.getparent() is not None and el.getparent().tag in ("td", "th"):
            continue  # paragraphs inside cells were taken with their table
        else:
            text = " ".join(el.text_content().split())
            if text:
                document.add_paragraph(text)
    if closing:
        document.add_paragraph(closing)
    if finish is not None:
        finish(document)
    fixed = datetime(2025, 1, 1, tzinfo=UTC)
    document.core_properties.created = document.core_properties.modified = fixed
    buf = io.BytesIO()
    document.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2025, 1, 1, 0, 0, 0)),
                         src.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


class DemoSiteBuilder(SiteBuilder):
    """SiteBuilder whose report pages come from the demo's canonical reports."""

    def __init__(self, site: Site, root: Path, specs: dict[str, DemoPortalSpec]):
        super().__init__(site, root)
        self.specs = specs
        self.by_key = {r.key: r for s in specs.values() for r in s.reports}
        self.tableless: set[str] = set()  # report keys whose page lost its tables (a scan replaced them)
        self.blocked: set[str] = set()  # portal names whose column answers a WAF challenge

    def _build_portal(self, portal: Portal, port: int) -> None:
        super()._build_portal(portal, port)
        if portal.name in self.blocked:  # the column's first page becomes a JS challenge (200)
            self._write(portal.column + "index.html", CHALLENGE_PAGE.encode(),
                        FileMeta("text/html; charset=UTF-8", validators=False))

    def _build_report(self, portal: Portal, r: Report) -> None:
        demo = self.by_key.get(r.key)
        if demo is None:  # a report added by a test as a plain fixture Report
            return super()._build_report(portal, r)
        site_name = self.specs[portal.name].site
        path = portal.column + r.slug
        revision = (f'\n<p class="revision">（本报告于第{r.revision}次更正，更正了部分数据。）</p>'
                    if r.revision else "")
        if demo.kind == "docx":
            stem = path.rsplit("/", 1)[1].rsplit(".", 1)[0]
            att = f"P0{stem[-5:]}.docx"
            self._write(path.rsplit("/", 1)[0] + "/" + att, make_report_docx(demo, r.revision),
                        FileMeta(DOCX_TYPE, validators=portal.validators))
            body = (f'<div class="article"><h1>{html.escape(demo.title)}</h1><p>发布日期：{demo.published}</p>'
                    f'<p>附件：<a href="./{att}">{html.escape(demo.title)}.docx</a></p></div>{revision}')
        elif r.key in self.tableless:
            body = re.sub(r"<table.*?</table>", "<p>（统计表见扫描件）</p>", _article(demo), flags=re.S) + revision
        else:
            body = _article(demo) + revision
        self._html(portal, path, _page(site_name, demo.title, body, portal.encoding))


def demo_site() -> tuple[Site, dict[str, DemoPortalSpec]]:
    """The crawler-fixture description of the demo portals (fresh objects: mutations stay local)."""
    specs = {s.name: s for s in portals()}
    site_portals = []
    for s in specs.values():
        site_portals.append(Portal(
            name=s.name, style=s.style, column=s.column, agency=s.site, encoding=s.encoding,
            per_page=s.per_page, gzip=s.gzip, validators=s.validators, charset_header=s.charset_header,
            platform=s.platform, division_code=s.division_code,
            reports=[Report(r.key, r.agency, r.year, r.published, r.slug, kind="html", title=r.title)
                     for r in s.reports],
            extras=[Extra(e["title"], e["href"], e.get("kind", "page")) for e in s.extras]))
    return Site(portals=site_portals), specs


class DemoPortal(FixturePortal):
    """The bundled demo portal served on 127.0.0.1 (ephemeral port); see `FixturePortal`."""

    def __init__(self, root: str | Path):
        site, self.specs = demo_site()
        super().__init__(root, site)

    def rebuild(self) -> None:
        if not isinstance(self.builder, DemoSiteBuilder):
            self.builder = DemoSiteBuilder(self.site, self.root, self.specs)
        super().rebuild()

    # -- mutations beyond the fixture portal's edit/remove/move/add (call between crawls) ------------
    def drop_tables(self, key: str) -> None:
        """The report's page loses its tables (text only): the next parse is `no_tables` (parse drift)."""
        self.builder.tableless.add(key)  # type: ignore[attr-defined]
        self.rebuild()

    def block(self, portal_name: str) -> None:
        """The column's first page answers a WAF JavaScript challenge with status 200."""
        self.builder.blocked.add(portal_name)  # type: ignore[attr-defined]
        self.rebuild()

    def empty(self, portal_name: str) -> None:
        """Every report leaves the column (the list pages stay, with nothing on them)."""
        self.site.portal(portal_name).reports.clear()
        self.rebuild()

    def registry(self) -> dict[str, Any]:
        reg = super().registry()
        for entry in reg["sources"]:
            spec = self.specs[entry["name"]]
            entry["agency"] = spec.site
            entry["region"] = "演示省"
            entry["note"] = f"demo portal ({spec.style} style, {spec.encoding}); fictitious content"
        return reg
