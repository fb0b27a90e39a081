"""Files with one job (issue 12.2): a module over MAX_LINES lines says in its docstring why it is one module.

The reason is a paragraph of the module docstring starting with REASON ("Why one module of ~N lines: …"),
so a reader opening a long file learns first why it was not split. A module that does two jobs is split
instead (nianbao/nightly.py and nianbao/nightly_record.py were one).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("crawler", "parsers", "archive", "nianbao", "bench")
MAX_LINES = 400
REASON = "Why one module of "


def long_modules() -> dict[Path, int]:
    """Every module of the package folders over MAX_LINES lines, with its line count."""
    out = {}
    for folder in FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                out[path] = lines
    return out


def test_a_long_module_says_why_it_is_one_module():
    missing = []
    for path, lines in long_modules().items():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"), str(path))) or ""
        if not any(paragraph.lstrip().startswith(REASON) for paragraph in doc.split("\n\n")):
            missing.append(f"{path.relative_to(REPO)} ({lines} lines)")
    assert not missing, (f"modules over {MAX_LINES} lines without a '{REASON}N lines: …' paragraph in their "
                         f"docstring (split them, or say why not): {', '.join(missing)}")


def test_the_walk_sees_the_long_modules():
    """The walk is not vacuous: it finds the long modules we know of."""
    found = {str(p.relative_to(REPO)) for p in long_modules()}
    assert {"parsers/pdf_layout.py", "archive/schema.py", "crawler/spiders/column.py"} <= found
