"""Columns that list part of their items through a JavaScript search API (pure: no I/O).

TRS portals in "动静结合" (static + dynamic) mode publish page 1 of a column as static HTML and let the
page's own script fetch every further page from the site's search service. The list page carries the
script's whole configuration, e.g. the Pingtan column (shared/real/pingtan_list_index.html):

    require(["list2.trsapi", "tools"], function(listModel, tools) {
        listModel({quickMode: "动静结合", maxStaticIndex: 1,
                   listArgs: {channelid: SiteInfo.searchId, classsql: "" || "chnlid=1813",
                              sortfield: "-docorderpri,-docreltime"},
                   pagebar: {prepage: 10, recordCount: '20', ...}});
    });

The `*.trsapi` list models of the Fujian provincial TRS platform POST those `listArgs` plus `page` and
`prepage` as a form to `/fjdzapp/search` on the same host and get JSON back:
`{"data": [{"doctitle", "docpuburl"/"chnldocurl", "docreltime", …}], "pageCount": N, …}` (seen in
public crawlers of fujian.gov.cn sites). The older TRS WAS5 service is a GET of
`/was5/web/search?channelid=…&classsql=…&prepage=…&page=…` answering near-JSON (`'…'` strings) with
`{"count", "docs": [{"title", "url"/"chnldocurl", "time"}]}`; a page that spells that URL out in its
script is recognised too. Recognition is by the class (a config naming the model and its args), never
by one portal's ids; a registry entry may name the endpoint when a site serves it elsewhere
(`search_api: {url: …, method: POST|GET}`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

# `*.trsapi` model name → (endpoint path on the page's host, HTTP method)
TRSAPI_ENDPOINT = ("/fjdzapp/search", "POST")
MAX_API_PAGES = 500  # a broken count must not mint thousands of requests

_REQUIRE = re.compile(r"require\s*\(\s*\[([^\]]*)\]")
_MODEL = re.compile(r"""['"]([\w./-]+\.trsapi)['"]""")
_WAS5 = re.compile(r"""['"]((?:https?://[^'"\s]+)?/was5/web/search\?[^'"\s]*)['"]""")
_STRING = re.compile(r"""'([^'\\]*(?:\\.[^'\\]*)*)'|"([^"\\]*(?:\\.[^"\\]*)*)\"""")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


@dataclass
class SearchApi:
    """How a column's own script pages through the search service."""

    model: str  # "list2.trsapi", "was5", or "registry"
    endpoint: str  # absolute URL
    method: str  # POST (form body) or GET (query string)
    args: dict[str, str] = field(default_factory=dict)  # listArgs as the script sends them
    per_page: int = 10  # prepage
    record_count: int | None = None  # pagebar.recordCount, when the page states it
    static_pages: int = 1  # maxStaticIndex: pages 1..N are static HTML, the API serves N+1…
    quick_mode: str = ""
    page_param: str = "page"
    per_page_param: str = "prepage"

    @property
    def pages(self) -> int:
        """API pages the column has, as far as the static page tells (at least one past the static ones
        when the count is unknown: the first answer says how many there are)."""
        if self.record_count is None:
            return self.static_pages + 1
        return min(MAX_API_PAGES, max(0, -(-self.record_count // max(1, self.per_page))))

    def first_page(self) -> int:
        return self.static_pages + 1

    def form(self, page: int) -> dict[str, str]:
        """The parameters of one page's request, in the script's order, then page and prepage."""
        out = {k: v for k, v in self.args.items() if k not in (self.page_param, self.per_page_param)}
        out[self.page_param] = str(page)
        out[self.per_page_param] = str(self.per_page)
        return out

    def url(self, page: int) -> str:
        """The request URL (GET: with the page's query string)."""
        if self.method == "GET":
            return self.endpoint.split("?", 1)[0] + "?" + urlencode(self.form(page))
        return self.endpoint


# ------------------------------------------------------------------ a JS object literal, leniently


def _matching(text: str, start: int, open_: str = "{", close: str = "}") -> int:
    """Index just past the bracket closing the one at `start` (strings skipped), or -1."""
    depth, i, quote = 0, start, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _object_after(text: str, key: str) -> str | None:
    """The `{…}` literal that follows `key:` in a script, or None."""
    m = re.search(rf"\b{re.escape(key)}\s*:\s*\{{", text)
    if not m:
        return None
    end = _matching(text, m.end() - 1)
    return text[m.end() - 1:end] if end > 0 else None


def _split_top(body: str) -> list[str]:
    """Top-level `key: value` members of an object literal's body."""
    parts, depth, quote, cur = [], 0, "", []
    for i, ch in enumerate(body):
        if quote:
            cur.append(ch)
            if ch == quote and body[i - 1] != "\\":
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _strip_comments(js: str) -> str:
    out, i, quote = [], 0, ""
    while i < len(js):
        ch = js[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(js):
                out.append(js[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif js.startswith("//", i) and (i == 0 or js[i - 1] != ":"):  # keep "http://"
            j = js.find("\n", i)
            i = len(js) if j < 0 else j
            continue
        elif js.startswith("/*", i):
            j = js.find("*/", i + 2)
            i = len(js) if j < 0 else j + 2
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _members(literal: str) -> dict[str, str]:
    body = literal.strip()[1:-1]
    out = {}
    for part in _split_top(body):
        key, sep, value = part.partition(":")
        if sep:
            out[key.strip().strip("'\"")] = value.strip()
    return out


def _value(expr: str, scripts: str) -> str | None:
    """Evaluate the small expressions list configs use: literals, `"" || "x"`, `SiteInfo.searchId`."""
    for alternative in (a.strip() for a in expr.split("||")):
        if not alternative:
            continue
        s = _STRING.fullmatch(alternative)
        if s:
            text = s.group(1) if s.group(1) is not None else s.group(2)
            if text:
                return text
            continue
        if _NUMBER.match(alternative):
            return alternative
        ref = re.fullmatch(r"[A-Za-z_$][\w$]*(?:\.([A-Za-z_$][\w$]*))?", alternative)
        if ref:  # Obj.prop or a bare variable: find its definition in the page's scripts
            name = ref.group(1) or alternative
            d = re.search(rf"\b{re.escape(name)}\s*[:=]\s*(['\"]?)([^'\",;\s}}]*)\1", scripts)
            if d and d.group(2):
                return d.group(2)
    return None


def _int(expr: str | None, scripts: str) -> int | None:
    value = _value(expr, scripts) if expr else None
    return int(value) if value and value.isdigit() else None


# ------------------------------------------------------------------ recognition


def find_search_api(scripts: str, page_url: str, override: dict[str, Any] | None = None) -> SearchApi | None:
    """The search API a list page's script pages through, from the page's scripts (all <script>
    texts joined), or None for a plain column. `override` (registry `search_api`) names the
    endpoint and method when a site serves the model elsewhere."""
    js = _strip_comments(scripts)
    api = _trsapi(js, page_url) or _was5(js, page_url)
    if api is None:
        return None
    if override:
        if override.get("url"):
            api.endpoint = urljoin(page_url, str(override["url"]))
        if override.get("method"):
            api.method = str(override["method"]).upper()
    return api


def _trsapi(js: str, page_url: str) -> SearchApi | None:
    model = None
    for req in _REQUIRE.finditer(js):
        m = _MODEL.search(req.group(1))
        if m:
            model = m.group(1)
            break
    list_args = _object_after(js, "listArgs") if model else None
    if not model or not list_args:
        return None
    args = {}
    for key, expr in _members(list_args).items():
        value = _value(expr, js)
        if value is not None:
            args[key] = value
    if not args.get("channelid"):
        return None  # the service cannot answer without the search channel
    config_start = js.find(list_args)
    # the config object around listArgs holds quickMode/maxStaticIndex/pagebar
    opening = js.rfind("({", 0, config_start)
    config = js[opening + 1:_matching(js, opening + 1)] if opening >= 0 else js
    top = _members(config) if config.startswith("{") else {}
    pagebar = _members(_object_after(config, "pagebar") or "{}")
    per_page = _int(pagebar.get("prepage") or args.get("prepage"), js) or 10
    endpoint = next((_value(top[k], js) for k in ("url", "searchUrl", "apiUrl") if k in top), None)
    path, method = TRSAPI_ENDPOINT
    static = _int(top.get("maxStaticIndex"), js)
    return SearchApi(
        model=model, endpoint=urljoin(page_url, endpoint or path), method=method, args=args,
        per_page=per_page, record_count=_int(pagebar.get("recordCount"), js),
        static_pages=static if static is not None else 1,
        quick_mode=_value(top.get("quickMode", ""), js) or "")


def _was5(js: str, page_url: str) -> SearchApi | None:
    m = _WAS5.search(js)
    if not m:
        return None
    url = urljoin(page_url, m.group(1))
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    if not query.get("channelid"):
        return None
    per_key = "prepage" if "prepage" in query or "perpage" not in query else "perpage"
    per_page = int(query[per_key]) if query.get(per_key, "").isdigit() else 10
    count = re.search(r"recordCount\s*[:=]\s*['\"]?(\d+)", js)
    return SearchApi(model="was5", endpoint=url.split("?", 1)[0], method="GET", args=query, per_page=per_page,
                     record_count=int(count.group(1)) if count else None, static_pages=1,
                     per_page_param=per_key)


# ------------------------------------------------------------------ answers


@dataclass
class SearchPage:
    items: list[tuple[str, str, str | None]]  # (absolute url, title, date YYYY-MM-DD or None)
    total: int | None = None  # records the service says it has
    page_count: int | None = None


_TITLE_KEYS = ("doctitle", "title", "DOCTITLE", "docTitle", "title2")
_URL_KEYS = ("docpuburl", "chnldocurl", "DOCPUBURL", "docPubUrl", "url", "puburl")
_DATE_KEYS = ("docreltime", "pubdate", "DOCRELTIME", "docRelTime", "time", "pubDate", "docpubtime")
_LIST_KEYS = ("data", "docs", "datas", "list", "rows", "records", "dataList", "content")
_TAGS = re.compile(r"<[^>]+>")


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    # WAS5 answers near-JSON: single-quoted placeholder strings ('###pypy###'), stray control chars
    fixed = re.sub(r":\s*'([^'\\]*)'", lambda m: ": " + json.dumps(m.group(1)), text)
    fixed = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", fixed)
    fixed = re.sub(r",\s*([}\]])", r"\1", fixed)
    return json.loads(fixed, strict=False)


def _records(data: Any) -> list[dict] | None:
    if isinstance(data, list):
        return [d for d in data if isinstance(d, dict)]
    if not isinstance(data, dict):
        return None
    for key in _LIST_KEYS:
        value = data.get(key)
        if isinstance(value, list):
            return [d for d in value if isinstance(d, dict)]
        if isinstance(value, dict):  # {"data": {"list": [...], "total": …}}
            inner = _records(value)
            if inner is not None:
                return inner
    return None


def _number(data: Any, *keys: str) -> int | None:
    if isinstance(data, dict):
        for key in keys:
            v = data.get(key)
            if isinstance(v, (int, float)) or (isinstance(v, str) and v.strip().isdigit()):
                return int(v)
        for key in _LIST_KEYS:
            if isinstance(data.get(key), dict):
                found = _number(data[key], *keys)
                if found is not None:
                    return found
    return None


def _date(value: Any) -> str | None:
    if isinstance(value, (int, float)) and value > 10**11:  # epoch milliseconds
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d")
    m = re.match(r"\s*((?:19|20)\d{2})[-./年](\d{1,2})[-./月](\d{1,2})", str(value or ""))
    return f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}" if m else None


def parse_search_page(body: bytes | str, page_url: str) -> SearchPage | None:
    """The records of one answer of the search service, or None when it is not such an answer
    (an error page, a challenge, broken JSON): the caller then treats the column as incomplete."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip().lstrip("\ufeff")
    if not text.startswith(("{", "[")):
        return None
    try:
        data = _loads(text)
    except ValueError:
        return None
    records = _records(data)
    if records is None:
        return None
    items = []
    for rec in records:
        url = next((str(rec[k]).strip() for k in _URL_KEYS if rec.get(k)), "")
        title = next((_TAGS.sub("", str(rec[k])).strip() for k in _TITLE_KEYS if rec.get(k)), "")
        if not url:
            continue
        date = next((_date(rec[k]) for k in _DATE_KEYS if rec.get(k)), None)
        items.append((urljoin(page_url, url), title, date))
    return SearchPage(items=items, total=_number(data, "total", "count", "totalCount", "recordCount", "totalSize"),
                      page_count=_number(data, "pageCount", "pagecount", "totalPage", "pages"))
