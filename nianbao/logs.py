"""Logging for people at a terminal and for cron: rich output on a TTY, JSON lines otherwise, and
always a log file per run in the data directory."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line, so cron mail and log shippers get structured, greppable records."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def interactive() -> bool:
    return sys.stderr.isatty()


def configure_logging(log_file: Path | None = None, *, verbose: bool = False) -> None:
    """Route the root logger: rich (TTY) or JSON lines (not a TTY) on stderr, plus `log_file`."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if interactive():
        from rich.logging import RichHandler

        console: logging.Handler = RichHandler(show_path=False, rich_tracebacks=True)
    else:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(JsonLinesFormatter())
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    root.addHandler(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(JsonLinesFormatter())
        root.addHandler(to_file)


@contextmanager
def progress_steps(interactive: bool, quiet: bool = False) -> Iterator[Callable[[str], Callable[[], None]]]:
    """`step("building …")` starts a step and returns its `done()`: a rich spinner with elapsed time on
    a terminal, a plain line otherwise (or nothing when `quiet`, e.g. cron, whose output is the summary)."""
    if interactive:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()) as progress:
            def step(text: str) -> Callable[[], None]:
                task = progress.add_task(text, total=1)
                return lambda: progress.update(task, completed=1)
            yield step
        return

    def plain(text: str) -> Callable[[], None]:
        if not quiet:
            print(f"{text} …", flush=True)
        return lambda: None
    yield plain
