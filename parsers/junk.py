"""Name the 200 responses that are not what they claim: WAF/JS challenges, soft 404s, login walls.

Such pages are archived like any response (nothing is dropped) but never parsed as reports, and a
challenge page must not overwrite the stored copy of a report. Pure function, no I/O.

Beside the parsers (not in the crawler) because both ends of the data flow ask it: the crawler at
fetch time (`WARC-Nianbao-Junk`, retries) and the archive when it reads a capture; the archive must
never import the crawler (tests/test_import_direction.py).
"""

from __future__ import annotations

import re

_TAGS = re.compile(rb"<script\b.*?</script>|<style\b.*?</style>|<[^>]+>", re.S | re.I)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.S | re.I)
_WS = re.compile(r"\s+")

# Signatures of anti-bot gateways seen in front of Chinese government portals (创宇盾, 云锁, 安全狗,
# 知道创宇 jsl, Alibaba acw_sc, Cloudflare) and of their "verify you are human" pages.
CHALLENGE_MARKERS = (
    "__jsl_clearance", "acw_sc__v2", "_waf_", "yunsuo_session", "cf-browser-verification",
    "cf_chl_", "安全验证", "正在验证", "人机验证", "滑动验证", "请开启javascript", "请启用javascript",
    "please enable javascript", "enable javascript and cookies", "访问被拦截", "访问受限", "安全狗",
    "创宇盾", "checking your browser",
)
NOT_FOUND_MARKERS = (
    "页面不存在", "页面未找到", "找不到该页面", "您访问的页面不存在", "您所访问的页面不存在",
    "404 not found", "页面已删除", "信息不存在", "文章不存在", "该页面已被删除", "error 404",
)
LOGIN_MARKERS = ("请登录", "用户登录", "请先登录", "统一身份认证", "sign in", "log in")

SHORT_TEXT = 1500  # visible characters; real report pages are far longer


def _decode(body: bytes) -> str:
    for enc in ("utf-8", "gb18030"):
        try:
            return body.decode(enc)
        except UnicodeDecodeError:
            continue
    return body.decode("utf-8", "replace")


def classify_junk(body: bytes, url: str = "") -> str | None:
    """`challenge_page`, `not_found_page`, `login_wall`, or None for a page worth parsing."""
    if not body:
        return None
    head = body[:200_000]
    title_m = _TITLE.search(head)
    title = _WS.sub("", _decode(title_m.group(1))).lower() if title_m else ""
    text = _WS.sub(" ", _decode(_TAGS.sub(b" ", head))).strip().lower()
    raw = _decode(head).lower()
    short = len(text) < SHORT_TEXT

    if any(m in raw for m in CHALLENGE_MARKERS[:6]) and short:
        return "challenge_page"
    if short and (any(m in text or m in title for m in CHALLENGE_MARKERS)
                  or ("document.cookie" in raw and ("location.reload" in raw or "location.href" in raw)
                      and len(text) < 200)):
        return "challenge_page"
    if (any(m.replace(" ", "") in title for m in NOT_FOUND_MARKERS)
            or short and any(m in text for m in NOT_FOUND_MARKERS)):
        return "not_found_page"
    if short and 'type="password"' in raw.replace("'", '"') and any(m in text or m in title for m in LOGIN_MARKERS):
        return "login_wall"
    return None


# -- does it look like the real thing at all? ---------------------------------------------------------
# classify_junk names the pages it knows; a portal can put anything else in front of a report (a new
# WAF's page, a JS-only redirect shell, an empty 200). suspect_page asks the cheap opposite question:
# does this look like a report page, an attachment or a list page at all? Real report pages carry
# their title (…年度报告/年报), tables or an attachment link and far more text than a gateway page.
_REPORT_WORDS = ("年度报告", "年报", "工作报告")
_ATTACHMENT_HREF = re.compile(rb"""href\s*=\s*["']?[^"'>\s]+\.(?:pdf|docx?|wps|ofd|xlsx?|rtf|zip|rar)\b""", re.I)
_HTML_START = re.compile(rb"^\s*(?:<!doctype\s+html|<html|<head|<body|<script|<meta)", re.I)
REAL_TEXT = 300  # visible characters: more than any gateway or shell page says


def suspect_page(body: bytes, content_type: str = "", role: str = "report") -> str | None:
    """`empty_response` (nothing, or whitespace), `unrecognised_page` (HTML that looks like no report,
    attachment or list page: tiny, script-only, an unknown gateway's), or None when it may be real.

    `body` is decoded (no Content-Encoding); `role` is the crawler's (`list`, `report`, `attachment`; any other
    is only checked for emptiness).
    Binary attachments are real when not empty and not HTML in disguise. Pure, no I/O."""
    if not body or not body.strip():
        return "empty_response"
    if role not in ("list", "report", "attachment"):
        return None  # e.g. a search API's answer: only an empty one is judged here
    ctype = (content_type or "").lower()
    is_html = "html" in ctype or not ctype or bool(_HTML_START.match(body[:512]))
    if not is_html:
        return None  # PDF, Word, JSON (search-API answers), images: their own readers judge them
    head = body[:400_000]
    lower = head.lower()
    if role == "list":
        return None if b"<a " in lower or b"<a\n" in lower or b"script" in lower and b"listmodel" in lower \
            else "unrecognised_page"
    if b"<table" in lower or _ATTACHMENT_HREF.search(head):
        return None
    text = _WS.sub("", _decode(_TAGS.sub(b" ", head)))
    if len(text) >= REAL_TEXT or any(w in text for w in _REPORT_WORDS):
        return None
    return "unrecognised_page"
