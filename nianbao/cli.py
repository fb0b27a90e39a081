"""The one front door: `nianbao SUBCOMMAND …`.

Each subcommand lives in its own module under `nianbao.commands` exposing
`register(subparsers)`; registering them from a list keeps this file free of any stage's logic.
"""

from __future__ import annotations

import argparse
import importlib
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
