"""The inspect file for serving the archive immutably: table counts and the file hash computed once,
so Datasette never counts millions of rows per page view.

`datasette inspect` counts tables only. The archive's views (reports, coverage, rule_failures, …)
aggregate millions of cells, and Datasette would re-run `select count(*)` over them on every
unfiltered view page; since the file is immutable we count them once here too, and Datasette uses
the stored count for any table or view name it finds in the file.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path


def inspect_path(db_path: Path) -> Path:
    """Where the inspect file of a database lives: beside it, `<name>.inspect.json`."""
    return db_path.with_name(db_path.stem + ".inspect.json")


def inspect_is_fresh(db_path: Path, out: Path | None = None) -> bool:
    out = out or inspect_path(db_path)
    return out.is_file() and out.stat().st_mtime >= db_path.stat().st_mtime


def view_counts(db_path: Path, seconds_each: float = 600.0, seconds_all: float | None = None) -> dict[str, int]:
    """Row counts of the views; a view that takes longer than `seconds_each` (or runs past
    `seconds_all` from the start) is left for Datasette."""
    import time

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    end_all = time.monotonic() + seconds_all if seconds_all is not None else float("inf")
    try:
        views = [r[0] for r in conn.execute("select name from sqlite_master where type = 'view' order by name")]
        counts: dict[str, int] = {}
        for view in views:
            deadline = min(time.monotonic() + seconds_each, end_all)
            conn.set_progress_handler(lambda deadline=deadline: int(time.monotonic() > deadline), 10_000)
            try:
                counts[view] = conn.execute(f"select count(*) from [{view}]").fetchone()[0]
            except sqlite3.OperationalError:  # interrupted
                continue
        return counts
    finally:
        conn.close()


def write_inspect_file(db_path: Path, out: Path | None = None, view_budget_seconds: float | None = None) -> Path:
    """`datasette inspect` plus view counts (call after every build; `nianbao serve` does when stale,
    the running server when the file is replaced: nianbao.publish.fresh, with a time budget)."""
    out = out or inspect_path(db_path)
    tmp = out.with_name(out.name + ".tmp")
    subprocess.run(
        [sys.executable, "-m", "datasette", "inspect", str(db_path), "--inspect-file", str(tmp)],
        check=True,
    )
    data = json.loads(tmp.read_text(encoding="utf-8"))
    for name, info in data.items():
        if Path(info.get("file") or "").resolve() == Path(db_path).resolve() or name == Path(db_path).stem:
            for view, count in view_counts(db_path, seconds_all=view_budget_seconds).items():
                info["tables"].setdefault(view, {"count": count})
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(out)
    return out
