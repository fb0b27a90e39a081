"""Name the 200 responses that are not what they claim: WAF/JS challenges, soft 404s, login walls.

Such pages are archived like any response (nothing is dropped) but never parsed as reports, and a
challenge page must not overwrite the stored copy of a report. Pure function, no I/O.
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
    if any(m.replace(" ", "") in title for m in NOT_FOUND_MARKERS) or (short and any(m in text for m in NOT_FOUND_MARKERS)):
        return "not_found_page"
    if short and 'type="password"' in raw.replace("'", '"') and any(m in text or m in title for m in LOGIN_MARKERS):
        return "login_wall"
    return None
