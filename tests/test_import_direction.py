"""Data flows one way — crawl → WARC → parse → archive → publish — and no import runs against it.

The allowed import directions are stated once, as the layer table of docs/architecture.md ("Layers: who
may import whom", between its `layers:start` and `layers:end` marks), beside the picture of the house;
this test reads the table from there, so the document and the check cannot drift apart. It walks the AST
of every module of the installed namespace (the folders of setup.py's package-dir mapping) and checks
each import of one of our modules, function-level and relative imports included.

The archive meets the crawler only through files (WARCs, crawl summaries, the registry file read by
`nianbao.registry`), never through code. A new module must be placed in a row of the table (the test
fails on a module it cannot place), so the matrix stays complete.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = "nianbao"
BARE = ("crawler", "parsers", "archive")  # the folders' own names: importable only from the repo root

ARCHITECTURE = REPO / "docs" / "architecture.md"
LAYERS_START, LAYERS_END = "<!-- layers:start", "<!-- layers:end -->"


def read_layers() -> tuple[dict[str, str], dict[str, set[str]]]:
    """docs/architecture.md's layer table: (module prefix → layer, layer → the layers it may import).

    Rows `| layer | `prefix` `prefix` … | layer, layer, … |` between the marks; the header and the
    separator row are skipped."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = text[text.index(LAYERS_START):text.index(LAYERS_END)]
    layer_of: dict[str, str] = {}
    allowed: dict[str, set[str]] = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 3 or cells[0] == "layer" or not cells[0].strip("-"):
            continue
        name = cells[0]
        for prefix in re.findall(r"`([\w.]+)`", cells[1]):
            layer_of[prefix] = name
        allowed[name] = {x.strip() for x in cells[2].split(",") if x.strip()}
    return layer_of, allowed


# Longest prefix wins. A module is named as installed (crawler/x.py is nianbao.crawler.x).
LAYER_OF, ALLOWED = read_layers()


def package_roots() -> dict[str, str]:
    """setup.py's ROOTS (namespace → folder), read from its source: the one copy of the mapping."""
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ROOTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no ROOTS mapping")


def modules() -> dict[str, Path]:
    """Every module of the namespace: installed name → file."""
    roots = package_roots()
    out: dict[str, Path] = {}
    for name, folder in roots.items():
        base = REPO / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("").parts
            if any(part in ("__pycache__",) or part.startswith(".") for part in rel):
                continue
            parts = [p for p in rel if p != "__init__"]
            dotted = ".".join([name, *parts])
            if any(dotted == other or dotted.startswith(other + ".") for other in roots if other != name
                   and other.startswith(name + ".")):
                continue  # e.g. nianbao/crawler/… if it existed: mapped elsewhere
            out[dotted] = path
    return out


def layer(module: str) -> str | None:
    if module == OURS:
        return "leaf"  # the package itself (__version__); its other modules are placed one by one
    best = max((p for p in LAYER_OF if module == p or module.startswith(p + ".")), key=len, default=None)
    return LAYER_OF[best] if best else None


def imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from nianbao import config` imports nianbao.config: judge the submodule too
            found += [(node.lineno, f"{target}.{a.name}") for a in node.names
                      if target == OURS or target.startswith(OURS + ".")]
    return found


def test_the_layer_table_is_whole() -> None:
    """The table read from docs/architecture.md: six layers, each may import itself, names only known layers."""
    assert set(ALLOWED) == set(LAYER_OF.values()) == {"parsers", "leaf", "crawler", "archive", "publish", "front"}
    assert all(name in allowed and allowed <= set(ALLOWED) for name, allowed in ALLOWED.items())
    assert LAYER_OF["nianbao.parsers"] == "parsers" and ALLOWED["parsers"] == {"parsers"}
    assert ALLOWED["leaf"] == {"leaf"}


def test_every_module_has_a_layer() -> None:
    mods = modules()
    assert "nianbao.parsers.junk" in mods and "nianbao.registry" in mods  # the walk sees the namespace
    unplaced = sorted(m for m in mods if layer(m) is None)
    assert not unplaced, f"place these modules in docs/architecture.md's layer table: {unplaced}"


def test_imports_follow_the_data_flow() -> None:
    mods = modules()
    bad = []
    for module, path in mods.items():
        own = layer(module)
        if own is None:
            continue
        for line, target in imports(module, path):
            if not (target == OURS or target.startswith(OURS + ".")):
                continue
            if target not in mods and f"{target}.__init__" not in mods:
                # a name imported from a module (from nianbao.x import y): judged by its module
                if target.rpartition(".")[0] in mods:
                    continue
            theirs = layer(target)
            if theirs is not None and theirs not in ALLOWED[own]:
                bad.append(f"{path.relative_to(REPO)}:{line}: {own} {module} imports {theirs} {target}")
    assert not bad, "imports against the data flow:\n" + "\n".join(bad)


@pytest.mark.parametrize("folder", ["crawler", "parsers", "archive", "nianbao", "tests", "bench"])
def test_no_bare_top_level_imports(folder: str) -> None:
    """`import archive` works from the repo root by accident and breaks the wheel: always `nianbao.…`."""
    bad = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            bad += [f"{path.relative_to(REPO)}:{node.lineno}: {n}" for n in names if n.split(".")[0] in BARE]
    assert not bad, "bare top-level imports:\n" + "\n".join(bad)


def test_the_matrix_catches_a_wrong_import(tmp_path: Path) -> None:
    """The checker itself: an archive module importing the crawler is found, a parser importing the
    archive is found, a relative import is resolved."""
    src = tmp_path / "x.py"
    src.write_text("from nianbao.crawler.warc import payload_digest\nfrom . import rules\n"
                   "def f():\n    from nianbao import archive\n", encoding="utf-8")
    found = imports("nianbao.archive.x", src)
    assert (1, "nianbao.crawler.warc") in found and (2, "nianbao.archive.rules") in found
    assert (4, "nianbao.archive") in found
    assert layer("nianbao.crawler.warc") not in ALLOWED[layer("nianbao.archive.x")]
    assert layer("nianbao.archive") not in ALLOWED["parsers"]
    assert layer("nianbao.crawler.fixture_portal.site") == "crawler"
    assert layer("nianbao.configuration") is None  # prefixes match whole dotted parts only
