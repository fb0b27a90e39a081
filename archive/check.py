"""Re-run every rule over the stored cells (`nianbao check`): per-report rules and carry_chain.

The stored `rule_results` came from the parser at build time; re-running them from the database
catches drift (a rule changed, cells edited by hand) and gives journalists one summary.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import sqlite_utils

from archive.rules import carry_chain_function, report_rules


def _report_rules_function() -> Callable[[dict], list[dict]]:
    """The parser's own per-report rule function when it exposes one, else the archive's."""
    try:
        from parsers import run_checks as parser_run_checks  # type: ignore[attr-defined]
        return parser_run_checks
    except ImportError:
        return lambda report: report_rules(report.get("requests") or [], report.get("appeals") or [])


def _reports(db: sqlite_utils.Database, latest_only: bool) -> dict[str, dict]:
    where = "where is_latest = 1" if latest_only else ""
    reports = {v["id"]: {"id": v["id"], "agency": v["agency"], "year": v["year"], "edition": v["edition"],
                         "is_latest": v["is_latest"], "requests": [], "appeals": []}
               for v in db.query(f"select id, agency, year, edition, is_latest from document_versions {where}")}
    def cell(r: dict, a: str, b: str, ka: str, kb: str) -> dict:
        pos = None if r["pos_table"] is None else {"table": r["pos_table"], "row": r["pos_row"], "col": r["pos_col"]}
        return {a: r[ka], b: r[kb], "value": r["value"], "raw": r["raw"], "position": pos}

    for r in db.query("select * from requests"):
        if r["version_id"] in reports:
            reports[r["version_id"]]["requests"].append(cell(r, "row", "column", "row_key", "column_key"))
    for r in db.query("select * from appeals"):
        if r["version_id"] in reports:
            reports[r["version_id"]]["appeals"].append(cell(r, "procedure", "outcome", "procedure", "outcome"))
    return reports


def run_checks(db: sqlite_utils.Database, latest_only: bool = False) -> list[dict]:
    """Every rule for every version (or latest versions), carry_chain between consecutive years."""
    rules = _report_rules_function()
    chain = carry_chain_function()
    reports = _reports(db, latest_only)
    results: list[dict] = []
    for vid, report in reports.items():
        if not report["requests"] and not report["appeals"]:
            continue
        for check in rules(report) or []:
            results.append({**check, "version_id": vid})
    latest = {(r["agency"], r["year"]): r for r in reports.values()
              if r["is_latest"] and r["agency"] and r["year"]}
    for (agency, year), cur in sorted(latest.items()):
        prev = latest.get((agency, year - 1))
        if prev and prev["requests"] and cur["requests"]:
            for check in chain(prev, cur) or []:
                results.append({**check, "rule": check.get("rule") or "carry_chain", "version_id": cur["id"],
                                "other_version_id": prev["id"]})
    return results


def summarise(db: sqlite_utils.Database, results: list[dict]) -> dict:
    """Counts per rule, and how many results differ from the stored rule_results."""
    per_rule: dict[str, Counter] = {}
    for r in results:
        per_rule.setdefault(r["rule"], Counter())["pass" if r.get("ok") else "fail"] += 1
    stored = {(r["version_id"], r["rule"], r["scope"]): r["ok"]
              for r in db.query("select version_id, rule, scope, ok from rule_results")}
    differ = sum(1 for r in results
                 if stored.get((r["version_id"], r["rule"], str(r.get("scope"))), None) not in (None, int(bool(r.get("ok")))))
    missing = sum(1 for r in results if (r["version_id"], r["rule"], str(r.get("scope"))) not in stored)
    failing_reports = len({r["version_id"] for r in results if not r.get("ok")})
    return {"rules": {k: dict(v) for k, v in sorted(per_rule.items())}, "results": len(results),
            "differ_from_stored": differ, "not_stored": missing, "reports_with_failures": failing_reports}


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
