"""Parsing captured payloads: the parser's one door, worker processes, and the record feed.

`feed_records` hands records to the builder in order; with jobs > 1 the parsing runs in worker
processes (fork), the main process keeps all reading, inserting and indexing, so the result is
identical to a one-process build.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from nianbao.archive.builder import ArchiveBuilder

log = logging.getLogger("nianbao.archive.build")

USABLE = ("parsed", "partial")
REPORT_ROLES = ("report", "attachment")

Parser = Callable[..., dict]




def default_parser() -> tuple[Parser, str]:
    """The current parser's one door for every format (imported lazily: the archive works with any
    parser that keeps the contract; one that takes only `(data, source=)` gets the bytes as they are)."""
    try:
        from nianbao.parsers import PARSER_VERSION
        from nianbao.parsers.document import parse_document
    except ImportError as exc:  # pragma: no cover - depends on the parser having landed
        raise RuntimeError(f"the parser is not available ({exc}); pass parse= to build") from exc
    return parse_document, str(PARSER_VERSION)


@lru_cache(maxsize=8)
def _takes_document_arguments(parse: Parser) -> bool:
    """Whether `parse` is a document parser (content type, file name and registry hints in)."""
    try:
        params = inspect.signature(parse).parameters
    except (TypeError, ValueError):
        return False
    return "content_type" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


@lru_cache(maxsize=8)
def _takes_cache(parse: Parser) -> bool:
    """Whether the document parser takes an OCR `cache` (parsers.document.parse_document does)."""
    try:
        return "cache" in inspect.signature(parse).parameters
    except (TypeError, ValueError):
        return False


def file_name_of(url: str) -> str | None:
    """The last path segment of a URL (a tie-breaker for the format, never the decider)."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return name or None


def parse_capture(capture: dict, body: bytes, parse: Parser, ocr_cache: Any = None) -> tuple[dict, float | None]:
    """(report, parse seconds or None) for one captured payload. Pure: runs in worker processes too.

    Every format goes through the parser's one door (parsers.document.parse_document): it sniffs the
    bytes, so a PDF served as text/html or a DOCX named .doc is read as what it is. `ocr_cache`
    (archive/ocr_cache.py) goes to a document parser that takes `cache`: scans read before are not
    OCR'd again."""
    if capture.get("junk"):
        return {"status": capture["junk"], "warnings": [f"junk page: {capture['junk']}"]}, None
    kwargs: dict[str, Any] = {}
    if _takes_document_arguments(parse):
        kwargs = {"content_type": capture.get("content_type"), "filename": file_name_of(capture["url"]),
                  "hints": capture.get("hints")}
        if ocr_cache is not None and _takes_cache(parse):
            kwargs["cache"] = ocr_cache
    started = time.process_time()  # CPU seconds: the parser's share, whatever else the machine runs
    try:
        report = parse(body, source=capture["url"], **kwargs)
    except Exception as exc:  # the contract says never raises; keep the record if it does
        log.warning("parser raised on %s: %s", capture["url"], exc)
        report = {"status": "unreadable", "warnings": [f"parser raised: {exc!r}"]}
    seconds = time.process_time() - started
    return (report if isinstance(report, dict) else {"status": "unreadable"}), seconds


_WORKER: dict[str, Any] = {}


def _worker_init(ocr_cache: Any = None) -> None:
    parse, _ = default_parser()
    _WORKER["parse"] = parse
    _WORKER["ocr_cache"] = ocr_cache  # a worker opens its own connection on first use (archive/ocr_cache.py)


def _worker_parse(job: tuple) -> tuple:
    """In a worker: parse the records the main process marked, pass the others through."""
    kind, item, body, need = job
    if not need:
        return kind, item, body, None
    report, seconds = parse_capture(item, body, _WORKER["parse"], _WORKER.get("ocr_cache"))
    usable = report.get("status") in USABLE
    return kind, item, None if usable else body, (report, seconds)


RECENT_DIGESTS = 1 << 16  # payloads a worker is not asked to parse again (a bounded memory of them)


def _jobs(records: Iterable[tuple[str, dict, bytes | None]]) -> Iterator[tuple]:
    """Mark which records need parsing: report responses whose payload digest was not just dispatched.

    The memory is the last RECENT_DIGESTS digests, not all: a payload seen longer ago is parsed again
    and the builder, which knows every digest, keeps its first version (a wasted parse, never a
    different row), so the reader's memory does not grow with the archive."""
    dispatched: dict[str, None] = {}
    for kind, item, body in records:
        need = False
        if kind == "response" and body is not None and _parseable(item) and not item.get("junk"):
            digest = item.get("payload_digest") or ""
            need = digest not in dispatched
            dispatched[digest] = None
            if len(dispatched) > RECENT_DIGESTS:
                del dispatched[next(iter(dispatched))]
        yield kind, item, body, need


def _parseable(item: dict) -> bool:
    return item.get("http_status") in (None, 200) and (item.get("role") in REPORT_ROLES or item.get("role") is None)


def _with_hints(builder: ArchiveBuilder, records: Iterable[tuple[str, dict, bytes | None]]
                ) -> Iterator[tuple[str, dict, bytes | None]]:
    """Each response carries `hints` (the registry's agency and region for its source), so
    `parse_capture` can hand them to the parser, in worker processes too."""
    for kind, item, body in records:
        if kind == "response":
            hints = builder.hints_for(item)
            if hints:
                item["hints"] = hints
        yield kind, item, body


CHUNK = 8  # records per task sent to a worker
IN_FLIGHT = 512  # records handed to the workers and not yet taken back by the main process (>= CHUNK)


class _Window:
    """At most `size` records between the reader and the main loop, when workers parse: Pool.imap
    reads its input as fast as the workers go and queues their results for the main process, which
    inserts more slowly, so without a window the parsed reports of the whole archive could wait in
    memory (peak RSS growing with the archive)."""

    def __init__(self, size: int):
        self.slots = threading.Semaphore(size)
        self.stopped = False

    def feed(self, jobs: Iterable[tuple]) -> Iterator[tuple]:
        for job in jobs:
            self.slots.acquire()
            if self.stopped:
                return
            yield job

    def taken(self) -> None:
        self.slots.release()

    def stop(self) -> None:
        """No more records (the main loop ended or failed): let a waiting reader return."""
        self.stopped = True
        self.slots.release()


def feed_records(builder: ArchiveBuilder, records: Iterable[tuple[str, dict, bytes | None]],
                 jobs: int = 1) -> int:
    """Feed records in order. jobs > 1 parses in worker processes (order kept, so the result is
    identical); the main process still does all reading, inserting and indexing."""
    n = 0
    if builder.registry_by_name:
        records = _with_hints(builder, records)
    if jobs > 1:
        import multiprocessing

        window = _Window(max(IN_FLIGHT, CHUNK))  # a smaller window would wait for a chunk that never fills
        pool = multiprocessing.get_context("fork").Pool(jobs, initializer=_worker_init,
                                                        initargs=(builder.ocr_cache,))
        stream: Iterable[tuple] = pool.imap(_worker_parse, window.feed(_jobs(records)), chunksize=CHUNK)
    else:
        pool = window = None
        stream = ((kind, item, body, None) for kind, item, body in records)
    try:
        for kind, item, body, parsed in stream:
            n += 1
            if window is not None:
                window.taken()
            if kind == "summary":
                builder.add_summary(item["summary"], {k: v for k, v in item.items() if k != "summary"})
            elif kind == "damaged":
                builder.add_damaged(item)
            elif kind == "revisit":
                builder.add_revisit(item)
            else:
                role = item.get("role")
                builder.add_capture(item, body, parseable=_parseable(item),
                                    require_report=role is None and kind == "response", parsed=parsed)
    finally:
        if pool is not None:
            window.stop()
            pool.close()
            pool.join()
    return n

