"""The parser's intermediate model: tables as grids of cells, the same for HTML and plain text."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True, eq=False)
class Cell:
    """One printed cell. `row`/`col` are its top-left grid position after span expansion."""

    text: str  # whitespace-collapsed printed text (the `raw` of the output)
    table: int
    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1
    # OCR provenance from the <td>'s data attributes (parsers/ocr): method, confidence, page, box,
    # low_confidence; None for every cell printed as text (their output stays as it was)
    ocr: dict | None = None

    @property
    def blank(self) -> bool:
        return not self.text

    def position(self) -> dict[str, int]:
        return {"table": self.table, "row": self.row, "col": self.col}


@dataclass(slots=True, eq=False)
class Table:
    """A table of the page. `rows[r]`: cells starting in grid row r; `grid[r][c]`: the covering cell."""

    index: int
    rows: list[list[Cell]] = field(default_factory=list)
    grid: list[list[Cell | None]] = field(default_factory=list)
    spans: bool = True  # False for plain-text tables, whose colspans were lost
    _covering: dict[int, list[Cell]] = field(default_factory=dict, repr=False)

    def covering(self, r: int) -> list[Cell]:
        """Distinct cells covering grid row r (rowspan-inherited block labels included), left to right."""
        cached = self._covering.get(r)
        if cached is None:
            cached = []
            previous = None
            for cell in self.grid[r] if r < len(self.grid) else ():
                # a cell covers one contiguous run of a row, so comparing neighbours dedupes
                if cell is not None and cell is not previous:
                    cached.append(cell)
                previous = cell
            self._covering[r] = cached
        return cached
