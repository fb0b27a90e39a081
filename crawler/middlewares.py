"""Downloader middlewares: WARC capture of every exchange, and retries with backoff.

`WarcCaptureMiddleware` runs on the downloader side of HttpCompressionMiddleware and
RedirectMiddleware, so it writes bodies exactly as received (still gzip-encoded, with their
Content-Encoding), every redirect, every error and robots.txt. It also decides revisit vs new
response from the crawler's own state (ETag/Last-Modified/digest) and updates that state.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from scrapy.http import Request, Response

from crawler.junk import classify_junk
from crawler.state import iso, state_key, utcnow
from crawler.warc import payload_digest


def decoded_body(response: Response) -> bytes:
    """The body with gzip/deflate Content-Encoding undone (for junk classification only)."""
    enc = (response.headers.get(b"Content-Encoding") or b"").lower()
    body = response.body
    try:
        if b"gzip" in enc:
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if b"deflate" in enc:
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except zlib.error:
        return body
    return body


def role_of(request: Request) -> str:
    role = request.meta.get("nianbao_role")
    if role:
        return role
    return "robots" if urlsplit(request.url).path == "/robots.txt" else "other"


class WarcCaptureMiddleware:
    """Archive each response (or a `revisit` when unchanged) and its request; update crawl state."""

    def __init__(self, crawler: Any):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> "WarcCaptureMiddleware":
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        spider = self.crawler.spider
        recorder = getattr(spider, "recorder", None)
        state = getattr(spider, "crawl_db", None)
        if recorder is None or state is None:
            return response
        url = response.url
        key = state_key(url, request.method, request.body)
        role = role_of(request)
        parent = request.meta.get("nianbao_parent")
        row = state.get(key)
        now = iso(utcnow())
        digest = payload_digest(response.body)
        headers = response.headers
        etag = (headers.get(b"ETag") or b"").decode("latin-1") or None
        last_mod = (headers.get(b"Last-Modified") or b"").decode("latin-1") or None
        junk = None
        ctype = (headers.get(b"Content-Type") or b"").decode("latin-1").lower()
        if response.status == 200 and role != "robots" and ("html" in ctype or not ctype):
            junk = classify_junk(decoded_body(response), url)
        common = {"source": recorder.source, "role": role, "last_fetch": now}
        if parent:
            common["parent"] = parent
        fetch_count = (row or {}).get("fetch_count") or 0
        common["fetch_count"] = fetch_count + 1
        if row is None:
            common["first_seen"] = now

        stored = row and row.get("digest") and row.get("record_date")
        if stored and (response.status == 304 or (response.status == 200 and not junk and row["digest"] == digest)):
            rid = recorder.write_revisit(
                response, role, row["digest"],
                {"url": url, "date": row["record_date"], "record_id": row.get("record_id") or ""}, parent)
            outcome = "not_modified" if response.status == 304 else "unchanged"
            update = dict(common, status=response.status, junk=None)
            if etag:
                update["etag"] = etag
            if last_mod:
                update["last_modified"] = last_mod
            state.update(key, **update)
        else:
            rid, date = recorder.write_response(response, role, parent, junk)
            if junk:
                outcome = "junk"
                state.update(key, **common, status=response.status, junk=junk)
            elif response.status == 200:
                outcome = "changed" if stored else "new"
                state.update(key, **common, status=200, junk=None, digest=digest, record_id=rid,
                             record_date=date, etag=etag, last_modified=last_mod, last_changed=now,
                             location=None)
            elif 300 <= response.status < 400 and headers.get(b"Location"):
                outcome = "redirect"
                location = urljoin(url, headers.get(b"Location").decode("latin-1"))
                state.update(key, **common, status=response.status, location=location)
            else:
                outcome = "error"
                state.update(key, **common, status=response.status)
        recorder.write_request(request, concurrent_to=rid)
        request.meta["nianbao_outcome"] = outcome
        request.meta["nianbao_junk"] = junk
        return response


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, but waiting base·2^(n-1) seconds (capped) before the n-th retry."""

    def __init__(self, settings: Any):
        super().__init__(settings)
        self.base = settings.getfloat("NIANBAO_RETRY_BACKOFF_BASE", 2.0)
        self.cap = settings.getfloat("NIANBAO_RETRY_BACKOFF_MAX", 60.0)

    async def _backoff(self, result: Any) -> Any:
        if isinstance(result, Request) and self.base > 0:
            n = result.meta.get("retry_times", 1)
            await asyncio.sleep(min(self.cap, self.base * 2 ** (n - 1)))
        return result

    async def process_response(self, request: Request, response: Response) -> Any:  # type: ignore[override]
        return await self._backoff(super().process_response(request, response))

    async def process_exception(self, request: Request, exception: Exception) -> Any:  # type: ignore[override]
        return await self._backoff(super().process_exception(request, exception))


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, fixed for many requests waiting on one robots.txt fetch.

    Upstream, every waiting request awaits the same Deferred; the first awaiter consumes its
    result and the others receive None, which means "no robots.txt, allow everything". That
    happens on a resumed crawl (the JOBDIR queue releases many requests at once) and let a
    disallowed URL through in our tests. The parsed result is stored on the middleware before
    the Deferred fires, so read it from there.
    """

    async def robot_parser(self, request: Request) -> Any:
        parser = await super().robot_parser(request)
        current = self._parsers.get(urlparse_cached(request).netloc)
        return parser if current is None or isinstance(current, Deferred) else current
