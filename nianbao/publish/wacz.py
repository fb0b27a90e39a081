"""The data directory's WARCs as one WACZ (Web Archive Collection Zipped) file: `nianbao export --wacz OUT`.

A WACZ is what replay tools (ReplayWeb.page, pywb) and web archives take as one self-describing package:
the WARCs, a CDXJ index, the pages list and a Frictionless datapackage.json with every file's hash. It is
written by the Webrecorder `wacz` package (py-wacz), the format's reference implementation, rather than by
hand; `wacz validate` checks it. Only closed WARCs go in (`DataDir.warc_files`: a `.open` file is still being
written). Its pages list (where a replay opens) is every column page and report page the crawler stored
a good copy of (role `list`/`report`, 200, HTML, not junk), at its first capture, titled as the column
listed it (the crawl summaries' `titles`); py-wacz's own `--detect-pages` would keep only pages that were
the Referer of another request, i.e. drop every report without an attachment.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from nianbao import __version__

PAGE_ROLES = ("list", "report")


class WaczError(RuntimeError):
    """The WACZ could not be written (no WARCs, or py-wacz failed)."""


@dataclass(frozen=True)
class WaczResult:
    path: Path
    warcs: int
    index_lines: int
    pages: int
    size: int


def page_list(warcs: list[Path]) -> list[dict[str, str]]:
    """`{"url", "ts", "title"}` of the first good capture of each column and report page, oldest first."""
    titles: dict[str, str] = {}
    first: dict[str, str] = {}
    for path in warcs:
        try:
            with open(path, "rb") as fh:
                for rec in ArchiveIterator(fh):
                    h = rec.rec_headers
                    if rec.rec_type == "metadata" and h.get_header("WARC-Nianbao-Kind") == "crawl-summary":
                        summary = json.loads(rec.content_stream().read())
                        titles.update(summary.get("titles") or {})
                    elif (rec.rec_type == "response" and h.get_header("WARC-Nianbao-Role") in PAGE_ROLES
                          and not h.get_header("WARC-Nianbao-Junk") and rec.http_headers is not None
                          and rec.http_headers.get_statuscode() == "200"
                          and "html" in (rec.http_headers.get_header("Content-Type") or "").lower()):
                        first.setdefault(h.get_header("WARC-Target-URI"), h.get_header("WARC-Date"))
        except Exception:  # a damaged tail (the build reads such files up to it): keep the pages before it
            continue
    return [{"url": url, "ts": ts, "title": titles.get(url) or url}
            for url, ts in sorted(first.items(), key=lambda item: (item[1], item[0]))]


def write_wacz(warcs: list[Path], out: Path, title: str = "nianbao crawl",
               description: str | None = None) -> WaczResult:
    """Package `warcs` (closed WARC files) as the WACZ `out` (replaced if present)."""
    from wacz.main import main as wacz_main

    if not warcs:
        raise WaczError("no closed WARC files to package (run `nianbao crawl` first)")
    names = [p.name for p in warcs]
    if len(set(names)) != len(names):
        raise WaczError("two WARC files share a name; a WACZ stores them by name under archive/")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.unlink(missing_ok=True)
    desc = description or f"nianbao {__version__}: {len(warcs)} WARC files of government information-disclosure " \
                          "annual report columns"
    pages = page_list(warcs)
    chatter = io.StringIO()  # py-wacz prints its progress; keep ours the only output
    with tempfile.TemporaryDirectory() as work, contextlib.redirect_stdout(chatter):
        listing = ["--detect-pages"]
        if pages:
            pages_file = Path(work) / "pages.jsonl"
            header = {"format": "json-pages-1.0", "id": "pages", "title": "Columns and reports"}
            pages_file.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in [header, *pages]),
                                  encoding="utf-8")
            listing = ["-p", str(pages_file)]
        status = wacz_main(["create", "-o", str(tmp), *listing, "--title", title, "--desc", desc,
                            *[str(p) for p in warcs]])
    if status not in (0, None) or not tmp.exists():
        tmp.unlink(missing_ok=True)
        raise WaczError(f"py-wacz failed ({status}): {chatter.getvalue()[-2000:]}")
    tmp.replace(out)
    with zipfile.ZipFile(out) as z:
        files = set(z.namelist())
        index = z.read("indexes/index.cdx.gz") if "indexes/index.cdx.gz" in files else b""
        pages = z.read("pages/pages.jsonl") if "pages/pages.jsonl" in files else b""
    lines = len(gzip.decompress(index).splitlines()) if index else 0
    n_pages = max(0, len(pages.splitlines()) - 1)  # the first line is the header
    return WaczResult(out, len(warcs), lines, n_pages, out.stat().st_size)
