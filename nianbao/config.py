"""Where nianbao keeps its data: one directory holding WARCs, the database and run logs.

Chosen by `--data-dir`, else the NIANBAO_DATA environment variable, else `./data`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_ENV = "NIANBAO_DATA"


@dataclass(frozen=True)
class DataDir:
    root: Path

    @classmethod
    def resolve(cls, flag: str | os.PathLike[str] | None = None) -> "DataDir":
        chosen = flag or os.environ.get(DATA_ENV) or "data"
        return cls(Path(chosen).expanduser().resolve())

    @property
    def warcs(self) -> Path:
        return self.root / "warcs"

    @property
    def database(self) -> Path:
        return self.root / "nianbao.db"

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

    def ensure(self) -> "DataDir":
        for path in (self.root, self.warcs, self.logs, self.jobs):
            path.mkdir(parents=True, exist_ok=True)
        return self


def add_data_dir_argument(parser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"data directory (WARCs, database, logs); default ${DATA_ENV} or ./data",
    )
