"""The inspect file for serving the archive immutably: table counts and the file hash computed once,
so Datasette never counts millions of rows per page view."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def inspect_path(db_path: Path) -> Path:
    """Where the inspect file of a database lives: beside it, `<name>.inspect.json`."""
    return db_path.with_name(db_path.stem + ".inspect.json")


def inspect_is_fresh(db_path: Path, out: Path | None = None) -> bool:
    out = out or inspect_path(db_path)
    return out.is_file() and out.stat().st_mtime >= db_path.stat().st_mtime


def write_inspect_file(db_path: Path, out: Path | None = None) -> Path:
    """Run `datasette inspect` on the database (call after every build; `nianbao serve` does when stale)."""
    out = out or inspect_path(db_path)
    tmp = out.with_name(out.name + ".tmp")
    subprocess.run(
        [sys.executable, "-m", "datasette", "inspect", str(db_path), "--inspect-file", str(tmp)],
        check=True,
    )
    tmp.replace(out)
    return out
