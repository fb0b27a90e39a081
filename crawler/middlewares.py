"""Downloader middlewares: WARC capture of every exchange, and retries with backoff / Retry-After.

`WarcCaptureMiddleware` runs on the downloader side of HttpCompressionMiddleware and
RedirectMiddleware, so it writes bodies exactly as received (still gzip-encoded, with their
Content-Encoding), every redirect, every error and robots.txt. It also decides revisit vs new
response from the crawler's own state (ETag/Last-Modified/digest) and updates that state. The files
and the state connection belong to the `WarcCapture` extension (crawler/extensions.py), which the
middleware asks for the recorder of each request; without it (EXTENSIONS disabling it) nothing is captured.
"""

from __future__ import annotations

import os
import signal
import zlib
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from time import monotonic
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Request, Response
from scrapy.utils.asyncio import call_later
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from nianbao.crawler.extensions import WarcCapture
from nianbao.crawler.state import iso, state_key, utcnow
from nianbao.crawler.warc import payload_digest
from nianbao.parsers.junk import classify_junk, suspect_page


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
        self.capture = WarcCapture.of(crawler)
        # fault injection for tests: die (SIGKILL) after the N-th response record is written and
        # before its crawl-state commit, the window a kill -9 can hit (crawler/reconcile.py)
        self.kill_after = crawler.settings.getint("NIANBAO_TEST_KILL_AFTER_RESPONSES", 0)
        self.responses = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarcCaptureMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        capture = self.capture
        recorder = capture.recorder_for(request) if capture is not None else None
        state = capture.state if capture is not None else None
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
        # What the known classes miss (an empty 200, an unknown WAF or JS-only page) is not a good
        # copy either: archived, but the crawl state keeps asking until the real thing comes.
        suspect = None
        if response.status == 200 and not junk and role in ("list", "report", "attachment"):
            # a search API's answer is judged by its parser (bad_api_response), past being empty
            suspect = suspect_page(decoded_body(response), ctype, "api" if "search_api" in request.meta else role)
        common = {"source": recorder.source, "role": role, "last_fetch": now}
        if parent:
            common["parent"] = parent
        fetch_count = (row or {}).get("fetch_count") or 0
        common["fetch_count"] = fetch_count + 1
        if row is None:
            common["first_seen"] = now

        stored = row and row.get("digest") and row.get("record_date")
        if stored and (response.status == 304
                       or (response.status == 200 and not junk and not suspect and row["digest"] == digest)):
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
            self.responses += 1
            if self.kill_after and self.responses >= self.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            if junk or suspect:
                outcome = "junk"
                state.update(key, **common, status=response.status, junk=junk or suspect)
            elif response.status == 200:
                outcome = "changed" if stored else "new"
                state.update(key, **common, status=200, junk=None, digest=digest, record_id=rid,
                             record_date=date, etag=etag, last_modified=last_mod, last_changed=now,
                             location=None)
            elif 300 <= response.status < 400 and headers.get(b"Location"):
                outcome = "redirect"
                location = urljoin(url, headers.get(b"Location").decode("latin-1"))
                chain = [*request.meta.get("redirect_urls", []), request.url, url]
                loop = "redirect_loop" if location in chain else None
                state.update(key, **common, status=response.status, location=location, junk=loop)
                if loop:  # Scrapy's dupefilter drops the looping request silently: say it here
                    capture.note_error(chain[0], response.status, loop, role, recorder.source)
            else:
                outcome = "error"
                state.update(key, **common, status=response.status)
        recorder.write_request(request, concurrent_to=rid)
        request.meta["nianbao_outcome"] = outcome
        request.meta["nianbao_junk"] = junk or suspect
        return response


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (RFC 9110 10.2.3: delay-seconds or an HTTP-date) as seconds from `now`;
    None when absent or unreadable (a date in the past is 0)."""
    if not value:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, made polite: before a retry the portal's download slot is paused for the
    time its Retry-After asks (on 429/503; capped by NIANBAO_RETRY_AFTER_MAX), else for
    base·2^(n-1) seconds (capped by NIANBAO_RETRY_BACKOFF_MAX) before the n-th retry.

    The pause is the downloader's own: the slot's next-request time is pushed back and its queue
    is processed again by a timer, so every request to that portal waits (the server asked us to,
    not one URL) and nothing sleeps. The retry request is returned at once and queues in the slot.
    """

    def __init__(self, settings: Any):
        super().__init__(settings)
        self.base = settings.getfloat("NIANBAO_RETRY_BACKOFF_BASE", 2.0)
        self.cap = settings.getfloat("NIANBAO_RETRY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("NIANBAO_RETRY_AFTER_MAX", 120.0)

    def delay_for(self, retry: Request, response: Response | None) -> float:
        """Seconds to hold the portal before `retry` (the new request, its retry_times counted)."""
        if response is not None and response.status in (429, 503):
            asked = retry_after_seconds(response.headers.get(b"Retry-After"))
            if asked is not None:
                return min(self.retry_after_max, asked)
        if self.base <= 0:
            return 0.0
        n = retry.meta.get("retry_times", 1)
        return min(self.cap, self.base * 2 ** (n - 1))

    def _pause_slot(self, request: Request, seconds: float) -> None:
        if seconds <= 0:
            return
        engine = getattr(self.crawler, "engine", None)
        downloader = getattr(engine, "downloader", None)
        if downloader is None:
            return
        key, slot = downloader._get_slot(request)
        now = monotonic()
        # lastseen in the future: the slot's own delay counts from there, and the slot GC (which
        # drops slots idle for a minute) keeps it.
        slot.lastseen = max(slot.lastseen, now + seconds)
        if slot.latercall is not None:
            slot.latercall.cancel()
        slot.latercall = call_later(slot.lastseen - now, downloader._latercall, slot)
        request.meta["nianbao_retry_wait"] = seconds

    def process_response(self, request: Request, response: Response) -> Any:  # type: ignore[override]
        result = super().process_response(request, response)
        if isinstance(result, Request):
            self._pause_slot(result, self.delay_for(result, response))
        return result

    def process_exception(self, request: Request, exception: Exception) -> Any:  # type: ignore[override]
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            self._pause_slot(result, self.delay_for(result, None))
        return result


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
