"""Where nianbao keeps its data: one directory holding WARCs, the database and run logs.

Chosen by `--data-dir`, else the NIANBAO_DATA environment variable, else `./data`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DATA_ENV = "NIANBAO_DATA"
# Free space a crawl or build needs before it starts: twice the current database (the build writes a
# whole new one beside it before the rename) plus this floor, in MB (the night's WARCs, logs, SQLite's
# temporary files). NIANBAO_MIN_FREE_MB sets the floor; 0 turns the check off.
MIN_FREE_ENV = "NIANBAO_MIN_FREE_MB"
DEFAULT_MIN_FREE_MB = 200
EXIT_NO_SPACE = 73  # sysexits EX_CANTCREAT: `nianbao crawl` / `build` refused to start for want of space
MB = 1024 * 1024
# WARC files a crawler is still writing (docs/architecture.md): a name ending so is never read by a build.
# Here, with the data directory's layout, because both ends share it: the crawler names its files
# `….warc.gz.open` (crawler.warc.OPEN_SUFFIX, the first of these) and the archive skips them.
OPEN_SUFFIXES = (".open", ".partial")


def closed_warcs(paths: Iterable[Path | str]) -> list[Path]:
    """WARC files a crawler has finished: names ending in .open or .partial are still being written
    (docs/architecture.md) and never read."""
    return [Path(p) for p in paths if not Path(p).name.endswith(OPEN_SUFFIXES)]


@dataclass(frozen=True)
class DataDir:
    root: Path

    @classmethod
    def resolve(cls, flag: str | os.PathLike[str] | None = None) -> DataDir:
        chosen = flag or os.environ.get(DATA_ENV) or "data"
        return cls(Path(chosen).expanduser().resolve())

    @property
    def warcs(self) -> Path:
        return self.root / "warcs"

    @property
    def database(self) -> Path:
        return self.root / "nianbao.db"

    @property
    def registry(self) -> Path:
        """The registry entries crawled into this data dir (archive.sources.record_crawled), which
        later builds of it read (archive.sources.registry_for_build)."""
        return self.root / "registry.yaml"

    @property
    def crawl_state(self) -> Path:
        return self.root / "crawl_state.db"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def jobs(self) -> Path:
        """Scrapy JOBDIRs, one per source, so an interrupted crawl resumes."""
        return self.root / "jobs"

    @property
    def lock(self) -> Path:
        """The data lock: a crawl (writing WARCs) and a build (reading them) never run at once."""
        return self.root / ".crawl.lock"

    def warc_files(self) -> list[Path]:
        """The WARC files a build reads: closed ones only, in name order (`*.warc.gz`, then `*.warc`);
        a name ending in .open or .partial is still being written (closed_warcs)."""
        if not self.warcs.is_dir():
            return []
        return closed_warcs(sorted(self.warcs.glob("*.warc.gz")) + sorted(self.warcs.glob("*.warc")))

    def ensure(self) -> DataDir:
        for path in (self.root, self.warcs, self.logs, self.jobs):
            path.mkdir(parents=True, exist_ok=True)
        return self


def min_free_floor_mb() -> int:
    """The floor of free space (MB) from NIANBAO_MIN_FREE_MB, else the default."""
    raw = os.environ.get(MIN_FREE_ENV, "").strip()
    try:
        return max(0, int(raw)) if raw else DEFAULT_MIN_FREE_MB
    except ValueError:
        return DEFAULT_MIN_FREE_MB


def write_problem(where: Path) -> str | None:
    """None when the directory `where` (or the nearest existing parent) can be written, else why not."""
    probe = Path(where)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.access(probe, os.W_OK | os.X_OK):
        return None
    try:
        read_only = bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return f"cannot write to {probe}: " + ("read-only file system" if read_only else "permission denied")


def free_space_problem(where: Path, database: Path | None, what: str) -> str | None:
    """None when `where`'s file system has room for `what` (a crawl, a build), else one line saying
    how much is free, how much is needed and why (2 × the database + the floor), and the setting."""
    floor = min_free_floor_mb()
    if floor == 0:
        return None
    probe = Path(where)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return None  # cannot tell: the write itself will say
    db_size = database.stat().st_size if database is not None and database.is_file() else 0
    needed = 2 * db_size + floor * MB
    if free >= needed:
        return None
    why = f"2 × {database.name} ({db_size / MB:.1f} MB) + {floor} MB" if db_size else f"a floor of {floor} MB"
    return (f"not enough free space for {what}: {free / MB:.0f} MB free on {probe}, {needed / MB:.0f} MB needed "
            f"({why}; set {MIN_FREE_ENV} to change the floor, 0 to skip the check)")


def add_data_dir_argument(parser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"data directory (WARCs, database, logs); default ${DATA_ENV} or ./data",
    )
