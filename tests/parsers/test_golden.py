"""Golden files, juriscraper-style: ONE test walks every example page and diffs its parse
against the reviewed expected JSON: tests/fixtures/parsers/golden/<name>.json for ../shared/seeds
and ../shared/real (only those: the archive's tests build exactly that set), and the JSON beside
each of our handwritten pages in tests/fixtures/parsers/variants/ and of the identity pages in
tests/fixtures/parsers/identity/ (generated and checked by its make_identity.py; a page's
`<name>.hints.json`, when present, is passed to parse_report as `hints`).

A missing expected file is written from the current parse and the test FAILS until someone has
reviewed it cell by cell against the source page and committed it.
"""

from __future__ import annotations

import json
from pathlib import Path

from nianbao.parsers import parse_report
from tests.conftest import REPO, SHARED

GOLDEN = REPO / "tests" / "fixtures" / "parsers" / "golden"
VARIANTS = REPO / "tests" / "fixtures" / "parsers" / "variants"
IDENTITY = REPO / "tests" / "fixtures" / "parsers" / "identity"


def examples() -> list[Path]:
    """The shared seeds and real pages, and our own handwritten variant pages."""
    return (sorted((SHARED / "seeds").glob("*.txt")) + sorted((SHARED / "real").glob("*.html"))
            + sorted(VARIANTS.glob("*.html")) + sorted(IDENTITY.glob("*.html")))


def expected_path(path: Path) -> Path:
    """Shared examples: golden/<stem>.json; our own variant pages: the JSON beside the page."""
    if path.parent in (VARIANTS, IDENTITY):
        return path.parent / f"{path.stem}.json"
    return GOLDEN / f"{path.stem}.json"


def canonical(path: Path) -> dict:
    hints_file = path.with_suffix(".hints.json")
    hints = json.loads(hints_file.read_text(encoding="utf-8")) if hints_file.exists() else None
    report = parse_report(path.read_bytes(), source=f"{path.parent.name}/{path.name}", hints=hints)
    return json.loads(json.dumps(report, ensure_ascii=False))


def test_every_example_matches_its_reviewed_golden_file(shared_dir):
    pages = examples()
    assert len(pages) >= 19, "the shared examples are missing"
    written, differing = [], []
    for path in pages:
        expected_file = expected_path(path)
        actual = canonical(path)
        if not expected_file.exists():
            expected_file.parent.mkdir(parents=True, exist_ok=True)
            expected_file.write_text(json.dumps(actual, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            written.append(expected_file.name)
            continue
        expected = json.loads(expected_file.read_text(encoding="utf-8"))
        if actual != expected:
            differing.append((path.name, _first_differences(expected, actual)))
    assert not written, f"new golden files written, review them cell by cell and commit: {written}"
    assert not differing, "parse differs from reviewed golden files:\n" + "\n".join(
        f"{name}: {diff}" for name, diff in differing)


def _first_differences(expected: dict, actual: dict, limit: int = 8) -> list[str]:
    out = []
    for key in sorted(set(expected) | set(actual)):
        e, a = expected.get(key), actual.get(key)
        if e == a:
            continue
        if isinstance(e, list) and isinstance(a, list) and len(e) == len(a):
            for index, (x, y) in enumerate(zip(e, a)):
                if x != y:
                    out.append(f"{key}[{index}]: expected {x!r}, got {y!r}")
                    if len(out) >= limit:
                        return out
        else:
            out.append(f"{key}: expected {str(e)[:200]!r}, got {str(a)[:200]!r}")
    return out[:limit]


def test_list_page_is_not_a_report(shared_dir):
    report = canonical(SHARED / "real" / "pingtan_list_index.html")
    assert report["status"] == "not_a_report"
    assert report["active"] == report["requests"] == report["appeals"] == []
