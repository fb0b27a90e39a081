"""Declarative fixture portals and the generator that lays them out as a static site tree.

A `Site` holds `Portal`s (one report column each) in three CMS styles seen on real portals:
  - ``static``: index.html, index_1.html… with 首页/上一页/下一页/尾页 anchors;
  - ``trs``: TRS-CMS `<dl><dd>` items and pagination computed by `createPageHTML(countPage, …)` in a
    script (no page anchors in the HTML at all);
  - ``years``: a root listing year sub-columns (`2024n/`), each listing that year's reports;
  - ``trsapi``: TRS "动静结合" as on the Pingtan column (shared/real/pingtan_list_index.html): page 1
    static (`<dl><dd>` items), the rest only through the search API its script calls
    (`require(["list2.trsapi"]) listModel({listArgs: {channelid, classsql, sortfield}, pagebar:
    {prepage, recordCount}})` → POST /fjdzapp/search, JSON `{"data": [...], "pageCount": N}`).
Reports are HTML pages (rendered with parsers.render when available), short pages linking a
PDF/DOCX attachment, both (文字版 + 全真版 PDF), image-only PDFs, WAF challenge pages (200) or
missing (404). Mutations (`edit`, `remove`, `move`, `add`) change the description; `build()`
rewrites only files whose bytes changed, so validators of untouched files stay stable.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import random
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from nianbao.crawler.fixture_portal.pdf import make_pdf
from nianbao.parsers.render import random_report, render_report

KINDS = ("html", "pdf", "docx", "both", "image", "challenge", "missing")


@dataclass
class Report:
    key: str
    agency: str
    year: int
    published: str  # YYYY-MM-DD, the page's own date (URLs may say otherwise)
    slug: str  # detail path relative to the column
    kind: str = "html"
    title: str | None = None
    listed_slug: str | None = None  # the list links this path instead (it redirects to slug)
    revision: int = 0
    listed: bool = True  # False: the page is served but no list links it

    @property
    def full_title(self) -> str:
        return self.title or f"{self.agency}{self.year}年度政府信息公开工作年度报告"


@dataclass
class Extra:
    """A non-report list item: 解读, notice, or a link leaving the portal."""

    title: str
    href: str  # relative to the column, or absolute ("{port}" is replaced by the server port)
    kind: str = "page"  # page (a page is generated at href) | link (only the link)


@dataclass
class Portal:
    name: str
    style: str  # static | trs | years
    column: str  # absolute path, ends with "/"
    agency: str = "测试区"
    encoding: str = "utf-8"
    per_page: int = 3
    gzip: bool = False
    validators: bool = True  # ETag/Last-Modified/304 (False: the crawler must rely on digests)
    charset_header: bool = True  # False: charset only in <meta>, as many GBK portals do
    platform: str = "generic"
    division_code: str = "999999"
    reports: list[Report] = field(default_factory=list)
    extras: list[Extra] = field(default_factory=list)
    search_id: int = 200210  # trsapi: SiteInfo.searchId, the site's document-search channel
    chnlid: int = 1813  # trsapi: the column's channel (classsql "chnlid=N")


@dataclass
class Site:
    portals: list[Portal]
    robots_disallow: list[str] = field(default_factory=list)
    redirects: dict[str, str] = field(default_factory=dict)  # path -> path (301)

    def portal(self, name: str) -> Portal:
        return next(p for p in self.portals if p.name == name)

    def find(self, key: str) -> tuple[Portal, Report]:
        for p in self.portals:
            for r in p.reports:
                if r.key == key:
                    return p, r
        raise KeyError(key)


@dataclass
class FileMeta:
    content_type: str
    gzip: bool = False
    validators: bool = True


# ------------------------------------------------------------------------ page rendering


def _chrome(title: str, body: str, encoding: str) -> str:
    charset = "gbk" if encoding.lower() in ("gbk", "gb2312", "gb18030") else "utf-8"
    return ('<!DOCTYPE html>\n<html>\n<head>\n'
            f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">\n'
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
            '<div class="header"><a href="/">首页</a> | <a href="/other/">其他栏目</a></div>\n'
            f"{body}\n"
            '<div class="footer">主办单位：测试区人民政府办公室 技术支持：fixture</div>\n</body>\n</html>\n')


def _report_article(report: Report) -> str:
    """The report's tables and text, drawn by the parser's renderer (parsers.render) from a random but
    consistent report seeded by the report's key."""
    seed = int(hashlib.sha1(report.key.encode()).hexdigest()[:8], 16)
    data = random_report(random.Random(seed), year=report.year, agency=report.agency)
    data["title"] = report.full_title
    data["published"] = report.published
    page = render_report(data)
    start, end = page.find('<div class="article">'), page.rfind("</div>")
    article = page[start:end + 6] if start >= 0 else page
    if report.revision:
        article += f"\n<p class=\"revision\">（本报告于第{report.revision}次更正，更正了部分数据。）</p>"
    return article


def _attachment_lines(report: Report) -> tuple[list[str], list[list[str]]]:
    lines = [report.full_title, f"发布日期：{report.published}", "一、总体情况",
             "本年度认真贯彻落实《中华人民共和国政府信息公开条例》。", "二、主动公开政府信息情况"]
    if report.revision:
        lines.append(f"（第{report.revision}次更正）")
    n = int(hashlib.sha1(report.key.encode()).hexdigest()[:4], 16) % 50
    table = [["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
             ["规章", "0", "0", "0"], ["行政规范性文件", str(n), "1", str(n + 3)]]
    return lines, table


def make_docx(report: Report) -> bytes:
    import docx

    lines, table = _attachment_lines(report)
    doc = docx.Document()
    for line in lines:
        doc.add_paragraph(line)
    t = doc.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, value in enumerate(row):
            t.cell(r, c).text = value
    doc.add_paragraph("三、收到和处理政府信息公开申请情况")
    fixed = datetime(2024, 1, 1, tzinfo=UTC)
    doc.core_properties.created = doc.core_properties.modified = fixed
    buf = io.BytesIO()
    doc.save(buf)
    # Zip entries carry the current time: rewrite them with a fixed one so a rebuild of an
    # unchanged report gives the same bytes (and the same ETag).
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0)), src.read(info.filename),
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


CHALLENGE_PAGE = ("<html><head><title>安全验证</title></head><body><noscript>请开启JavaScript并刷新该页</noscript>"
                  "<script>var _0x1=['__jsl_clearance'];document.cookie=_0x1[0]+'=1570000000.123|0|abc';"
                  "location.href=location.pathname+location.search;</script></body></html>")


class SiteBuilder:
    """Lays a `Site` out under `root` and returns per-path serving metadata."""

    def __init__(self, site: Site, root: Path):
        self.site = site
        self.root = Path(root)
        self.meta: dict[str, FileMeta] = {}
        self._wanted: set[str] = set()
        # trsapi columns: (channelid, classsql) -> the column's records, newest first
        self.search_index: dict[tuple[str, str], list[dict[str, str]]] = {}

    def _write(self, path: str, data: bytes, meta: FileMeta) -> None:
        self._wanted.add(path)
        self.meta[path] = meta
        target = self.root / path.lstrip("/")
        if target.exists() and target.read_bytes() == data:
            return  # unchanged: keep mtime, so Last-Modified and ETag stay stable
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def _html(self, portal: Portal, path: str, text: str, listing: bool = False) -> None:
        enc = portal.encoding
        data = text.encode(enc, errors="xmlcharrefreplace")
        ctype = "text/html"
        if portal.charset_header or not listing:
            ctype += f"; charset={'GBK' if enc.lower() != 'utf-8' else 'UTF-8'}"
        self._write(path, data, FileMeta(ctype, gzip=portal.gzip, validators=portal.validators))

    def build(self, port: int = 0) -> dict[str, FileMeta]:
        self.meta, self._wanted, self.search_index = {}, set(), {}
        robots = "User-agent: *\n" + "".join(f"Disallow: {p}\n" for p in self.site.robots_disallow)
        self._write("/robots.txt", robots.encode(), FileMeta("text/plain"))
        self._write("/index.html", _chrome("测试门户", "<p>fixture portal</p>", "utf-8").encode(),
                    FileMeta("text/html; charset=UTF-8"))
        for portal in self.site.portals:
            self._build_portal(portal, port)
        for path in list(self._files()):  # removed reports: their files go away (→ 404)
            if path not in self._wanted:
                (self.root / path.lstrip("/")).unlink()
        (self.root / "_manifest.json").write_text(json.dumps(
            {"files": {p: asdict(m) for p, m in self.meta.items()}, "redirects": self.site.redirects},
            ensure_ascii=False, indent=1), encoding="utf-8")
        return self.meta

    def _files(self) -> list[str]:
        return ["/" + str(p.relative_to(self.root)) for p in self.root.rglob("*")
                if p.is_file() and p.name != "_manifest.json"]

    # -- one column --------------------------------------------------------------------------
    def _items(self, portal: Portal, port: int, reports: list[Report]) -> list[tuple[str, str, str]]:
        items = [((r.listed_slug or r.slug), r.full_title, r.published) for r in reports if r.listed]
        for extra in portal.extras:
            items.append((extra.href.replace("{port}", str(port)), extra.title, "2024-01-01"))
        return items

    def _build_portal(self, portal: Portal, port: int) -> None:
        col = portal.column
        for r in portal.reports:
            self._build_report(portal, r)
        for extra in portal.extras:
            if extra.kind == "page":
                self._html(portal, col + extra.href, _chrome(extra.title, f"<h1>{html.escape(extra.title)}</h1>"
                           "<p>解读内容：本报告全面反映了本年度政府信息公开工作情况。</p>", portal.encoding))
        if portal.style == "years":
            years = sorted({r.year for r in portal.reports}, reverse=True)
            links = "".join(f'<li><a href="./{y}n/">{y}年</a></li>' for y in years)
            self._html(portal, col + "index.html", _chrome("政府信息公开年报", f"<ul class=\"years\">{links}</ul>",
                                                           portal.encoding), listing=True)
            for y in years:
                reports = [r for r in portal.reports if r.year == y and r.listed]
                items = [(("../" + (r.listed_slug or r.slug)), r.full_title, r.published) for r in reports]
                self._pages(portal, f"{col}{y}n/", items, static_pagination=True)
            return
        if portal.style == "trsapi":
            self._trsapi_column(portal, port, self._items(portal, port, portal.reports))
            return
        self._pages(portal, col, self._items(portal, port, portal.reports), static_pagination=portal.style == "static")

    def _trsapi_column(self, portal: Portal, port: int, items: list[tuple[str, str, str]]) -> None:
        """Page 1 static, every record in the search index the API answers from (as the Pingtan column)."""
        base = f"http://127.0.0.1:{port}{portal.column}"
        self.search_index[(str(portal.search_id), f"chnlid={portal.chnlid}")] = [
            {"doctitle": t, "docpuburl": h if "://" in h else base + h, "chnldocurl": h if "://" in h else base + h,
             "docreltime": f"{d} 09:30:00", "chnlid": str(portal.chnlid)} for h, t, d in items]
        rows = "".join(
            '<dl><dd class="trt-col-sm-24 slb-trt-col-24 text_align_left">'
            f'<a href="{h if "://" in h else "./" + h}" target="_blank" title="{html.escape(t)}">{html.escape(t)}</a>'
            f'</dd><dd class="trt-col-4 trt-col-sm-24 slb-trt-col-24 text_align_left">{d}</dd></dl>\n'
            for h, t, d in items[:portal.per_page])
        body = (
            '<div class="rules_tabs_01" ms-visible="showStatic">\n' + rows + "</div>\n"
            '<div class="rules_tabs_01 rules_tabs_no_bg" ms-visible="!showStatic" style="display: none">'
            '<dl ms-if="list.length>0" ms-repeat="list"><dd><a ms-attr-href="el.chnldocurl" '
            'ms-attr-title="el.doctitle" ms-text="el.doctitle|html" target="_blank"></a></dd>'
            "<dd ms-text=\"el.docreltime|date('yyyy-MM-dd')\"></dd></dl></div>\n"
            '<div class="page_base" ms-controller="list_pagebar" ms-include-src="pgTemp" ms-if="pageCount>0"></div>\n'
            "<script>\n    var SiteInfo = {\n        //was4doc: 290792,  //文档检索的was频道号\n"
            f"        itpSiteId: 21,\n        searchId: {portal.search_id}, //默认的文档检索频道的ID\n"
            '        defaultPgTemp: "pgBar_pt.html"\n    };\n</script>\n'
            '<script>\n    require(["list2.trsapi", "tools"], function(listModel, tools) {\n'
            '        listModel({\n            quickMode: "动静结合",\n            maxStaticIndex: 1,\n'
            "            listArgs: {\n                channelid: SiteInfo.searchId,\n"
            f'                classsql: "" || "chnlid={portal.chnlid}",\n'
            '                sortfield: "-docorderpri,-docreltime"\n            },\n'
            f"            pagebar: {{\n                prepage: {portal.per_page},\n"
            f"                recordCount: '{len(items)}',\n"
            '                pgTemp: "pgBar_xxgk.html",\n                pgCountMode: "recordCount",\n'
            "                displayNum: 2\n            },\n            callToPage: function(p) {\n"
            '                $("html,body").animate({scrollTop: $(".content_bg_02").offset().top}, 800);\n'
            "            }\n        });\n    });\n</script>")
        self._html(portal, portal.column + "index.html", _chrome("政府信息公开年报", body, portal.encoding),
                   listing=True)

    def _pages(self, portal: Portal, base: str, items: list[tuple[str, str, str]], static_pagination: bool) -> None:
        per = max(1, portal.per_page)
        pages = [items[i:i + per] for i in range(0, len(items), per)] or [[]]
        count = len(pages)
        for n, chunk in enumerate(pages):
            name = "index.html" if n == 0 else f"index_{n}.html"
            if portal.style == "trs":
                rows = "".join(
                    f'<dl><dd class="trt-col-sm-24"><a href="./{h}" target="_blank" title="{html.escape(t)}">'
                    f"{html.escape(t[:18])}…</a></dd><dd class=\"trt-col-4\">{d}</dd></dl>" for h, t, d in chunk)
                pager = (f'<div class="page"><script>var countPage = {count}//共多少页\n'
                         f'createPageHTML(countPage, {n}, "index", "html");</script></div>')
            else:
                rows = "<ul class=\"list\">" + "".join(
                    f'<li><a href="{h if "://" in h or h.startswith("../") else "./" + h}">{html.escape(t)}</a>'
                    f"<span>{d}</span></li>" for h, t, d in chunk) + "</ul>"
                links = []
                if static_pagination and count > 1:
                    links.append('<a href="./index.html">首页</a>')
                    if n > 0:
                        links.append(f'<a href="./{"index.html" if n == 1 else f"index_{n - 1}.html"}">上一页</a>')
                    if n < count - 1:
                        links.append(f'<a href="./index_{n + 1}.html">下一页</a>')
                    links.append(f'<a href="./index_{count - 1}.html">尾页</a>')
                pager = f'<div class="page">{" ".join(links)}</div>'
            self._html(portal, base + name, _chrome("政府信息公开年报", rows + pager, portal.encoding), listing=True)

    def _build_report(self, portal: Portal, r: Report) -> None:
        path = portal.column + r.slug
        stem = path.rsplit("/", 1)[1].rsplit(".", 1)[0]
        if r.listed_slug:
            self.site.redirects[portal.column + r.listed_slug] = path
        if r.kind == "missing":
            return
        if r.kind == "challenge":
            self._write(path, CHALLENGE_PAGE.encode(), FileMeta("text/html; charset=UTF-8", validators=False))
            return
        if r.kind in ("html", "both"):
            body = _report_article(r)
            if r.kind == "both":
                body += f'\n<p>附件：<a href="./{stem}_qzb.pdf">{html.escape(r.full_title)}（全真版）.pdf</a></p>'
                lines, table = _attachment_lines(r)
                self._write(path.rsplit("/", 1)[0] + f"/{stem}_qzb.pdf", make_pdf(lines, table),
                            FileMeta("application/pdf", validators=portal.validators))
            self._html(portal, path, _chrome(r.full_title, body, portal.encoding))
            return
        ext = {"pdf": "pdf", "image": "pdf", "docx": "docx"}[r.kind]
        lines, table = _attachment_lines(r)
        data = make_pdf(lines, table, image_only=r.kind == "image") if ext == "pdf" else make_docx(r)
        ctype = "application/pdf" if ext == "pdf" else \
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        att = path.rsplit("/", 1)[0] + f"/P0{stem[-4:]}.{ext}"
        self._write(att, data, FileMeta(ctype, validators=portal.validators))
        body = (f"<h1>{html.escape(r.full_title)}</h1><p>发布日期：{r.published}</p>"
                f'<p>附件：<a href="./P0{stem[-4:]}.{ext}">{html.escape(r.full_title)}.{ext}</a></p>')
        self._html(portal, path, _chrome(r.full_title, body, portal.encoding))


# ------------------------------------------------------------------------ the default site


def default_site() -> Site:
    """Three columns covering every case the crawler tests need (see tests/crawler)."""
    static = Portal(
        name="fixture-static", style="static", column="/static/zfxxgknb/", agency="甲区",
        per_page=4, gzip=True, division_code="990101",
        reports=[
            Report("s2024", "甲区人民政府办公室", 2024, "2025-02-10", "202503/t20250313_2001.html"),
            Report("s2023", "甲区发展和改革局", 2023, "2024-01-15", "202401/t20240115_1801.html", kind="docx"),
            Report("s2022", "甲区教育局", 2022, "2023-01-20", "202301/t20230120_1601.html", kind="pdf"),
            Report("s2021", "甲区文物局", 2021, "2022-01-25", "202201/t20220125_1401.html",
                   title="甲区文物局2021年政府信息公开工作度报告"),
            Report("s2020", "甲区卫生健康委员会", 2020, "2021-01-28", "202101/t20210128_1201.html", kind="challenge"),
            Report("s2019", "甲区民政局", 2019, "2020-01-31", "202001/t20200131_1001.html", kind="missing"),
            Report("s2018", "甲区财政局", 2018, "2019-01-30", "201901/t20190130_0901.html",
                   listed_slug="old/t20190130_0901.html"),
            Report("sprivate", "甲区内部科室", 2023, "2024-01-10", "private/t20240110_0001.html"),
        ],
        extras=[
            Extra("《甲区2024年度政府信息公开工作年度报告》解读", "202503/t20250314_2002.html"),
            Extra("关于做好2024年度政府信息公开工作年度报告编制发布工作的通知", "202501/t20250105_1999.html"),
            Extra("乙市某局2024年度政府信息公开工作年度报告", "http://localhost:{port}/spam/2024.html", kind="link"),
        ],
    )
    trs = Portal(
        name="fixture-trs", style="trs", column="/trs/zwgk/zfxxgk/zfxxgknb/", agency="丙实验区",
        per_page=2, platform="trs", division_code="990102",
        reports=[
            Report("t2024", "丙实验区", 2024, "2025-03-10", "202603/t20260313_105587.htm", kind="both"),
            Report("t2023", "丙实验区", 2023, "2024-01-20", "202401/t20240120_90001.htm"),
            Report("t2022", "丙实验区", 2022, "2023-01-18", "202301/t20230118_80001.htm", kind="image"),
            Report("t2021", "丙实验区", 2021, "2022-01-19", "202201/t20220119_70001.htm"),
            Report("t2020", "丙实验区", 2020, "2021-01-20", "202101/t20210120_60001.htm"),
        ],
    )
    years = Portal(
        name="fixture-years", style="years", column="/years/zfxxgk/zfxxgknb/", agency="丁区",
        encoding="gbk", validators=False, charset_header=False, per_page=5, division_code="990103",
        reports=[
            Report("y2024a", "丁区人民政府办公室", 2024, "2025-01-20", "2024n/202501/t20250120_3001.html"),
            Report("y2024b", "丁区白沙街道办事处", 2024, "2025-01-21", "2024n/202501/t20250121_3002.html",
                   title="丁区白沙街道办事处2024年 度 政府信息公开工作年度报告"),
            Report("y2023a", "丁区人民政府办公室", 2023, "2024-01-20", "2023n/202401/t20240120_2001.html"),
            Report("y2023b", "丁区白沙街道办事处", 2023, "2024-01-22", "2023n/202401/t20240122_2002.html"),
        ],
    )
    return Site(portals=[static, trs, years], robots_disallow=["/static/zfxxgknb/private/"])
