"""The data directory's WARCs as one WACZ (Web Archive Collection Zipped) file: `nianbao export --wacz OUT`.

A WACZ is what replay tools (ReplayWeb.page, pywb) and web archives take as one self-describing package:
the WARCs, a CDXJ index, the pages list and a Frictionless datapackage.json with every file's hash. It is
written by the Webrecorder `wacz` package (py-wacz), the format's reference implementation, rather than by
hand; `wacz validate` checks it. Only closed WARCs go in (`DataDir.warc_files`: a `.open` file is still being
written). Pages are the HTML pages the crawl fetched (`--detect-pages`), so a replay opens on the columns
and reports.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nianbao import __version__


class WaczError(RuntimeError):
    """The WACZ could not be written (no WARCs, or py-wacz failed)."""


@dataclass(frozen=True)
class WaczResult:
    path: Path
    warcs: int
    index_lines: int
    pages: int
    size: int


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
    chatter = io.StringIO()  # py-wacz prints its progress; keep ours the only output
    with contextlib.redirect_stdout(chatter):
        status = wacz_main(["create", "-o", str(tmp), "--detect-pages", "--title", title, "--desc", desc,
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
