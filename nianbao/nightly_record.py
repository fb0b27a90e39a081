"""The nightly run record: what a night changed in the archive, where the record is kept, what cron reads.

nianbao/nightly.py runs the steps (crawl, build, check under the locks) and decides the exit code; this
module is the record it keeps of them. The run record lives in two places:
  - `<data>/logs/nightly_runs.jsonl`: one JSON object per run, appended — the durable copy
    (`nianbao build` rebuilds nianbao.db from the WARCs and would drop any table it does not derive);
  - the `nightly_runs` table of nianbao.db (pk `id` = the run id), re-mirrored from the JSONL file
    after every nightly build, so Datasette and SQL see every run.
Counts compare the archive before and after the run, per report (document = agency + year):
`new` (a report not in the archive before), `changed` (a report that gained a version: edited,
corrected), `withdrawn` (newly withdrawn from its column), `unchanged`, and `failed` (fetch errors
in this run's crawl summaries). `summary_lines` is the short text `nianbao nightly` prints.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from nianbao.config import DataDir

log = logging.getLogger("nianbao.nightly")  # one log for the run, steps and record alike

REPORT_STATUSES = ("parsed", "partial", "no_tables", "pre2019", "not_a_report", "unreadable")
NIGHTLY_COLUMNS: dict[str, Any] = {
    "id": str, "started": str, "finished": str, "today": str, "exit_code": int, "outcome": str,
    "crawl_exit": int, "built": int, "n_new": int, "n_changed": int, "n_unchanged": int,
    "n_withdrawn": int, "n_failed": int, "n_sources": int, "n_sources_failed": int,
    "n_documents": int, "n_rule_failures": int, "n_overdue": int, "failed_sources": str,
    "new_reports": str, "changed_reports": str, "withdrawn_reports": str, "overdue": str,
    "crawl_stats": str, "check_summary": str, "log_file": str, "error": str, "seconds": float,
}


# -- archive snapshots ---------------------------------------------------------------------------------
def snapshot(db_path: Path) -> dict[str, dict[str, Any]]:
    """Every report document (agency + year) with its version count and withdrawal."""
    if not db_path.is_file():
        return {}
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(f"""
            select d.id, d.agency, d.year, d.url, d.n_versions, d.withdrawn_at, v.status, v.title
            from documents d left join document_versions v on v.id = d.latest_version_id
            where d.year is not null and d.agency is not null and v.status in {REPORT_STATUSES!r}""").fetchall()
    except sqlite3.DatabaseError as exc:
        log.warning("cannot read the previous archive %s: %s", db_path, exc)
        return {}
    finally:
        conn.close()
    return {r[0]: {"agency": r[1], "year": r[2], "url": r[3], "n_versions": r[4], "withdrawn_at": r[5],
                   "status": r[6], "title": r[7]} for r in rows}


def compare(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, list[dict]]:
    """new / changed / withdrawn / unchanged reports between two snapshots."""
    out: dict[str, list[dict]] = {"new": [], "changed": [], "withdrawn": [], "unchanged": []}
    for doc_id, now in sorted(after.items(), key=lambda kv: (kv[1]["agency"], kv[1]["year"])):
        brief = {"agency": now["agency"], "year": now["year"], "url": now["url"], "status": now["status"]}
        old = before.get(doc_id)
        if old is None:
            out["new"].append(brief)
        elif now["withdrawn_at"] and not old["withdrawn_at"]:
            out["withdrawn"].append(brief | {"withdrawn_at": now["withdrawn_at"]})
        elif (now["n_versions"] or 0) > (old["n_versions"] or 0):
            out["changed"].append(brief | {"versions": now["n_versions"]})
        else:
            out["unchanged"].append(brief)
    return out


# -- the run record ----------------------------------------------------------------------------------
def runs_file(data: DataDir) -> Path:
    return data.logs / "nightly_runs.jsonl"


def read_runs(data: DataDir) -> list[dict[str, Any]]:
    path = runs_file(data)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def mirror_runs(data: DataDir) -> None:
    """Write every run of the JSONL file into nianbao.db's `nightly_runs` table (replace by id)."""
    import sqlite_utils

    if not data.database.is_file():
        return
    db = sqlite_utils.Database(data.database)
    try:
        table = db["nightly_runs"]
        if not table.exists():
            table.create(NIGHTLY_COLUMNS, pk="id")
        rows = [{k: r.get(k) for k in NIGHTLY_COLUMNS} for r in read_runs(data)]
        if rows:
            table.insert_all(rows, pk="id", replace=True, alter=True)
    finally:
        db.close()


def record_run(data: DataDir, row: dict[str, Any]) -> None:
    try:
        data.logs.mkdir(parents=True, exist_ok=True)
        with runs_file(data).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    except OSError as exc:  # a full or read-only disk: the summary on stdout still says what happened
        log.error("could not record the run in %s: %s", runs_file(data), exc)
        return
    try:
        mirror_runs(data)
    except Exception as exc:  # the JSONL copy is the record; a locked db must not fail the run
        log.warning("could not mirror the run into %s: %s", data.database, exc)


# -- this run's crawl ----------------------------------------------------------------------------------
def crawl_results(db_path: Path, run_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """This run's crawl summaries (per source) and its Scrapy stats (from the `runs` crawl row)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        cur = conn.execute("""select source, complete, n_report_urls, n_fetched, n_not_modified, n_errors,
                                     errors, stats from crawl_summaries where run_id in (?, ?) order by source""",
                           (run_id, f"crawl:{run_id}"))  # run_id holds runs.id (crawl:<run id>)
        names = [d[0] for d in cur.description]
        summaries = [dict(zip(names, r)) for r in cur.fetchall()]
        stats_row = conn.execute("select stats from runs where id = ?", (f"crawl:{run_id}",)).fetchone()
    finally:
        conn.close()
    for s in summaries:
        s["errors"] = json.loads(s["errors"] or "[]")
        s["stats"] = json.loads(s["stats"] or "{}")
    stats = json.loads(stats_row[0]) if stats_row and stats_row[0] else {s["source"]: s["stats"] for s in summaries}
    return summaries, stats


def fetch_failures(data: DataDir, run_id: str, summaries: list[dict[str, Any]],
                   changes: dict[str, list[dict]]) -> list[dict[str, Any]]:
    """This run's fetch errors, minus the 404s that proved a report withdrawn (expected, not failures).

    The crawler lists withdrawn URLs in its run log (`logs/crawl-<run id>.json`); the archive's
    newly withdrawn reports are a second source for the same URLs."""
    withdrawn = {r["url"] for r in changes.get("withdrawn", [])}
    crawl_log = data.logs / f"crawl-{run_id}.json"
    try:
        for entry in json.loads(crawl_log.read_text(encoding="utf-8")):
            withdrawn.update(entry.get("withdrawn") or [])
    except (OSError, ValueError, AttributeError):
        pass
    return [e for s in summaries for e in s["errors"] if e.get("url") not in withdrawn]


def summary_failure_class(db_path: Path, summary: dict[str, Any]) -> str:
    """Why a source's crawl was incomplete (nianbao.health.failure_class), with its start URLs from the archive."""
    from nianbao.health import failure_class

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        found = conn.execute("select start_urls from sources where name = ?", (summary["source"],)).fetchone()
    finally:
        conn.close()
    start_urls = json.loads(found[0]) if found and found[0] else []
    return failure_class(summary["errors"], start_urls, summary.get("stats"))


# -- the summary cron mails ------------------------------------------------------------------------------
def summary_lines(row: dict[str, Any]) -> list[str]:
    """The short summary `nianbao nightly` prints (cron mails it)."""
    if row.get("outcome") == "locked":
        return [f"nianbao nightly: {row.get('error')} (exit 75)"]
    lines = [f"nianbao nightly {row['id']} (calendar date {row['today']}): "
             f"{row.get('n_new', 0) or 0} new, {row.get('n_changed', 0) or 0} changed, "
             f"{row.get('n_unchanged', 0) or 0} unchanged, {row.get('n_withdrawn', 0) or 0} withdrawn, "
             f"{row.get('n_failed', 0) or 0} failed fetches; "
             f"{row.get('n_sources', 0) or 0} sources, {row.get('n_sources_failed', 0) or 0} failed"]
    for key, label in (("new_reports", "new"), ("changed_reports", "changed"), ("withdrawn_reports", "withdrawn")):
        items = json.loads(row.get(key) or "[]")
        for r in items[:20]:
            lines.append(f"  {label}: {r['agency']} {r['year']} [{r['status']}] {r['url']}")
        if len(items) > 20:
            lines.append(f"  … and {len(items) - 20} more {label} (nightly_runs.{key})")
    for f in json.loads(row.get("failed_sources") or "[]"):
        lines.append(f"  failed source: {f['source']} ({f['class']})")
    for o in json.loads(row.get("overdue") or "[]"):
        lines.append(f"  overdue: {o['agency']} has no {o['year']} report (deadline {o['deadline']}, "
                     f"level {o['level'] or 'unknown'})")
    if row.get("n_rule_failures"):
        lines.append(f"  rule failures in the archive: {row['n_rule_failures']}")
    if row.get("error"):
        lines.append(f"  error: {row['error']}")
    lines.append(f"exit {row['exit_code']} ({row['outcome']}); log: {row['log_file']}")
    return lines
