"""`nianbao parse PATH... [--json]`: parse report files offline and print the canonical report.

Any format the archive reads (HTML/text, PDF, DOCX, DOC, WPS, OFD, XLSX/XLS, images): each file goes
through parsers.document.parse_document, the same entry the build uses, decided by the file's bytes
(its name only breaks ties). With --json the output is JSON Lines: one object per line, exactly what
parse_document returns, in the order of the paths (`jq -s` turns it into a list). Without --json a
readable summary per report: format, status, edition, year, agency, the failed consistency checks
and the warnings.
Exit status: 0 when every path was read, 1 when a path could not be read (the rest still print).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="parse report files (HTML, PDF, DOCX, DOC, WPS, OFD, XLSX, …) and print the canonical report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="report file(s); '-' reads stdin")
    parser.add_argument("--json", action="store_true", help="print JSON Lines, one report per line")
    parser.set_defaults(func=run)


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    return Path(path).read_bytes()


def run(args: argparse.Namespace) -> int:
    from nianbao.parsers.document import parse_document

    failures = 0
    reports: list[dict[str, Any]] = []
    for path in args.paths:
        try:
            data = _read(path)
        except OSError as error:
            print(f"nianbao parse: cannot read {path}: {error.strerror or error}", file=sys.stderr)
            failures += 1
            continue
        report = parse_document(data, filename=None if path == "-" else Path(path).name, source=path)
        if args.json:
            sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        else:
            reports.append(report)
    if not args.json:
        _summary(reports)
    return 1 if failures else 0


def _summary(reports: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="nianbao parse", show_lines=False)
    for column in ("source", "format", "status", "edition", "year", "agency", "published", "cells", "checks failed",
                   "warnings"):
        table.add_column(column, overflow="fold")
    for report in reports:
        cells = [c for key in ("active", "requests", "appeals") for c in report[key]]
        read = sum(1 for c in cells if c.get("position") is not None)
        failed = [c for c in report["checks"] if not c["ok"]]
        table.add_row(
            Path(report["source"]).name or report["source"], report.get("format") or "—", report["status"],
            str(report["edition"] or "—"), str(report["year"] or "—"),
            report["agency"] or "—", report["published"] or "—", f"{read}/{len(cells)}",
            f"{len(failed)}/{len(report['checks'])}", str(len(report["warnings"])),
        )
    console.print(table)
    for report in reports:
        failed = [c for c in report["checks"] if not c["ok"]]
        if not failed and not report["warnings"]:
            continue
        console.print(f"[bold]{report['source']}[/bold] {report['title'] or ''}")
        for check in failed:
            blanks = f" (blank read as 0: {len(check['blank_as_zero'])} cells)" if check.get("blank_as_zero") else ""
            console.print(f"  ✗ {check['rule']} [{check['scope']}]: expected {check['expected']}, "
                          f"printed {check['actual']}{blanks}", markup=False)
        for warning in report["warnings"]:
            console.print(f"  ! {warning}", markup=False)
