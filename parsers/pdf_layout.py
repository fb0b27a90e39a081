"""A born-digital PDF → blocks as printed: the title block, text lines, and ruled tables whose parts
on consecutive pages are stitched back into one table.

Why not pdfplumber's `Table.extract()` alone: it only knows closed cells, so a row cut by a page
break (no ruling at the page's foot, none at the next page's head) falls out of the table, a
label cell spanning the break loses its text, and each page's part is a separate table, which the
report reader must then guess at. Here pdfplumber's `find_tables()` (its ruling analysis, the
floor of the cost) only says *where* the tables are; each table region is then read as a lattice
of its own rulings — elementary boxes joined where no ruling separates them — so merged cells keep
their rowspan/colspan, a cell open at the page's edge is known to be open, and the parts of one
table on consecutive pages (same outer x-edges) are joined: repeated header rows dropped, open
cells at the seam merged (a row cut by the break becomes one row, a label spanning the break one
cell). Page headers, footers and page numbers are dropped before stitching, so they can never sit
between two parts. Characters are put into cells by bisecting the lattice's edges: cheaper than
pdfplumber's per-cell cropping, which is why the whole costs about what `extract_tables()` does.

Pure: bytes in, data out; pdfplumber/pdfminer do the PDF reading.

Why one module of ~620 lines: it is one reading of a PDF page. The text lines, the ruling lattice (`_Rulings`,
the biggest part), the stitching of a table's parts across pages and the title block all work on the same page
objects (`Line`, `PCell`, `PTable`) with the same geometric tolerances, and `read_pdf` is their only entry
point. Split up, each part would need the private geometry of the others.
"""

from __future__ import annotations

import io
import re
import statistics
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

SNAP = 3.0  # pt: rulings closer than this are one ruling (pdfplumber's snap/join tolerance)
EDGE_ZONE = 0.09  # share of the page height at top and bottom where running heads/footers live
_PAGE_NUMBER_RE = re.compile(
    r"^(?:[-—–－~·•\s]*\d{1,4}[-—–－~·•\s]*|第\s*\d+\s*页(?:\s*[,，/]?\s*共\s*\d+\s*页)?|共\s*\d+\s*页\s*第\s*\d+\s*页"
    r"|\d+\s*/\s*\d+|(?:page|p\.)\s*\d+(?:\s*(?:of|/)\s*\d+)?)$", re.I)
_DIGITS_RE = re.compile(r"\d+")


@dataclass
class Line:
    """A line of text outside tables."""

    text: str
    top: float
    bottom: float
    size: float


@dataclass
class PCell:
    """A cell of a ruled table: grid position, span, text, and whether its top/bottom edge is unruled."""

    r: int
    c: int
    rowspan: int
    colspan: int
    x0: float
    x1: float
    text: str = ""
    open_top: bool = False
    open_bottom: bool = False


@dataclass
class PTable:
    """One table part (or several stitched): its column edges (x) and cells by their top-left row."""

    xs: list[float]
    nrows: int
    cells: list[PCell]
    top: float
    bottom: float
    page: int = 0

    def row_signature(self, r: int) -> tuple:
        return tuple((c.c, c.colspan, c.text) for c in self.cells if c.r == r)


@dataclass
class Layout:
    """What a PDF holds, in reading order: ('title', str) | ('line', Line) | ('table', PTable)."""

    blocks: list[tuple[str, Any]] = field(default_factory=list)
    pages: int = 0
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- text


def _join(parts: list[str]) -> str:
    """Lines of one cell or paragraph joined: a space only between two Latin words; a wrapped CJK
    label or a number broken over two lines in a narrow column ("12" / "5") joins up."""
    out = ""
    for part in parts:
        if not part:
            continue
        if out and out[-1].isascii() and out[-1].isalpha() and part[0].isascii() and part[0].isalpha():
            out += " "
        out += part
    return out


def _line_groups(chars: list[dict]) -> list[list[dict]]:
    """Chars grouped into lines (by vertical overlap), each sorted left to right, duplicates dropped."""
    lines: list[list[dict]] = []
    current: list[dict] = []
    bottom = -1e9
    for ch in sorted(chars, key=lambda c: (c["top"], c["x0"])):
        if current and ch["top"] >= bottom - 0.3 * (ch["bottom"] - ch["top"]):
            lines.append(current)
            current = []
        if not current:
            bottom = ch["bottom"]
        else:
            bottom = max(bottom, ch["bottom"])
        current.append(ch)
    if current:
        lines.append(current)
    out = []
    for line in lines:
        line.sort(key=lambda c: c["x0"])
        kept: list[dict] = []
        for ch in line:  # fake bold: the same glyph drawn twice, a hair apart
            if kept and ch["text"] == kept[-1]["text"] and abs(ch["x0"] - kept[-1]["x0"]) < 1 \
                    and abs(ch["top"] - kept[-1]["top"]) < 1:
                continue
            kept.append(ch)
        out.append(kept)
    return out


def _line_text(chars: list[dict]) -> str:
    text = ""
    previous = None
    for ch in chars:
        if previous is not None and ch["x0"] - previous["x1"] > 0.5 * max(ch["size"], 1):
            text += " "
        text += ch["text"]
        previous = ch
    return text.strip()


# ---------------------------------------------------------------- rulings → lattice


def _cluster(values: list[float]) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if out and v - out[-1] <= SNAP:
            continue
        out.append(v)
    return out


def _intervals(segments: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for a, b in sorted(segments):
        if merged and a <= merged[-1][1] + SNAP:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _bucket(at: list[float], segments: list[tuple[float, float, float]]) -> list[list[tuple[float, float]]]:
    """The segments (position, start, end) lying on each clustered position of `at`, merged into
    intervals (one bisect per segment, not a scan of all segments per position)."""
    buckets: list[list[tuple[float, float]]] = [[] for _ in at]
    for position, a, b in segments:
        i = bisect_right(at, position + SNAP) - 1
        if i >= 0 and abs(at[i] - position) <= SNAP:
            buckets[i].append((a, b))
        elif i >= 1 and abs(at[i - 1] - position) <= SNAP:
            buckets[i - 1].append((a, b))
    return [_intervals(bucket) for bucket in buckets]


def _covers(intervals: list[tuple[float, float]], at: float) -> bool:
    return any(a - 0.5 <= at <= b + 0.5 for a, b in intervals)


class _Rulings:
    """A page's horizontal and vertical rulings, grouped by their position."""

    def __init__(self, edges: list[dict]) -> None:
        self.v = [e for e in edges if e["orientation"] == "v"]
        self.h = [e for e in edges if e["orientation"] == "h"]

    def extent(self, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """The table's box grown to rulings that run on past it: vertical ones below its foot or
        above its head (a row open at the page's edge), horizontal ones to a side (a label column
        with no closed cell on this page, e.g. a block label spanning the break)."""
        x0, top, x1, bottom = bbox
        grown = True
        while grown:
            grown = False
            for e in self.v:
                if x0 - SNAP <= e["x0"] <= x1 + SNAP:
                    if e["top"] <= bottom + SNAP and e["bottom"] > bottom + SNAP:
                        bottom, grown = e["bottom"], True
                    if e["bottom"] >= top - SNAP and e["top"] < top - SNAP:
                        top, grown = e["top"], True
            for e in self.h:
                if top - SNAP <= e["top"] <= bottom + SNAP and e["x1"] >= x0 - SNAP and e["x0"] <= x1 + SNAP:
                    if e["x0"] < x0 - SNAP:
                        x0, grown = e["x0"], True
                    if e["x1"] > x1 + SNAP:
                        x1, grown = e["x1"], True
        return x0, top, x1, bottom

    def fragments(self, regions: list[tuple[float, float, float, float]], chars: list[dict],
                  height: float) -> list[tuple[float, float, float, float]]:
        """Ruled fragments with no closed cell grid (pdfplumber finds none there) that open or close
        the page's content: a table's header rows cut from its body by the page break, or the last
        row of a table cut at the next page's top. Anywhere else a ruled box is left to the text."""
        loose = [e for e in self.v if not any(rx0 - SNAP <= e["x0"] <= rx1 + SNAP and rt - SNAP <= e["top"]
                                              and e["bottom"] <= rb + SNAP for rx0, rt, rx1, rb in regions)]
        groups: list[list[dict]] = []
        reach = 0.0  # the lowest bottom of the group being built
        for e in sorted(loose, key=lambda e: e["top"]):
            if groups and e["top"] <= reach + SNAP:
                groups[-1].append(e)
                reach = max(reach, e["bottom"])
            else:
                groups.append([e])
                reach = e["bottom"]
        out = []
        body = [c for c in chars if height * EDGE_ZONE <= c["top"] and c["bottom"] <= height * (1 - EDGE_ZONE)]
        for group in groups:
            xs = _cluster([e["x0"] for e in group])
            if len(xs) < 3 or xs[-1] - xs[0] < 50:  # a lone box (a frame, a filled image block) is no table
                continue
            top, bottom = min(e["top"] for e in group), max(e["bottom"] for e in group)
            last = not any(c["top"] > bottom + SPILL for c in body) and not any(rt > bottom for _, rt, _, _ in regions)
            first = not any(c["bottom"] < top - SPILL for c in body) and not any(rb < top for _, _, _, rb in regions)
            if last or first:
                out.append((xs[0], top, xs[-1], bottom))
        return out

    def table(self, x0: float, top: float, x1: float, bottom: float, chars: list[dict], page: int,
              spill: list[dict] | None = None) -> PTable | None:
        v = [e for e in self.v if x0 - SNAP <= e["x0"] <= x1 + SNAP and e["bottom"] > top + SNAP
             and e["top"] < bottom - SNAP]
        h = [e for e in self.h if top - SNAP <= e["top"] <= bottom + SNAP and e["x1"] > x0 + SNAP
             and e["x0"] < x1 - SNAP]
        xs = _cluster([e["x0"] for e in v])
        if len(xs) < 2:
            return None
        ys = _cluster([e["top"] for e in h] + [top, bottom])
        ys = [y for y in ys if top - SNAP <= y <= bottom + SNAP]
        if len(ys) < 2:
            return None
        vlines = _bucket(xs, [(e["x0"], e["top"], e["bottom"]) for e in v])
        hlines = _bucket(ys, [(e["top"], e["x0"], e["x1"]) for e in h])
        nr, nc = len(ys) - 1, len(xs) - 1
        parent = list(range(nr * nc))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for r in range(nr):
            ym = (ys[r] + ys[r + 1]) / 2
            for c in range(nc):
                xm = (xs[c] + xs[c + 1]) / 2
                if c + 1 < nc and not _covers(vlines[c + 1], ym):
                    parent[find(r * nc + c + 1)] = find(r * nc + c)
                if r + 1 < nr and not _covers(hlines[r + 1], xm):
                    parent[find((r + 1) * nc + c)] = find(r * nc + c)
        boxes: dict[int, list[int]] = {}
        for i in range(nr * nc):
            boxes.setdefault(find(i), []).append(i)
        owner: dict[int, PCell] = {}
        cells: list[PCell] = []
        for members in boxes.values():
            rows = [i // nc for i in members]
            cols = [i % nc for i in members]
            r0, r1, c0, c1 = min(rows), max(rows), min(cols), max(cols)
            if len(members) != (r1 - r0 + 1) * (c1 - c0 + 1):  # not a rectangle: broken rulings
                groups = [[i] for i in members]
            else:
                groups = [members]
            for group in groups:
                gr = [i // nc for i in group]
                gc = [i % nc for i in group]
                cell = PCell(min(gr), min(gc), max(gr) - min(gr) + 1, max(gc) - min(gc) + 1,
                             xs[min(gc)], xs[max(gc) + 1])
                xm = (cell.x0 + cell.x1) / 2
                cell.open_top = cell.r == 0 and not _covers(hlines[0], xm)
                cell.open_bottom = cell.r + cell.rowspan == nr and not _covers(hlines[-1], xm)
                cells.append(cell)
                for i in group:
                    owner[i] = cell
        texts: dict[int, list[dict]] = {}
        for ch in chars:
            cx, cy = (ch["x0"] + ch["x1"]) / 2, (ch["top"] + ch["bottom"]) / 2
            c = bisect_right(xs, cx) - 1
            r = bisect_right(ys, cy) - 1
            if 0 <= c < nc and 0 <= r < nr:
                texts.setdefault(id(owner[r * nc + c]), []).append(ch)
        sizes = {round(ch["size"] * 2) for ch in chars}
        for line in _line_groups(list(spill or ())):  # text of open cells printed past their rulings
            words = self._spilled_into(line, xs, owner, nr, nc, bottom, sizes)
            for cell, word in words:
                texts.setdefault(id(cell), []).extend(word)
                for ch in word:
                    ch["_taken"] = True
        taken = [ch for ch in spill or () if ch.get("_taken")]
        for ch in spill or ():  # the twin of a fake-bold glyph (dropped from its line) goes with it
            if not ch.get("_taken") and any(t["text"] == ch["text"] and abs(t["x0"] - ch["x0"]) < 1
                                            and abs(t["top"] - ch["top"]) < 1 for t in taken):
                ch["_taken"] = True
        for cell in cells:
            chs = texts.get(id(cell))
            if chs:
                cell.text = _join([_line_text(line) for line in _line_groups(chs)])
        cells.sort(key=lambda k: (k.r, k.c))
        return PTable(xs, nr, cells, top, bottom, page)

    @staticmethod
    def _spilled_into(line: list[dict], xs: list[float], owner: dict[int, PCell], nr: int, nc: int,
                      bottom: float, sizes: set[int]) -> list[tuple[PCell, list[dict]]]:
        """A line just past the table's foot (head) as the run-on text of its open cells: each word
        of it (chars without a gap) inside one open cell's columns, in a type size the table prints;
        else nothing. A word crossing a column ruling or the table's edge, or in another size, is
        the page's own text: a browser's print header or footer (date, title, address, page x/y)
        sits right there, above a table part that opens a page or below one cut at its foot."""
        if sizes and not all(round(ch["size"] * 2) in sizes for ch in line):
            return []
        below = line[0]["top"] >= bottom
        words: list[tuple[PCell, list[dict]]] = []
        previous = None
        for ch in line:
            cx = (ch["x0"] + ch["x1"]) / 2
            c = bisect_right(xs, cx) - 1
            if not 0 <= c < nc or ch["x0"] < xs[0] - 1 or ch["x1"] > xs[-1] + 1:
                return []
            cell = owner[(nr - 1) * nc + c] if below else owner[c]
            if not (cell.open_bottom if below else cell.open_top):
                return []
            if previous is not None and ch["x0"] - previous["x1"] <= 0.5 * max(ch["size"], 1):
                if words[-1][0] is not cell:
                    return []  # one word over a column ruling
                words[-1][1].append(ch)
            else:
                words.append((cell, [ch]))
            previous = ch
        return words


# ---------------------------------------------------------------- stitching


def _same_frame(a: PTable, b: PTable) -> bool:
    """Parts of one table: the same outer edges, and every column edge of one is an edge of the other."""
    if abs(a.xs[0] - b.xs[0]) > SNAP or abs(a.xs[-1] - b.xs[-1]) > SNAP:
        return False
    small, big = (a.xs, b.xs) if len(a.xs) <= len(b.xs) else (b.xs, a.xs)
    return all(any(abs(x - y) <= SNAP for y in big) for x in small)


def _nearest(xs: list[float], x: float) -> int:
    i = bisect_right(xs, x)
    if i == len(xs) or (i and x - xs[i - 1] <= xs[i] - x):
        return i - 1
    return i


def _remap(table: PTable, xs: list[float]) -> None:
    for cell in table.cells:
        c0, c1 = _nearest(xs, cell.x0), _nearest(xs, cell.x1)
        cell.c, cell.colspan = c0, max(1, c1 - c0)
    table.xs = xs


def _header_rows(a: PTable, b: PTable) -> int:
    """How many of b's first rows repeat a's first rows (a repeated table header)."""
    k = 0
    while k < min(a.nrows, b.nrows) - 1:
        sig = b.row_signature(k)
        if not sig or sig != a.row_signature(k) or not any(text for _, _, text in sig):
            break
        k += 1
    # a repeated block must end where no cell of it reaches further down
    while k and any(c.r < k < c.r + c.rowspan for c in b.cells):
        k -= 1
    return k


def _completes(bottoms: dict[tuple[int, int], PCell], first: list[PCell]) -> bool:
    """b's first row is the rest of a's last row: the same cells, no cell printed on both sides
    with a number in it, and no label of b's starting with an ordinal (a new row's label would)."""
    from nianbao.parsers.labels import norm, strip_ordinal
    from nianbao.parsers.values import looks_like_value

    if {(c.c, c.colspan) for c in first} != set(bottoms) or not any(c.text for c in first):
        return False
    for cell in first:
        above = bottoms[(cell.c, cell.colspan)]
        if cell.text and above.text and (looks_like_value(cell.text) or looks_like_value(above.text)):
            return False
        if cell.text and not looks_like_value(cell.text) and strip_ordinal(norm(cell.text)) != norm(cell.text):
            return False
    return True


def stitch(a: PTable, b: PTable) -> PTable:
    """b continued a on the next page: one table (header repeats dropped, open cells at the seam merged)."""
    xs = _cluster(a.xs + b.xs)
    _remap(a, xs)
    _remap(b, xs)
    skip = _header_rows(a, b)
    rest = [c for c in b.cells if c.r >= skip]
    for cell in rest:
        cell.r -= skip
    first = [c for c in rest if c.r == 0]
    bottoms = {(c.c, c.colspan): c for c in a.cells if c.r + c.rowspan == a.nrows}
    # Where a's last cells have no ruling at the page's foot, the cell goes on. (b's top is no
    # evidence: a browser paints a collapsed border once, at the foot of the first page.)
    seam_open = {key for key, c in bottoms.items() if c.open_bottom}
    # a row cut by the break: no ruling anywhere along the seam, or (a word processor rules both
    # sides of the break) the two fragments complete each other
    cut = bool(first) and (all((c.c, c.colspan) in seam_open for c in first) or _completes(bottoms, first))
    if not cut:  # a label cell spanning rows that goes on over the break, printed blank after it
        seam_open |= {(c.c, c.colspan) for c in first if not c.text and c.rowspan > 1
                      and (c.c, c.colspan) in bottoms and bottoms[(c.c, c.colspan)].text}
    offset = a.nrows - 1 if cut else a.nrows
    merged = list(a.cells)
    for cell in rest:
        above = bottoms.get((cell.c, cell.colspan)) if cell.r == 0 else None
        if above is not None and (cut or (cell.c, cell.colspan) in seam_open):
            above.text = _join([above.text, cell.text])
            above.rowspan += cell.rowspan - (1 if cut else 0)
            above.open_bottom = cell.open_bottom
            continue
        cell.r += offset
        merged.append(cell)
    nrows = max(a.nrows, max((c.r + c.rowspan for c in merged), default=0))
    merged.sort(key=lambda k: (k.r, k.c))
    return PTable(xs, nrows, merged, a.top, b.bottom, a.page)


# ---------------------------------------------------------------- pages


SPILL = 20.0  # pt: how far an open cell's text may run past its rulings at the page's edge


def _spills(regions: list[tuple[float, float, float, float]], outside: list[dict], height: float) -> list[list[dict]]:
    """For each region that ends (starts) the page's body, the loose chars just below (above) it:
    text of an open cell that runs past the rulings. Only running heads/footers may lie further out."""
    out = []
    for x0, top, x1, bottom in regions:
        spill = []
        if not any(rt > bottom for _, rt, _, _ in regions):
            below = [c for c in outside if c["top"] >= bottom - 1]
            near = [c for c in below if c["top"] < bottom + SPILL and c["x1"] > x0 and c["x0"] < x1]
            ids = {id(c) for c in near}
            if near and all(id(c) in ids or c["top"] > height * (1 - EDGE_ZONE) for c in below):
                spill += near
        if not any(rb < top for _, _, _, rb in regions):
            above = [c for c in outside if c["bottom"] <= top + 1]
            near = [c for c in above if c["bottom"] > top - SPILL and c["x1"] > x0 and c["x0"] < x1]
            ids = {id(c) for c in near}
            if near and all(id(c) in ids or c["bottom"] < height * EDGE_ZONE for c in above):
                spill += near
        out.append(spill)
    return out


_CONTINUED_RE = re.compile(r"续表|[（(]\s*续\s*[)）]|接上[页表]|转下页|下转|承上页|续上页")


def _is_continued_mark(text: str) -> bool:
    """A short line saying a table goes on ("续表3", "（续）", "接上页", "转下页")."""
    return len(text) <= 24 and _CONTINUED_RE.search(text) is not None


def _is_edge_text(line: Line, height: float) -> bool:
    return line.top < height * EDGE_ZONE or line.bottom > height * (1 - EDGE_ZONE)


def read_pdf(data: bytes) -> Layout:
    """The PDF's blocks in reading order (raises on a broken file: the caller turns that into None)."""
    import pdfplumber

    layout = Layout()
    pages: list[tuple[float, list[tuple[float, str, Any]]]] = []
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        layout.pages = len(pdf.pages)
        for number, page in enumerate(pdf.pages):
            chars = [c for c in page.chars if c["text"].strip()]  # vertical text (non-upright) too
            ruled = bool(page.rects or page.lines or page.curves)
            found = page.find_tables() if ruled else []
            rulings = _Rulings(page.edges) if ruled else None
            blocks: list[tuple[float, str, Any]] = []
            regions = []
            for t in found:
                x0, top, x1, bottom = rulings.extent(t.bbox)  # type: ignore[union-attr]
                if any(top < rb and bottom > rt and x0 < rx1 and x1 > rx0 for rx0, rt, rx1, rb in regions):
                    continue  # grown into a region already read
                regions.append((x0, top, x1, bottom))
            if rulings is not None:
                regions += rulings.fragments(regions, chars, float(page.height))
            inside: list[list[dict]] = [[] for _ in regions]
            outside: list[dict] = []
            for ch in chars:
                cx, cy = (ch["x0"] + ch["x1"]) / 2, (ch["top"] + ch["bottom"]) / 2
                for i, (x0, top, x1, bottom) in enumerate(regions):
                    if x0 - 1 <= cx <= x1 + 1 and top - 1 <= cy <= bottom + 1:
                        inside[i].append(ch)
                        break
                else:
                    outside.append(ch)
            spills = _spills(regions, outside, float(page.height))
            for (x0, top, x1, bottom), chs, spill in zip(regions, inside, spills):
                table = rulings.table(x0, top, x1, bottom, chs, number, spill)  # type: ignore[union-attr]
                if table is not None and spill:
                    taken = {id(ch) for ch in spill if ch.get("_taken")}
                    outside = [ch for ch in outside if id(ch) not in taken]
                if table is not None and any(cell.text for cell in table.cells):
                    blocks.append((top, "table", table))
                else:
                    outside.extend(chs)
            for group in _line_groups(outside):
                text = _line_text(group)
                if text:
                    line = Line(text, min(c["top"] for c in group), max(c["bottom"] for c in group),
                                statistics.median(c["size"] for c in group))
                    blocks.append((line.top, "line", line))
            blocks.sort(key=lambda b: b[0])
            pages.append((float(page.height), blocks))
    _drop_running_text(pages)
    _title_block(pages, layout)
    previous: PTable | None = None  # a table that ended the last page (only furniture after it)
    for _height, blocks in pages:
        # "续表" / "（续）" / "接上页" above a table's next part, "转下页" below its part: no content
        head = 0
        while head < len(blocks) and blocks[head][1] == "line" and _is_continued_mark(blocks[head][2].text):
            head += 1
        if previous is not None and head < len(blocks) and blocks[head][1] == "table" \
                and layout.blocks and layout.blocks[-1][1] is previous and _same_frame(previous, blocks[head][2]):
            previous = stitch(previous, blocks[head][2])
            layout.blocks[-1] = ("table", previous)
            blocks = blocks[head + 1:]
        elif blocks:
            previous = None
        tail = len(blocks)
        while tail and blocks[tail - 1][1] == "line" and _is_continued_mark(blocks[tail - 1][2].text):
            tail -= 1
        for _, kind, item in blocks[:tail]:
            layout.blocks.append((kind, item))
            previous = item if kind == "table" else None
        if tail < len(blocks) and previous is None:
            layout.blocks.extend(("line", b[2]) for b in blocks[tail:])
    return layout


def _drop_running_text(pages: list[tuple[float, list[tuple[float, str, Any]]]]) -> None:
    """Page numbers and running heads/footers (same text, digits aside, on several pages near an edge)."""
    seen: dict[str, int] = {}
    for height, blocks in pages:
        keys = {_DIGITS_RE.sub("#", b[2].text) for b in blocks if b[1] == "line" and _is_edge_text(b[2], height)}
        for key in keys:
            seen[key] = seen.get(key, 0) + 1
    repeated = {key for key, n in seen.items() if n >= 2 and n * 2 >= len(pages)}
    for height, blocks in pages:
        blocks[:] = [b for b in blocks if not (b[1] == "line" and _is_edge_text(b[2], height) and (
            _PAGE_NUMBER_RE.match(b[2].text.strip()) or _DIGITS_RE.sub("#", b[2].text) in repeated))]


def _title_block(pages: list[tuple[float, list[tuple[float, str, Any]]]], layout: Layout) -> None:
    """Page 1's title: a run of lines in one large font (≥ 1.15× the body's) at its top, before any
    table, maybe over two lines → one ('title', text) block. Of several such runs (a red-letter
    issuing body's name in a still larger font above the title) the first naming a 报告 wins, else
    the largest if clearly larger (≥ 1.3×); the others stay lines."""
    if not pages:
        return
    blocks = pages[0][1]
    sizes = [b[2].size for _, blocks_ in pages for b in blocks_ if b[1] == "line"]
    if not sizes:
        return
    body = statistics.median(sizes)
    runs: list[tuple[int, int, float]] = []  # (start, end, size) of consecutive large same-size lines
    i = 0
    while i < min(len(blocks), 12) and blocks[i][1] == "line":
        size = blocks[i][2].size
        j = i + 1
        while j < len(blocks) and blocks[j][1] == "line" and abs(blocks[j][2].size - size) <= 0.5:
            j += 1
        if size >= body * 1.15:
            runs.append((i, j, size))
        i = j
    if not runs:
        return
    text = {run: _join([b[2].text for b in blocks[run[0]:run[1]]]) for run in runs}
    chosen = next((run for run in runs if "报告" in text[run]), max(runs, key=lambda run: run[2]))
    if "报告" not in text[chosen] and chosen[2] < body * 1.3:
        return  # a section heading a little larger than the body is no title
    start, end, _ = chosen
    # the body's name printed over the title in another large size ("某某区人民政府" / "2023年…报告"):
    # the run right above joins it, unless it is a red-letter issuing line ("…文件") or a document number
    before = next((run for run in runs if run[1] == start), None)
    if before is not None and "报告" in text[chosen] and not text[before].endswith("文件") \
            and "〔" not in text[before] and len(text[before]) <= 30:
        start = before[0]
        text[chosen] = text[before] + text[chosen]
    layout.blocks.extend(("line", b[2]) for b in blocks[:start])
    layout.blocks.append(("title", text[chosen]))
    del blocks[:end]
