"""The nightly run: crawl && build && check under one lock, a run record, and an exit code for cron.

Why its own module: cron needs one command whose exit code says what happened. This module runs the
steps under the locks and turns what they found into that code; the durable record of what each night
found (the JSONL file and the `nightly_runs` table, the before/after comparison of the archive, the
summary printed) is nianbao/nightly_record.py.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from nianbao import stamps
from nianbao.config import DataDir, free_space_problem
from nianbao.nightly_record import (
    compare,
    crawl_results,
    fetch_failures,
    record_run,
    snapshot,
    summary_failure_class,
)
from nianbao.runlock import RunLocked, run_lock

log = logging.getLogger("nianbao.nightly")

EXIT_NOTHING_NEW = 0
EXIT_FAILED = 1
EXIT_NEW = 3
EXIT_SOURCES_FAILED = 4
EXIT_LOCKED = 75
OUTCOMES = {EXIT_NOTHING_NEW: "nothing_new", EXIT_FAILED: "run_failed", EXIT_NEW: "new_reports",
            EXIT_SOURCES_FAILED: "sources_failed", EXIT_LOCKED: "locked"}
EXIT_CODES_HELP = """exit status:
  0   nothing new: every source crawled, the archive did not change
  3   new reports: new reports, new versions (edits) or withdrawals were archived
  4   some sources failed (their crawl was incomplete); the others were archived
  1   the run failed (bad registry, crawler crash, build or check error)
  75  another nightly (or crawl/build) run holds the lock; nothing was done"""



@dataclass
class NightlyOptions:
    data_dir: str | None = None
    sources: str | None = None  # registry file (default: the bundled crawler/sources.yaml)
    source: tuple[str, ...] = ()
    revalidate: str = "policy"
    impolite: bool = False
    today: date | None = None
    run_id: str | None = None
    interactive: bool = False  # rich progress for each step (a terminal); cron gets only the summary
    queue: str | None = None  # redis://… (else $NIANBAO_QUEUE): crawl by dispatching hosts to `nianbao worker`s
    heartbeat: float | None = None  # seconds after which a silent worker's host is re-run (nianbao.queue)
    queue_timeout: float | None = None  # seconds to wait for the workers; hosts not done by then failed


# -- the steps ----------------------------------------------------------------------------------------
def crawl(data: DataDir, opts: NightlyOptions, run_id: str) -> tuple[int, str]:
    """`python -m nianbao.crawler.run` in a child process (Twisted cannot restart in this one). The caller
    holds the data lock (`_run_locked`: from the crawl to the end of the build)."""
    argv = [sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(data.root), "--run-id", run_id,
            "--revalidate", opts.revalidate, "--log-level", "WARNING"]
    if opts.sources:
        argv += ["--sources", str(opts.sources)]
    for name in opts.source:
        argv += ["--source", name]
    if opts.impolite:
        argv.append("--impolite")
    log.info("crawl: %s", " ".join(argv[1:]))
    from nianbao.commands.crawl import record_registry  # <data>/registry.yaml: what later builds read
    record_registry(data, opts.sources, opts.source)
    from nianbao.queue.broker import queue_url

    if queue_url(opts.queue):  # a queue configured: the workers crawl, host by host (nianbao.queue)
        from nianbao.queue.night import crawl_on_queue

        return crawl_on_queue(data, opts, run_id), ""
    proc = subprocess.run(argv, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        log.info("crawl: %s", line)
    if proc.stderr.strip():  # Scrapy's own log: detail for the log file; cron only hears of a crash
        level = logging.INFO if proc.returncode in (0, 1) else logging.ERROR
        log.log(level, "crawl stderr: %s", proc.stderr.strip()[-4000:])
    return proc.returncode, proc.stdout


def build(data: DataDir, opts: NightlyOptions) -> dict[str, Any]:
    from nianbao.archive.build import build_archive

    warcs = data.warc_files()  # closed files only (a name ending in .open/.partial is being written)
    with run_lock(data.root / ".build.lock"):
        from nianbao.archive.sources import registry_for_build
        return build_archive(data.database, warcs=warcs, incremental=True,  # adds tonight's WARCs
                             jobs=min(4, os.cpu_count() or 1),  # parsing on every core (same rows)
                             registry_path=registry_for_build(data.registry, None)
                             or (Path(opts.sources) if opts.sources else None))


def check(data: DataDir) -> dict[str, Any]:
    """The `nianbao check` summary (per rule pass/fail, differences from the stored results)."""
    import sqlite_utils

    from nianbao.archive import check as archive_check

    db = sqlite_utils.Database(data.database)
    try:
        if hasattr(archive_check, "check_archive"):
            return archive_check.check_archive(db)
        return archive_check.summarise(db, archive_check.run_checks(db))  # the earlier API
    finally:
        db.close()


def expected_sources(opts: NightlyOptions) -> list[str]:
    """The sources this run should crawl (to notice one whose spider never reported)."""
    try:
        from nianbao.registry import load_sources

        if opts.source:
            return list(opts.source)
        return [s.name for s in load_sources(opts.sources) if s.enabled and not s.frozen]
    except Exception:
        return []


def run_nightly(opts: NightlyOptions) -> tuple[int, dict[str, Any]]:
    """One nightly run; returns (exit code, run record). Never raises for an expected failure."""
    data = DataDir.resolve(opts.data_dir).ensure()
    today = opts.today or date.today()
    started_wall = time.time()
    run_id = opts.run_id or stamps.run_id()
    log_file = data.logs / f"nightly-{run_id}.log"
    row: dict[str, Any] = {"id": run_id, "started": _iso(started_wall), "today": today.isoformat(),
                           "log_file": str(log_file), "crawl_exit": None, "built": 0}
    from nianbao.logs import configure_logging, progress_steps

    configure_logging(log_file)
    try:
        with run_lock(data.root / ".nightly.lock"), progress_steps(opts.interactive, quiet=True) as step:
            code = _run_locked(data, opts, run_id, today, row, step)
    except RunLocked as exc:
        log.warning("%s", exc)
        row.update(exit_code=EXIT_LOCKED, outcome=OUTCOMES[EXIT_LOCKED], error=str(exc))
        return EXIT_LOCKED, row  # not recorded: the run holding the lock records itself
    row.update(finished=_iso(time.time()), seconds=round(time.time() - started_wall, 3),
               exit_code=code, outcome=OUTCOMES[code])
    record_run(data, row)
    log.info("nightly %s finished: exit %s (%s)", run_id, code, row["outcome"])
    return code, row


def _run_locked(data: DataDir, opts: NightlyOptions, run_id: str, today: date, row: dict[str, Any],
                step: Any) -> int:
    # The data lock from the crawl to the end of the build: no manual crawl adds to the WARCs and no
    # manual build reads them in between (a build during a first crawl once left 0 documents).
    before = snapshot(data.database)
    with run_lock(data.lock):
        code = _crawl_and_build(data, opts, run_id, row, step)
    if code is not None:
        return code
    return _check_and_count(data, opts, run_id, today, row, step, before)


def _crawl_and_build(data: DataDir, opts: NightlyOptions, run_id: str, row: dict[str, Any],
                     step: Any) -> int | None:
    """The crawl and the build (under the data lock); an exit code when the run stops here."""
    from nianbao.archive.build import remove_partial

    for stale in remove_partial(data.database):  # a killed build's partial file holds disk space
        log.warning("removed %s, left by an interrupted build", stale)
    problem = free_space_problem(data.root, data.database, "a crawl and a build")
    if problem:
        row["error"] = problem
        log.error("%s", problem)
        return EXIT_FAILED
    try:
        done = step("crawling the registry's sources")
        crawl_exit, _ = crawl(data, opts, run_id)
        done()
    except RunLocked as exc:
        raise exc
    except OSError as exc:
        row["error"] = f"crawl could not start: {exc}"
        log.error("%s", row["error"])
        return EXIT_FAILED
    row["crawl_exit"] = crawl_exit
    if crawl_exit not in (0, 1):
        row["error"] = f"crawl exited {crawl_exit} (see {row['log_file']})"
        log.error("%s", row["error"])
        return EXIT_FAILED
    try:
        done = step("building the archive from every WARC")
        built = build(data, opts)
        done()
        row["built"] = 1
        row["n_documents"] = built.get("n_documents")
        row["n_rule_failures"] = built.get("n_rule_failures")
    except RunLocked:
        raise
    except Exception as exc:
        from nianbao.cli import describe_error

        row["error"] = f"build failed: {describe_error(exc)} (the partial database was removed)"
        log.exception("build failed")
        return EXIT_FAILED
    return None


def _check_and_count(data: DataDir, opts: NightlyOptions, run_id: str, today: date, row: dict[str, Any],
                     step: Any, before: dict[str, dict[str, Any]]) -> int:
    try:
        done = step("re-running the consistency checks")
        row["check_summary"] = json.dumps(check(data), ensure_ascii=False, sort_keys=True)
        done()
    except Exception as exc:
        row["error"] = f"check failed: {type(exc).__name__}: {exc}"
        log.exception("check failed")
        return EXIT_FAILED
    changes = compare(before, snapshot(data.database))
    summaries, stats = crawl_results(data.database, run_id)
    failed = [{"source": s["source"], "class": summary_failure_class(data.database, s)}
              for s in summaries if not s["complete"]]
    reported = {s["source"] for s in summaries}
    from nianbao.queue.night import HOST_FAILED, failed_host_sources

    lost = failed_host_sources(data, run_id)  # sources of a host whose job failed (queue runs)
    failed += [{"source": name, "class": HOST_FAILED if name in lost else "no_summary"}
               for name in expected_sources(opts) if name not in reported]
    from nianbao.health import overdue_reports

    conn = sqlite3.connect(f"file:{data.database}?mode=ro", uri=True)
    try:
        overdue = overdue_reports(conn, today)
    finally:
        conn.close()
    row.update(
        n_new=len(changes["new"]), n_changed=len(changes["changed"]), n_unchanged=len(changes["unchanged"]),
        n_withdrawn=len(changes["withdrawn"]), n_failed=len(fetch_failures(data, run_id, summaries, changes)),
        n_sources=len(reported | {f["source"] for f in failed}), n_sources_failed=len(failed),
        n_overdue=len(overdue), failed_sources=json.dumps(failed, ensure_ascii=False),
        new_reports=json.dumps(changes["new"], ensure_ascii=False),
        changed_reports=json.dumps(changes["changed"], ensure_ascii=False),
        withdrawn_reports=json.dumps(changes["withdrawn"], ensure_ascii=False),
        overdue=json.dumps(overdue, ensure_ascii=False),
        crawl_stats=json.dumps(stats, ensure_ascii=False, sort_keys=True),
    )
    if failed or row["crawl_exit"] == 1:
        return EXIT_SOURCES_FAILED
    if changes["new"] or changes["changed"] or changes["withdrawn"]:
        return EXIT_NEW
    return EXIT_NOTHING_NEW


_iso = stamps.utc_iso  # run times as text: nianbao.stamps, the one definition


