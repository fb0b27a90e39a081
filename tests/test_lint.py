"""House habits checked on every CI run: ruff finds nothing, vulture finds no dead code.

The ruff configuration is pyproject.toml's [tool.ruff]; vulture reads the code with the tests (they are
callers too) and tests/vulture_whitelist.py, which names what frameworks call by name (Scrapy settings and
hooks, Datasette hooks, http.server handlers) — each entry says who calls it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = ["crawler", "parsers", "archive", "nianbao", "bench", "tests", "setup.py"]


def test_ruff_finds_nothing():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", *CODE],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_vulture_finds_no_dead_code():
    proc = subprocess.run([sys.executable, "-m", "vulture", *CODE, "tests/vulture_whitelist.py",
                           "--min-confidence", "60", "--exclude", "tests/fixtures"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_vulture_whitelist_names_only_what_vulture_would_report():
    """A whitelist entry whose definition is gone would hide the next dead code of that name: every name in
    tests/vulture_whitelist.py must still be one vulture reports when the whitelist is left out."""
    whitelist = REPO / "tests" / "vulture_whitelist.py"
    listed = set(re.findall(r"^_\.(\w+)", whitelist.read_text(encoding="utf-8"), re.M))
    proc = subprocess.run([sys.executable, "-m", "vulture", *CODE, "--min-confidence", "60",
                           "--exclude", f"tests/fixtures,{whitelist.name}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    reported = set(re.findall(r"unused \w+ '(\w+)'", proc.stdout))
    assert listed and not listed - reported, f"stale whitelist entries: {sorted(listed - reported)}"
