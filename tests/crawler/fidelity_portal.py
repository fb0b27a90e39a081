"""The acceptance portal of issue 11: a district portal whose every page fights the pipeline.

Shapes taken from shared/real (TRS pages of Pingtan, the 沭阳 county page): breadcrumbs on every
page ("首页 > 信息公开 > 政府信息公开年报", "当前位置：…", "»", "›"), a site menu and the column name
above the article, <title> with a site suffix, and report pages whose body carries the title only in
<title> or in an h2. Two columns of 临江市白沙区:
  - `fid-bsq` (static pagination): the district government's and 教育局's reports — an HTML page
    with tables that also links its PDF (same report), a stub page "详见附件" + PDF, a DOCX the list
    links straight to, and a 解读 whose truncated list title ("…解…") lets it through to the archive
    while it repeats the report's title and numbers;
  - `fid-bmapi` (TRS "动静结合"): department reports, page 1 static, the rest only via the search API.
One department prints its name three ways over the years; consecutive years chain (上年结转 =
previous 结转下年度) except one planted break. The content (every cell's truth) and the attachment
files come from tests/crawler/fixtures/fidelity (`make_fidelity.py`, committed output).

A test fixture, so it lives with the tests (it reads tests/ data): built on the product's fixture
portal machinery (nianbao.crawler.fixture_portal, which `nianbao demo` uses), not shipped in the wheel.

    with FidelityPortal(tmp / "site") as portal:
        registry = portal.write_registry(tmp / "sources.yaml")
        portal.reports      # the planted reports (dicts with "canonical": the truth)
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from nianbao.crawler.fixture_portal import Extra, FixturePortal, Portal, Report, Site
from nianbao.crawler.fixture_portal.site import FileMeta, SiteBuilder

DATA_DIR = Path(__file__).resolve().parent / "fixtures" / "fidelity"
SITE_NAME = "临江市白沙区人民政府门户网站"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
COLUMNS = {
    "bsq": dict(name="fid-bsq", style="static", column="/bsq/zwgk/zfxxgk/zfxxgknb/", per_page=4,
                agency="白沙区人民政府", platform="generic"),
    "api": dict(name="fid-bmapi", style="trsapi", column="/bsq/zwgk/bmxxgk/zfxxgknb/", per_page=3,
                agency="", platform="trs"),
}
JIEDU_SLUG = "202503/t20250312_731602.html"
MENU = ('<div class="header"><a class="logo" href="/">' + SITE_NAME + '</a><ul class="menu">'
        '<li><a href="/">首页</a></li><li><a href="/bsq/zwgk/">政务公开</a></li>'
        '<li><a href="/bsq/zwgk/zfxxgk/">信息公开</a></li><li><a href="/bsq/hdjl/">互动交流</a></li>'
        '<li><a href="/bsq/zwgk/zfxxgk/zfxxgknb/">政府信息公开年报</a></li></ul></div>')
CRUMBS = (  # the four breadcrumb shapes, by index
    '<div class="crumb"><a href="/">首页</a> &gt; <a href="/bsq/zwgk/zfxxgk/">信息公开</a> &gt; '
    '<a href="/bsq/zwgk/zfxxgk/zfxxgknb/">政府信息公开年报</a></div>',
    '<div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/bsq/zwgk/">政务公开</a> &gt; '
    '<span>年度报告</span></div>',
    '<div class="bread"><a href="/">首页</a> » <a href="/bsq/zwgk/zfxxgk/">政府信息公开</a> » '
    '<a href="/bsq/zwgk/zfxxgk/zfxxgknb/">政府信息公开年报</a></div>',
    '<div class="nav-path"><a href="/">首页</a> › <a href="/bsq/zwgk/zfxxgk/">信息公开</a> › '
    '<span>年度报告</span> › 正文</div>',
)
TITLE_SUFFIX = ("_" + SITE_NAME, "_政府信息公开年报")


def load(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    return json.loads((data_dir / "reports.json").read_text(encoding="utf-8"))


def _page(title: str, body: str, crumb: int, head: str = "") -> str:
    return ('<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
            f"<title>{html.escape(title)}{TITLE_SUFFIX[crumb % 2]}</title>\n{head}</head>\n<body>\n{MENU}\n"
            f"{CRUMBS[crumb % len(CRUMBS)]}\n<div class=\"lanmu\">政府信息公开年报</div>\n{body}\n"
            '<div class="footer">主办单位：临江市白沙区人民政府办公室　地址：白沙区江滨路1号　'
            "技术支持：fixture</div>\n</body>\n</html>\n")


def _article_body(report: dict[str, Any]) -> str:
    """The rendered report's article, its title moved where the planted page keeps it."""
    from nianbao.parsers.render import render_report

    page = render_report(report["canonical"], style=report["style"])
    start, end = page.find('<div class="article">'), page.rfind("</div>")
    article = page[start + len('<div class="article">'):end] if start >= 0 else page
    h1 = re.search(r"<h1>.*?</h1>\n?", article, flags=re.S)
    if h1:
        if report["title_in"] == "title":
            article = article.replace(h1.group(0), "", 1)
        elif report["title_in"] == "h2":
            article = article.replace(h1.group(0), h1.group(0).replace("<h1>", "<h2>").replace("</h1>", "</h2>"), 1)
    return article


def _meta(report: dict[str, Any]) -> str:
    if not report.get("meta"):
        return ""
    return (f'<meta name="ArticleTitle" content="{html.escape(report["title"])}">\n'
            f'<meta name="PubDate" content="{report["published"]} 09:30">\n'
            f'<meta name="ContentSource" content="{html.escape(report["printed"])}">\n'
            '<meta name="ColumnName" content="政府信息公开年报">\n')


class FidelityBuilder(SiteBuilder):
    """SiteBuilder whose pages carry breadcrumbs and whose reports are the planted ones."""

    def __init__(self, site: Site, root: Path, data: dict[str, Any], data_dir: Path):
        super().__init__(site, root)
        self.data_dir = data_dir
        self.by_key = {r["key"]: r for r in data["reports"]}
        self._crumb = 0

    def _html(self, portal: Portal, path: str, text: str, listing: bool = False) -> None:
        if listing:  # list pages: the fixture chrome's header becomes the portal's menu and a breadcrumb
            self._crumb += 1
            title = re.search(r"<title>(.*?)</title>", text).group(1)
            text = re.sub(r'<div class="header">.*?</div>', lambda _: MENU + "\n" + CRUMBS[self._crumb % 4], text,
                          count=1)
            text = text.replace(f"<title>{title}</title>", f"<title>{title}{TITLE_SUFFIX[self._crumb % 2]}</title>", 1)
            text = re.sub(r'<div class="footer">.*?</div>', '<div class="footer">主办单位：临江市白沙区人民政府办公室'
                          "　地址：白沙区江滨路1号　技术支持：fixture</div>", text, count=1)
        super()._html(portal, path, text, listing)

    def _build_portal(self, portal: Portal, port: int) -> None:
        self._crumb = 0
        super()._build_portal(portal, port)
        if portal.name == COLUMNS["bsq"]["name"]:
            self._jiedu(portal)

    def _build_report(self, portal: Portal, r: Report) -> None:
        report = self.by_key[r.key]
        path = portal.column + r.slug
        folder = path.rsplit("/", 1)[0]
        att = report.get("attachment")
        kind = report["kind"]
        if kind == "docx":  # the list links the file itself
            self._write(path, (self.data_dir / "files" / att).read_bytes(), FileMeta(DOCX_TYPE))
            return
        if att:
            self._write(f"{folder}/{att}", (self.data_dir / "files" / att).read_bytes(), FileMeta("application/pdf"))
        info = (f'<div class="info">发布时间：{report["published"]}　来源：{html.escape(report["printed"])}'
                "　浏览次数：<span id=\"views\"></span></div>")
        heading = {"h1": f"<h1>{html.escape(report['title'])}</h1>",
                   "h2": f"<h2>{html.escape(report['title'])}</h2>", "title": ""}[report["title_in"]]
        if kind == "stub+pdf":
            body = (f'<div class="xl_content">{heading}{info}<div class="TRS_Editor"><p>详见附件。</p></div>'
                    f'<div class="fujian">附件：<a href="./{att}">{att}</a></div></div>')
        else:
            body = f'<div class="xl_content">{info}<div class="TRS_Editor">{_article_body(report)}</div>'
            if kind == "html+pdf":
                body += f'<div class="fujian">附件：<a href="./{att}">{html.escape(report["title"])}.pdf</a></div>'
            body += "</div>"
        related = self.by_key.get(report.get("related") or "")
        if related:
            href = "/" + portal.column.strip("/") + "/" + related["slug"]
            body += (f'\n<div class="related"><h4>相关链接</h4><ul><li><a href="{href}">'
                     f'{html.escape(related["title"])}</a></li></ul></div>')
        self._html(portal, path, _page(report["title"], body, report["crumb"], _meta(report)))

    def _jiedu(self, portal: Portal) -> None:
        """The 解读 of the district government's 2024 report: its title and numbers, no report tables."""
        report = self.by_key["gov2024"]
        cells = {(c["row"], c["column"]): c["value"] for c in report["canonical"]["requests"]}
        n = lambda row: cells.get((row, "total")) or 0  # noqa: E731
        title = f"《{report['title']}》解读"
        body = (
            f'<div class="xl_content"><h1>{html.escape(title)}</h1>'
            f'<div class="info">发布时间：2025-03-12　来源：白沙区人民政府办公室</div><div class="TRS_Editor">'
            f"<p>近日，{html.escape(report['title'])}正式发布。现就报告主要内容解读如下。</p>"
            f"<p>一、政府信息公开申请办理情况。2024年，全区共新收政府信息公开申请{n('new_received')}件，"
            f"上年结转{n('carried_over')}件；予以公开{n('granted')}件，部分公开{n('partially_granted')}件，"
            f"结转下年度继续办理{n('carried_forward')}件。</p>"
            "<p>二、一图读懂：</p><table><tr><td>本年新收申请</td><td>予以公开</td><td>结转下年度</td></tr>"
            f"<tr><td>{n('new_received')}</td><td>{n('granted')}</td><td>{n('carried_forward')}</td></tr></table>"
            f'<p>原文链接：<a href="../{report["slug"]}">{html.escape(report["title"])}</a></p></div></div>')
        self._html(portal, portal.column + JIEDU_SLUG, _page(title, body, 1))


def fidelity_site(data: dict[str, Any]) -> Site:
    portals = []
    for column, spec in COLUMNS.items():
        reports = sorted((r for r in data["reports"] if r["column"] == column),
                         key=lambda r: (r["published"], r["key"]), reverse=True)
        portal = Portal(
            name=spec["name"], style=spec["style"], column=spec["column"], agency=spec["agency"],
            per_page=spec["per_page"], platform=spec["platform"], division_code="990211",
            search_id=300310, chnlid=2207,
            reports=[Report(r["key"], r["printed"], r["year"], r["published"], r["slug"], title=r["title"])
                     for r in reports])
        if column == "bsq":  # a list shortens long titles and drops the title attribute: "…解…"
            portal.extras = [Extra("《白沙区人民政府2024年度政府信息公开工作年度报告》解…", JIEDU_SLUG, kind="link")]
        portals.append(portal)
    return Site(portals=portals)


class FidelityPortal(FixturePortal):
    """The acceptance portal served on 127.0.0.1; `reports` holds the planted truth."""

    def __init__(self, root: str | Path, data_dir: Path = DATA_DIR):
        self.data_dir = Path(data_dir)
        self.data = load(self.data_dir)
        self.reports: list[dict[str, Any]] = self.data["reports"]
        super().__init__(root, fidelity_site(self.data))

    def rebuild(self) -> None:
        if not isinstance(self.builder, FidelityBuilder):
            self.builder = FidelityBuilder(self.site, self.root, self.data, self.data_dir)
        super().rebuild()

    def jiedu_url(self) -> str:
        return self.base_url + COLUMNS["bsq"]["column"] + JIEDU_SLUG

    def attachment_url(self, key: str) -> str | None:
        report = next(r for r in self.reports if r["key"] == key)
        if not report.get("attachment"):
            return None
        folder = report["slug"].rsplit("/", 1)[0]
        column = COLUMNS[report["column"]]["column"]
        return f"{self.base_url}{column}{folder}/{report['attachment']}"

    def registry(self) -> dict[str, Any]:
        reg = super().registry()
        for entry in reg["sources"]:
            spec = next(s for s in COLUMNS.values() if s["name"] == entry["name"])
            entry["agency"] = spec["agency"]
            entry["region"] = "临江市白沙区"
            entry["note"] = "issue-11 acceptance portal (breadcrumbs, HTML+PDF, DOCX, 解读, TRS search API)"
        return reg
