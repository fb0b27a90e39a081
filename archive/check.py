"""Re-run every rule over the stored cells (`nianbao check`): per-report rules and carry_chain.

The stored `rule_results` came from the parser at build time; re-running them from the database
catches drift (a rule changed, cells edited by hand) and gives journalists one summary. Streams one
version at a time (cells read in primary-key order), so a 100k-report archive fits in memory.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import groupby

import sqlite_utils

from nianbao.archive.rules import carry_chain_function
from nianbao.parsers.checks import CHAIN_ROWS as _CHAIN_ROWS
from nianbao.parsers.checks import run_checks as parser_run_checks


def _report_rules_function() -> Callable[[dict], list[dict]]:
    """The per-report rules: the parser's, their one definition (parsers/checks.py)."""
    return parser_run_checks


def _cells(db: sqlite_utils.Database, table: str, a: str, b: str, ka: str, kb: str) -> Iterator:
    cursor = db.execute(f"select version_id, [{ka}], [{kb}], value, raw, pos_table, pos_row, pos_col "
                        f"from [{table}] order by version_id, [{ka}], [{kb}]")
    for vid, rows in groupby(cursor, key=lambda r: r[0]):
        yield vid, [{a: r[1], b: r[2], "value": r[3], "raw": r[4],
                     "position": None if r[5] is None else {"table": r[5], "row": r[6], "col": r[7]}}
                    for r in rows]


def iter_reports(db: sqlite_utils.Database, latest_only: bool = False) -> Iterator[dict]:
    """Each version (ordered by id) as the slice of a canonical report the rules read."""
    where = "where is_latest = 1" if latest_only else ""
    requests, appeals = _cells(db, "requests", "row", "column", "row_key", "column_key"), \
        _cells(db, "appeals", "procedure", "outcome", "procedure", "outcome")
    req, app = next(requests, None), next(appeals, None)
    for v in db.query(f"select id, agency, year, edition, is_latest from document_versions {where} order by id"):
        while req is not None and req[0] < v["id"]:
            req = next(requests, None)
        while app is not None and app[0] < v["id"]:
            app = next(appeals, None)
        report = {**v, "requests": req[1] if req and req[0] == v["id"] else [],
                  "appeals": app[1] if app and app[0] == v["id"] else []}
        yield report


def run_checks(db: sqlite_utils.Database, latest_only: bool = False) -> Iterator[dict]:
    """Every rule for every version (or latest versions), then carry_chain between consecutive years."""
    rules = _report_rules_function()
    chain = carry_chain_function()
    latest: dict[tuple, dict] = {}
    for report in iter_reports(db, latest_only):
        if report["requests"] or report["appeals"]:
            for check in rules(report) or []:
                yield {**check, "version_id": report["id"]}
        if report["is_latest"] and report["agency"] and report["year"]:
            latest[(report["agency"], report["year"])] = {
                **{k: report[k] for k in ("id", "agency", "year", "edition")},
                "requests": [c for c in report["requests"] if c["row"] in _CHAIN_ROWS]}
    for (agency, year), cur in sorted(latest.items()):
        prev = latest.get((agency, year - 1))
        if prev and prev["requests"] and cur["requests"]:
            for check in chain(prev, cur) or []:
                yield {**check, "rule": check.get("rule") or "carry_chain", "version_id": cur["id"],
                       "other_version_id": prev["id"]}


def check_archive(db: sqlite_utils.Database, latest_only: bool = False, update: bool = False) -> dict:
    """Re-run the rules; counts per rule and how the results compare with the stored ones."""
    per_rule: dict[str, Counter] = {}
    differ = missing = 0
    failing: set[str] = set()
    stored_for: dict[str, dict] = {}
    pending: list[dict] = []
    n = 0
    for r in run_checks(db, latest_only):
        n += 1
        vid = r["version_id"]
        if vid not in stored_for:
            if len(stored_for) > 1000:
                stored_for.clear()
            stored_for[vid] = {(row[0], row[1]): row[2] for row in db.execute(
                "select rule, scope, ok from rule_results where version_id = ?", [vid])}
        ok = int(bool(r.get("ok")))
        per_rule.setdefault(r["rule"], Counter())["pass" if ok else "fail"] += 1
        if not ok:
            failing.add(vid)
        before = stored_for[vid].get((r["rule"], str(r.get("scope"))))
        if before is None:
            missing += 1
        elif before != ok:
            differ += 1
        if update:
            pending.append(r)
            if len(pending) >= 20000:
                store(db, pending)
                pending.clear()
    if update and pending:
        store(db, pending)
    return {"rules": {k: dict(v) for k, v in sorted(per_rule.items())}, "results": n,
            "differ_from_stored": differ, "not_stored": missing, "reports_with_failures": len(failing)}


def store(db: sqlite_utils.Database, results: list[dict]) -> None:
    """Write re-run results into rule_results (upsert by version, rule, scope)."""
    rows = []
    for r in results:
        extra = {k: v for k, v in r.items() if k not in
                 ("version_id", "rule", "scope", "ok", "expected", "actual", "blank_as_zero", "other_version_id")}
        if isinstance(r.get("blank_as_zero"), list) and r["blank_as_zero"]:
            extra["blank_cells"] = r["blank_as_zero"]
        rows.append({"version_id": r["version_id"], "rule": r["rule"], "scope": str(r.get("scope")),
                     "ok": int(bool(r.get("ok"))), "expected": r.get("expected"), "actual": r.get("actual"),
                     "blank_as_zero": None if r.get("blank_as_zero") is None else int(bool(r["blank_as_zero"])),
                     "note": json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None,
                     "other_version_id": r.get("other_version_id")})
    db["rule_results"].upsert_all(rows, pk=("version_id", "rule", "scope"), batch_size=2000)
