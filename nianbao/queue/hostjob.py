"""What a worker does with one host job: crawl every registry source on the host, hand the WARCs over.

Crawl state travels with the host: each host has its own data directory, `<data>/hosts/<host>/`
(crawl_state.db, Scrapy JOBDIRs, the `.open` WARC files of a crawl in progress, logs), on the storage
every worker mounts. Whichever worker leases the host tonight continues exactly where the last one
stopped: conditional GETs, revisits, the reconcile of a killed crawl's WARC and the withdrawal checks
see that host's whole history, as on one machine. Only one crawler writes a host's state at a time
(the lease, and the host directory's flock for a lease that outlives a worker's heartbeat).

Each closed WARC file is then moved (a rename on the same file system) into `<data>/warcs/`, where
builds read; `.open` files stay in the host directory until the next crawl of the host reconciles
and closes them, so a build never reads a file being written.

The crawler runs as a child process (`python -m nianbao.crawler.run --host H --worker-id ID`), as
`nianbao crawl` runs it; the child is killed with its worker (PR_SET_PDEATHSIG): a worker that dies
takes its crawl with it, so the re-run elsewhere never races a left-over crawler on the same portal.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from nianbao.config import DataDir

PR_SET_PDEATHSIG = 1
EXIT_INCOMPLETE = 1  # crawler.run: some source incomplete — a normal night, reported, not retried


class HostCrawlFailed(RuntimeError):
    """The crawler crashed, was killed or refused to start: the job is retried (bounded)."""


def host_slug(host: str) -> str:
    """A host (`name[:port]`) as a directory name."""
    return host.lower().replace(":", "_").replace("/", "_")


def host_data(data: DataDir, host: str) -> DataDir:
    """The host's own data directory (its crawl state travels with it)."""
    return DataDir(data.root / "hosts" / host_slug(host))


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class WorkerSetup:
    """What a worker knows that a job message does not: where its data lives and who it is."""

    data: DataDir
    worker_id: str
    stopping: threading.Event = field(default_factory=threading.Event)


def crawler_argv(job: dict[str, Any], hdata: DataDir, worker_id: str) -> list[str]:
    argv = [sys.executable, "-m", "nianbao.crawler.run", "--data-dir", str(hdata.root), "--host", job["host"],
            "--worker-id", worker_id, "--run-id", job["run_id"], "--revalidate", job.get("revalidate") or "policy",
            "--log-level", job.get("log_level") or "WARNING"]
    if job.get("sources"):
        argv += ["--sources", job["sources"]]
    for name in job.get("names") or ():
        argv += ["--source", name]
    if job.get("now"):
        argv += ["--now", job["now"]]
    if job.get("impolite"):
        argv.append("--impolite")
    return argv


def hand_over(hdata: DataDir, data: DataDir) -> list[str]:
    """Move the host's closed WARC files into the shared `warcs/` directory; returns their names."""
    data.warcs.mkdir(parents=True, exist_ok=True)
    moved = []
    for path in hdata.warc_files():
        target = data.warcs / path.name
        try:
            os.replace(path, target)
        except OSError:  # another file system: copy, then drop the source
            shutil.copy2(path, target.with_name(target.name + ".partial"))
            os.replace(target.with_name(target.name + ".partial"), target)
            path.unlink()
        moved.append(path.name)
    return moved


def run_host(setup: WorkerSetup, job: dict[str, Any]) -> dict[str, Any]:
    """Crawl one host; the result the dispatcher reads. Raises HostCrawlFailed (retried) when the
    crawler did not finish: a crash, a signal, bad arguments, the worker stopping."""
    from nianbao.runlock import RunLocked, run_lock

    host, run_id = job["host"], job["run_id"]
    hdata = host_data(setup.data, host).ensure()
    log = hdata.logs / f"crawl-{run_id}.json"  # written by a crawl that ran to its end
    log.unlink(missing_ok=True)  # an earlier attempt's
    started = time.time()
    try:
        with run_lock(hdata.lock):
            hand_over(hdata, setup.data)  # files a crawl killed earlier left closed (reconciled since)
            code, lines, tail = _crawl(setup, job, hdata)
            warcs = hand_over(hdata, setup.data)
    except RunLocked as exc:
        raise HostCrawlFailed(f"{host}: another crawl holds the host ({exc})") from None
    if code not in (0, EXIT_INCOMPLETE) or not log.is_file():  # a Python crash exits 1 too, without a log
        how = f"killed by signal {-code}" if code < 0 else f"exited {code}"
        raise HostCrawlFailed(f"{host}: crawler {how}: {tail}")
    try:
        health = json.loads(log.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        health = []
    return {"host": host, "worker": setup.worker_id, "exit": code, "health": health, "lines": lines,
            "warcs": warcs, "started": round(started, 3), "seconds": round(time.time() - started, 3)}


def _crawl(setup: WorkerSetup, job: dict[str, Any], hdata: DataDir) -> tuple[int, list[str], str]:
    out_path = hdata.logs / f"crawl-{job['run_id']}.out"
    err_path = hdata.logs / f"crawl-{job['run_id']}.err"
    with out_path.open("w", encoding="utf-8") as out, err_path.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(crawler_argv(job, hdata, setup.worker_id), stdout=out, stderr=err,
                                preexec_fn=_die_with_parent)
        try:
            while True:  # short waits: the engine's time limit and a stopping worker can interrupt
                try:
                    code = proc.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    if setup.stopping.is_set():
                        proc.send_signal(signal.SIGINT)  # Scrapy closes cleanly, JOBDIR kept for the re-run
                        proc.wait()
                        raise HostCrawlFailed(f"{job['host']}: worker stopping, crawl interrupted") from None
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
    lines = out_path.read_text(encoding="utf-8").splitlines()
    tail = " ".join(err_path.read_text(encoding="utf-8", errors="replace").split())[-500:]
    return code, lines, tail
