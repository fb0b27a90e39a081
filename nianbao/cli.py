"""The one front door: `nianbao SUBCOMMAND …`.

Each subcommand lives in its own module under `nianbao.commands` exposing
`register(subparsers)`; registering them from a list keeps this file free of any stage's logic.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence

from nianbao import __version__

# Modules under nianbao.commands, in the order `nianbao --help` lists them.
COMMAND_MODULES: list[str] = [
    "parse",
    "crawl",
    "build",
    "check",
    "export",
    "serve",
    "demo",
    "status",
    "nightly",
    "dispatch",
    "worker",
    "crawl_state",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nianbao",
        description="Harvest, parse, check and publish government information-disclosure annual reports.",
    )
    parser.add_argument("--version", action="version", version=f"nianbao {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"nianbao.commands.{name}").register(subparsers)
    return parser


# Why a write failed, in words (the errno names are the same on every POSIX system).
_ERRNO_WORDS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
_SQLITE_WORDS = (("disk is full", "disk full"), ("readonly database", "read-only database"),
                 ("unable to open database", "cannot open the database file"),
                 ("disk i/o error", "disk I/O error"))


def describe_error(exc: BaseException) -> str:
    """One line for an error: the cause in words where it is a known one (disk full, read-only,
    permission), the file it concerns, and the system's own message."""
    if isinstance(exc, OSError) and exc.errno in _ERRNO_WORDS:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{_ERRNO_WORDS[exc.errno]}{where}: {exc.strerror or exc}"
    if isinstance(exc, sqlite3.Error):
        text = str(exc)
        for needle, words in _SQLITE_WORDS:
            if needle in text.lower():
                return f"{words}: {text}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # a log line that cannot be written (a full disk) is dropped, not printed as a traceback
    logging.raiseExceptions = False
    try:
        return int(args.func(args) or 0)
    except (OSError, sqlite3.Error) as exc:
        # a read-only, full or missing data directory: one clear line, not a traceback
        # (NIANBAO_DEBUG=1 shows the traceback)
        if os.environ.get("NIANBAO_DEBUG"):
            raise
        print(f"nianbao {args.command}: {describe_error(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
