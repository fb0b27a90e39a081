"""`make demo` on a fresh clone in a new virtual environment (slow: pip installs the project).

Clones the committed repository into a temporary directory, runs `make demo` with
DEMO_ARGS="--serve-check …" (Datasette starts, its home page and JSON API answer, then it stops),
and asserts the run succeeded and served the 25 demo reports. pip uses the local package cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ports import unused_port

REPO = Path(__file__).resolve().parents[2]


def base_python() -> str:
    """The interpreter the project venv was made from (not the venv itself), to make a new venv."""
    candidate = Path(sys.base_prefix) / "bin" / "python3"
    return str(candidate) if candidate.is_file() else "python3"


@pytest.mark.slow
def test_make_demo_on_a_fresh_clone(tmp_path):
    if not shutil.which("make") or not shutil.which("git"):
        pytest.skip("needs make and git")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    data = tmp_path / "demo-data"
    port = unused_port()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "NIANBAO_DATA", "PYTHONPATH")}
    proc = subprocess.run(
        ["make", "demo", f"PYTHON={base_python()}",
         f"DEMO_ARGS=--serve-check --port {port} --data-dir {data}"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=540)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert (clone / ".venv" / "bin" / "nianbao").is_file()  # a new virtual environment in the clone
    assert "reports found: 25" in out
    assert f"Datasette answered at http://127.0.0.1:{port}/: 25 reports" in out
    assert (data / "nianbao.db").is_file() and list((data / "warcs").glob("*.warc.gz"))
