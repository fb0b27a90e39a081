"""Find the three report tables by their content and map their cells to template keys.

Rows are classified one by one (header of table 2/3/4, data row of the current table), so a
report table split over several <table>s, or preceded by a metadata table, is still found.
Values are mapped by the header's logical cells: when a data row has as many cells as the header
has measures/columns they pair up in order (this survives header/data colspan mismatches);
otherwise, for HTML, by the grid column under each header cell; for plain text (colspans lost),
by order after trimming padding blanks.

Why one module of ~460 lines: the three report tables are found and read in one pass over the rows. `segment`
classifies each row for all three at once (a row that is not table 3's may be table 4's), so the three readers
share that classification and the fitting of values to header cells (`_fit`, `_assign`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from nianbao.parsers import labels as L
from nianbao.parsers.keys import (
    active_cells,
    appeal_outcomes,
    appeal_procedures,
    editions,
    evidence,
    request_columns,
    request_rows,
)
from nianbao.parsers.model import Cell, Table
from nianbao.parsers.values import looks_like_value

REQUEST_COLUMNS = request_columns()
APPEAL_PAIRS = [(p, o) for p in appeal_procedures() for o in appeal_outcomes()]


@dataclass
class Found:
    """What the tables yielded: cells by key, header units, edition votes, warnings."""

    active: dict[tuple[str, str], Cell] = field(default_factory=dict)
    active_units: dict[tuple[str, str], str | None] = field(default_factory=dict)
    requests: dict[tuple[str, str], Cell] = field(default_factory=dict)
    appeals: dict[tuple[str, str], Cell] = field(default_factory=dict)
    votes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(editions(), 0))
    voted: list[tuple[str, ...]] = field(default_factory=list)  # the editions each vote went to
    kinds: list[str] = field(default_factory=list)
    other_tables: list[Table] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


Ref = tuple[Table, int]


def _row_cells(table: Table, r: int) -> list[Cell]:
    return table.covering(r) if table.spans else table.rows[r]


def _texts(cells: list[Cell]) -> list[str]:
    return [c.text for c in cells if c.text]


def _is_request_data(table: Table, r: int) -> bool:
    own = table.rows[r]
    if not own:
        return False
    for cell in _row_cells(table, r):
        if _is_request_label(cell.text):
            break
    else:
        return False
    for cell in own:
        if looks_like_value(cell.text):
            return True
    return False


@lru_cache(maxsize=16384)
def _is_request_label(text: str) -> bool:
    """A table 3 row label (cached: asked of every cell of every row while segmenting)."""
    return bool(text) and not looks_like_value(text) and bool(L.request_row_key(text))


def _is_active_data(table: Table, r: int) -> bool:
    """The first non-blank cell is a table 2 row label, and the row has at least two cells."""
    own = table.rows[r]
    if len(own) < 2:
        return False
    for cell in own:
        if cell.text:
            return L.active_row_key(cell.text) is not None
    return False


def _is_value_row(table: Table, r: int) -> bool:
    """Only values — or one leading label (数量/件数) before at least five values (table 4)."""
    own = table.rows[r]
    if not own:
        return False
    if all(looks_like_value(c.text) for c in own):
        return True
    return (len(own) >= 6 and not looks_like_value(own[0].text) and not L.appeal_procedure_key(own[0].text)
            and not L.appeal_outcome_key(own[0].text) and all(looks_like_value(c.text) for c in own[1:]))


def _values_of(table: Table, r: int) -> list[Cell]:
    own = table.rows[r]
    return own if looks_like_value(own[0].text) else own[1:]


def segment(tables: list[Table], warnings: list[str]) -> dict[str, list[Ref]]:
    """Rows of each report table, in page order.

    A table met again after something else (its continuation on the next page of a PDF or DOCX,
    with or without a repeated header, or after a page footer between the parts) extends its
    segment: the readers decide by row key, so new rows extend the table and rows already read
    are never overwritten by a later copy (a quoted table of last year), which they warn about.
    """
    segments: dict[str, list[Ref]] = {"active": [], "requests": [], "appeals": []}
    closed: set[str] = set()
    mode: str | None = None

    def enter(kind: str) -> str | None:
        nonlocal mode
        if mode != kind:
            if mode in segments:
                closed.add(mode)
            if kind in closed:
                warnings.append(f"the {kind} table resumes after other content: read as its continuation")
                closed.discard(kind)
            mode = kind
        return kind

    for table in tables:
        fresh = True
        for r in range(len(table.grid)):
            own = table.rows[r] if r < len(table.rows) else []
            texts = _texts(_row_cells(table, r))
            if not texts:
                continue
            ref = (table, r)
            if mode == "requests" and _is_request_data(table, r):
                segments["requests"].append(ref)
            elif L.is_request_header(texts):
                if enter("requests"):
                    segments["requests"].append(ref)
            elif L.is_appeals_header(texts):
                if enter("appeals"):
                    segments["appeals"].append(ref)
            elif mode == "appeals" and _is_value_row(table, r):
                segments["appeals"].append(ref)
            elif mode == "active" and _is_active_data(table, r):
                segments["active"].append(ref)
            elif L.is_active_header(texts) and not any(looks_like_value(t) for t in _texts(own)[1:]):
                if enter("active"):
                    segments["active"].append(ref)
            elif _is_request_data(table, r) and (fresh or mode is None):
                if enter("requests"):
                    segments["requests"].append(ref)
            elif _is_active_data(table, r) and (fresh or mode is None):
                if enter("active"):
                    segments["active"].append(ref)
            elif fresh:
                if mode in segments:
                    closed.add(mode)
                mode = None
            fresh = False
    return segments


# ---------------------------------------------------------------- helpers


def _fit(values: list[Cell], n: int, what: str, warnings: list[str], first_col: int | None = None) -> list[Cell]:
    """Trim padding blanks down to n cells; say so when it cannot.

    Blanks before the header's first value column (`first_col`) are padding left by a label's
    lost colspan; then trailing blanks go, then leading ones.
    """
    values = list(values)
    if first_col is not None:
        while len(values) > n and values[0].blank and values[0].col < first_col:
            values.pop(0)
    while len(values) > n and values[-1].blank:
        values.pop()
    while len(values) > n and values[0].blank:
        values.pop(0)
    if len(values) > n:
        warnings.append(f"{what}: {len(values)} value cells for {n} columns; read the first {n}")
        values = values[:n]
    elif len(values) < n:
        warnings.append(f"{what}: {len(values)} value cells for {n} columns")
    return values


def _split_labels(cells: list[Cell]) -> tuple[list[Cell], list[Cell]]:
    """Leading label cells and the value cells after the last label."""
    last = -1
    for index, cell in enumerate(cells):
        if cell.text and not looks_like_value(cell.text):
            last = index
    return [c for c in cells[: last + 1] if c.text], cells[last + 1:]


def _assign(target: dict, key: tuple[str, str], cell: Cell, what: str, warnings: list[str]) -> None:
    existing = target.get(key)
    if existing is None or (existing.blank and not cell.blank):
        target[key] = cell
    elif not cell.blank and cell is not existing:
        warnings.append(f"{what}: two cells for {key[0]}/{key[1]}; kept the first")


# ---------------------------------------------------------------- table 3


def read_requests(refs: list[Ref], found: Found) -> None:
    warnings = found.warnings
    header_cells: list[tuple[Cell, str]] = []
    colmaps: dict[int, dict[int, str]] = {}
    data: list[Ref] = []
    for table, r in refs:
        if (not data or not any(looks_like_value(c.text) for c in table.rows[r] if c.text)) \
                and L.is_request_header(_texts(_row_cells(table, r))):
            # the table's header, or one repeated over a continuation (which maps its own columns;
            # a data row, with numbers, is never taken for one)
            first_header = not data
            for cell in table.rows[r]:
                key = L.request_column_key(cell.text) if cell.text else None
                if key:
                    if first_header:
                        header_cells.append((cell, key))
                    colmap = colmaps.setdefault(table.index, {})
                    for c in range(cell.col, cell.col + cell.colspan):
                        colmap[c] = key  # deeper header rows overwrite: leaf labels win
        else:
            data.append((table, r))
    order: list[str] = []
    for _cell, key in sorted(header_cells, key=lambda ck: (ck[0].col, ck[0].row)):
        if key not in order:
            order.append(key)
    if not order:  # no header at all (a continuation table only): the template's order
        order = list(REQUEST_COLUMNS)
    elif sorted(order) != sorted(REQUEST_COLUMNS):
        missing = [c for c in REQUEST_COLUMNS if c not in order]
        warnings.append(f"table 3 header lacks columns {', '.join(missing)}; mapped only the columns it names")
    first_value_col = {t: min(m) for t, m in colmaps.items() if m}
    filled: set[str] = set()  # rows with a cell in found.requests already

    for table, r in data:
        own = table.rows[r]
        if table.spans and table.index in first_value_col:
            start = first_value_col[table.index]
            label_cells = [c for c in table.covering(r) if c.col < start and c.text]
            values = [c for c in own if c.col >= start]
            if len(values) != len(order):  # a continuation whose rowspan label columns did not carry over
                labels_before, after = _split_labels(own)
                if len(after) == len(order) and labels_before:
                    label_cells = [c for c in table.covering(r) if c.col < after[0].col and c.text
                                   and not looks_like_value(c.text)]
                    values = after
        else:
            label_cells, values = _split_labels(own)
            if table.spans:
                label_cells = [c for c in table.covering(r) if c.col < (values[0].col if values else 10**6)
                               and c.text and not looks_like_value(c.text)]
        key = next((k for k in (L.request_row_key(c.text) for c in reversed(label_cells)) if k), None)
        if key is None:
            if any(not c.blank for c in values):
                warnings.append(f"table 3 row {r}: label {' / '.join(c.text for c in label_cells)!r} not recognised")
            continue
        if key in filled:
            warnings.append(f"table 3: row {key} printed twice; kept the first")
            continue
        before = len(found.requests)
        what = f"table 3 row {key}"
        colmap = colmaps.get(table.index)
        if len(values) == len(order):
            for col, cell in zip(order, values):
                found.requests[(key, col)] = cell
        elif table.spans and colmap:
            for cell in values:
                col = next((colmap[c] for c in range(cell.col, cell.col + cell.colspan) if c in colmap), None)
                if col is None:
                    if not cell.blank:
                        warnings.append(f"{what}: value {cell.text!r} under no header column")
                    continue
                _assign(found.requests, (key, col), cell, what, warnings)
        else:
            first = min((c.col for c, _ in header_cells if c.table == table.index), default=None)
            for col, cell in zip(order, _fit(values, len(order), what, warnings, first)):
                found.requests[(key, col)] = cell
        if len(found.requests) > before:  # only this row's (key, column)s were added
            filled.add(key)
        _vote(found, "request_row", key)


# ---------------------------------------------------------------- table 2

def _vote(found: Found, kind: str, key: str | None) -> None:
    """A key some editions print and others do not is a vote for those (parsers.keys.evidence)."""
    names = evidence().get((kind, key), ())  # type: ignore[arg-type]
    for name in names:
        found.votes[name] += 1
    if names:
        found.voted.append(names)


def read_active(refs: list[Ref], found: Found) -> None:
    warnings = found.warnings
    header: list[tuple[str | None, Cell]] = []
    for table, r in refs:
        own = table.rows[r]
        texts = _texts(own)
        if not _is_active_data(table, r):
            for (kind, marker), _names in evidence().items():
                if kind == "marker" and any(marker in L.norm(t) for t in texts):
                    _vote(found, kind, marker)
            measures = [(L.active_measure_key(c.text), c) for c in own
                        if c.text and "信息内容" not in L.norm(c.text) and not L.norm(c.text).startswith("第二十条")]
            if measures:
                header = measures
                for key, _cell in measures:
                    _vote(found, "active_measure", key)
            continue
        nonblank = [c for c in own if c.text]
        label = nonblank[0]
        row = L.active_row_key(label.text)
        _vote(found, "active_row", row)
        values = own[own.index(label) + 1:]
        what = f"table 2 row {row}"
        if not header:
            warnings.append(f"{what}: no header row above it")
            continue
        if len(values) == len(header):
            pairs = list(zip([k for k, _ in header], values))
        elif table.spans and all(c.table == table.index for _, c in header):
            pairs = []
            for cell in values:
                key = next((k for k, h in header if h.col <= cell.col < h.col + h.colspan), None)
                if key is None and not cell.blank:
                    warnings.append(f"{what}: value {cell.text!r} under no header")
                pairs.append((key, cell))
        else:
            pairs = list(zip([k for k, _ in header], _fit(values, len(header), what, warnings)))
        units = {k: ("万元" if "万元" in h.text else "元" if "元" in h.text else None) for k, h in header}
        for key, cell in pairs:
            if key is None or row is None:
                continue
            if (row, key) in found.active and not found.active[(row, key)].blank:
                continue
            found.active[(row, key)] = cell
            found.active_units[(row, key)] = units.get(key)


# ---------------------------------------------------------------- table 4


def read_appeals(refs: list[Ref], found: Found) -> None:
    warnings = found.warnings
    headers = [(t, r) for t, r in refs if not _is_value_row(t, r)]
    rows = [(t, r) for t, r in refs if _is_value_row(t, r)]
    data = next(((t, r) for t, r in rows if any(not c.blank for c in _values_of(t, r))), None)
    if data is None:
        data = next(((t, r) for t, r in rows if len(_values_of(t, r)) >= len(APPEAL_PAIRS)), None)
    if data is None:
        warnings.append("table 4: no data row")
        return
    table, r = data
    values = _values_of(table, r)
    procs: dict[int, str] = {}
    outs: dict[int, str] = {}
    for t, hr in headers:
        if t.spans:
            line = [(c, cell) for c, cell in enumerate(t.grid[hr]) if cell is not None]
        else:
            line = list(enumerate(t.rows[hr]))
        fill: str | None = None
        for c, cell in line:
            p = L.appeal_procedure_key(cell.text) if cell.text else None
            o = L.appeal_outcome_key(cell.text) if cell.text else None
            if p:
                fill = p
            elif cell.text:
                fill = None
            p = p or (fill if not cell.text else None)  # spans lost (text, PDF grids): fill rightwards
            if p and (p != "litigation" or c not in procs):
                procs[c] = p
            if o:
                outs[c] = o
    pairs: list[tuple[int, tuple[str, str]]] = []
    for c in sorted(outs):
        p = procs.get(c)
        if p in ("review", "litigation_direct", "litigation_after_review"):
            pair = (p, outs[c])
            if pair not in [x for _, x in pairs]:
                pairs.append((c, pair))
    by_col = dict(pairs)
    complete = sorted(x for _, x in pairs) == sorted(APPEAL_PAIRS)
    what = "table 4"
    if complete and len(values) == len(pairs):
        mapping = list(zip([x for _, x in pairs], values))
    elif complete and table.spans and all(t.index == table.index for t, _ in headers):
        mapping = []
        for cell in values:
            pair = next((by_col[c] for c in range(cell.col, cell.col + cell.colspan) if c in by_col), None)
            if pair is None and not cell.blank:
                warnings.append(f"{what}: value {cell.text!r} under no header")
            if pair:
                mapping.append((pair, cell))
    else:
        order = [x for _, x in pairs] if complete else APPEAL_PAIRS
        if not complete:
            warnings.append("table 4 header not fully recognised; assumed template order")
        mapping = list(zip(order, _fit(values, len(order), what, warnings)))
    for pair, cell in mapping:
        _assign(found.appeals, pair, cell, what, warnings)


# ---------------------------------------------------------------- all three


def read_tables(tables: list[Table]) -> Found:
    found = Found()
    segments = segment(tables, found.warnings)
    if segments["active"]:
        read_active(segments["active"], found)
    if segments["requests"]:
        read_requests(segments["requests"], found)
    if segments["appeals"]:
        read_appeals(segments["appeals"], found)
    used = {t.index for refs in segments.values() for t, _ in refs}
    found.other_tables = [t for t in tables if t.index not in used]
    found.kinds = [k for k, v in (("active", found.active), ("requests", found.requests),
                                  ("appeals", found.appeals)) if v]
    return found


def edition_of(found: Found) -> str | None:
    """The edition with the most votes; None when there are none, or on a tie between editions the
    evidence tells apart. Editions that got the very same votes (a later edition adding rows to an
    earlier one's tables) go to the one with fewest cells: the evidence explains it with none left over."""
    top = max(found.votes.values(), default=0)
    leaders = [name for name, n in found.votes.items() if n == top]
    if not top:
        return None
    if len(leaders) > 1:
        if any(len(set(names) & set(leaders)) not in (0, len(leaders)) for names in found.voted):
            return None
        leaders = sorted(leaders, key=lambda name: (len(active_cells(name)) + len(request_rows(name)), name))
    winner = leaders[0]
    if any(winner not in names for names in found.voted):
        found.warnings.append("edition evidence is mixed ("
                              + ", ".join(f"{name}: {n}" for name, n in sorted(found.votes.items()))
                              + "); took the majority")
    return winner
