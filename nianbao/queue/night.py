"""A night on the queue: enqueue tonight's hosts, wait for their results, report, leave Redis clean.

`dispatch` sends one `crawl_host` message per host (every chosen registry source on it, named in the
message so a worker with another copy of the registry crawls the same set or fails loudly). `wait`
reads each host's result from Dramatiq's results backend (a host's result comes once its retries are
over: a crash retried and still failing is one failure, not three). `finish` deletes what the night
wrote: result keys and the queue's messages, dead letters and delay queue (workers' heartbeats are
theirs: a stopped worker removes its own). The crawl log `logs/crawl-<run id>.json` is written as
one crawl would write it, plus one entry per source of a failed host (`error: host failed: …`), so
the nightly counts a failed host like a failed source.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nianbao.config import DataDir
from nianbao.queue.broker import DEFAULT_MIN_BACKOFF_S, DEFAULT_RETRIES, QUEUE_NAME, Queue

log = logging.getLogger("nianbao.queue")
DEFAULT_WAIT_S = 20 * 3600  # a night; hosts not done by then are reported failed (`timeout`)
BLOCK_MS = 2000
HOST_FAILED = "host_failed"  # the failure class of a source whose host job failed
EXIT_QUEUE_UNUSABLE = 69  # sysexits EX_UNAVAILABLE: Redis unreachable or an earlier night still queued


class NightBusy(RuntimeError):
    """The queue still holds an earlier night's hosts."""


@dataclass
class Outcome:
    """What the night's hosts came to: per-host results, failures, the crawl exit code equivalent."""

    run_id: str
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> the worker's result
    failed: dict[str, str] = field(default_factory=dict)  # host -> why
    sources: dict[str, list[str]] = field(default_factory=dict)  # host -> its source names

    @property
    def exit_code(self) -> int:
        """As `nianbao crawl`'s: 0 every source complete, 1 some source incomplete or some host failed."""
        if self.failed or any(r.get("exit") for r in self.results.values()):
            return 1
        return 0

    def failed_sources(self) -> dict[str, str]:
        """Source name -> failure class, for the sources of failed hosts."""
        return {name: HOST_FAILED for host in self.failed for name in self.sources.get(host, [])}

    def health(self) -> list[dict[str, Any]]:
        """The crawl log entries: each worker's, then one per source of a failed host."""
        entries = [e for host in sorted(self.results) for e in self.results[host].get("health") or []]
        for host, why in sorted(self.failed.items()):
            entries += [{"source": name, "run_id": self.run_id, "complete": False, "host": host,
                         "error": f"host failed: {why}"} for name in self.sources.get(host, [])]
        return entries

    def lines(self) -> list[str]:
        out = []
        for host in sorted(set(self.results) | set(self.failed)):
            if host in self.failed:
                out.append(f"{host}: FAILED ({self.failed[host]})")
                continue
            r = self.results[host]
            out.append(f"{host}: crawled by {r['worker']} in {r['seconds']:.0f} s, exit {r['exit']}")
            out += [f"  {line}" for line in r.get("lines") or []]
        return out


def plan_hosts(sources_file: str | None, names: list[str] | tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Tonight's hosts: host -> its source names (the named sources, else every enabled, unfrozen one)."""
    from nianbao.crawler.registry import RegistryError, load_sources, sources_by_host

    registry = load_sources(sources_file)
    if names:
        by_name = {s.name: s for s in registry}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise RegistryError(f"no such source(s): {', '.join(missing)}")
        chosen = [by_name[n] for n in names]
    else:
        chosen = [s for s in registry if s.enabled and not s.frozen]
    return {host: [s.name for s in group] for host, group in sources_by_host(chosen).items()}


def dispatch(q: Queue, run_id: str, hosts: dict[str, list[str]], *, sources_file: str | None = None,
             revalidate: str = "policy", impolite: bool = False, now: str | None = None,
             retries: int = DEFAULT_RETRIES, min_backoff_s: float = DEFAULT_MIN_BACKOFF_S) -> dict[str, Any]:
    """Enqueue one message per host; returns host -> message. Refuses (NightBusy) while the queue
    still holds work: two nights interleaved would report each other's hosts."""
    pending = q.pending()
    if pending:
        raise NightBusy(f"the queue still holds {pending} host job(s) of an earlier night "
                        f"(let the workers finish, or clear it: nianbao dispatch --clear)")
    registry = str(Path(sources_file).resolve()) if sources_file else None
    sent = {}
    for host, names in hosts.items():
        job = {"host": host, "run_id": run_id, "names": names, "sources": registry, "revalidate": revalidate,
               "impolite": impolite, "now": now}
        sent[host] = q.actor.send_with_options(args=(job,), max_retries=retries,
                                               min_backoff=int(min_backoff_s * 1000),
                                               max_backoff=int(max(min_backoff_s, 1) * 8 * 1000))
    log.info("dispatched %d host(s) for run %s", len(sent), run_id)
    return sent


def wait(q: Queue, run_id: str, sent: dict[str, Any], hosts: dict[str, list[str]],
         timeout_s: float = DEFAULT_WAIT_S) -> Outcome:
    """Each host's result (blocking on the results backend); hosts without one by `timeout_s` fail."""
    from dramatiq.results import ResultFailure, ResultTimeout

    out = Outcome(run_id, sources=dict(hosts))
    deadline = time.monotonic() + timeout_s
    for host, message in sent.items():
        while host not in out.results and host not in out.failed:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            try:  # blocks of ≤ 2 s: a longer BRPOPLPUSH would outlast the client's socket timeout
                out.results[host] = q.backend.get_result(message, block=True,
                                                         timeout=max(1, min(remaining_ms, BLOCK_MS)))
                log.info("host %s done by %s (exit %s)", host, out.results[host].get("worker"),
                         out.results[host].get("exit"))
            except ResultTimeout:
                if remaining_ms <= BLOCK_MS:
                    out.failed[host] = f"timeout: no result within {timeout_s:.0f} s"
            except ResultFailure as exc:
                out.failed[host] = " ".join(str(exc).split())[-500:]
        if host in out.failed:
            log.warning("host %s failed: %s", host, out.failed[host])
    return out


def finish(q: Queue, sent: dict[str, Any]) -> None:
    """Delete the night's keys: results, then the queue, its delay queue and dead letters."""
    for message in sent.values():
        q.redis.delete(q.backend.build_message_key(message))
    q.broker.flush(QUEUE_NAME)  # the queue and its delay queue, each with its messages and dead letters


def write_crawl_log(data: DataDir, outcome: Outcome) -> Path:
    """`logs/crawl-<run id>.json`, as a one-machine crawl writes it (nightly and status read it)."""
    data.logs.mkdir(parents=True, exist_ok=True)
    path = data.logs / f"crawl-{outcome.run_id}.json"
    path.write_text(json.dumps(outcome.health(), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def run_night(data: DataDir, url: str, run_id: str, *, sources_file: str | None = None,
              names: list[str] | tuple[str, ...] = (), revalidate: str = "policy", impolite: bool = False,
              now: str | None = None, timeout_s: float = DEFAULT_WAIT_S, heartbeat_s: float | None = None,
              retries: int = DEFAULT_RETRIES, min_backoff_s: float = DEFAULT_MIN_BACKOFF_S) -> Outcome:
    """dispatch + wait + finish + the crawl log: the queue's stand-in for one `nianbao crawl`."""
    from nianbao.queue.broker import connect

    hosts = plan_hosts(sources_file, names)
    q = connect(url, heartbeat_s)
    try:
        sent = dispatch(q, run_id, hosts, sources_file=sources_file, revalidate=revalidate, impolite=impolite,
                        now=now, retries=retries, min_backoff_s=min_backoff_s)
        try:
            outcome = wait(q, run_id, sent, hosts, timeout_s)
        finally:
            finish(q, sent)
    finally:
        q.close()
    write_crawl_log(data, outcome)
    return outcome


def crawl_on_queue(data: DataDir, opts: Any, run_id: str) -> int:
    """The nightly's crawl step on the queue (opts: nightly.NightlyOptions): a crawl's exit code, 0 or
    1, or 69 when the queue cannot be used (Redis unreachable, an earlier night still queued)."""
    from redis.exceptions import RedisError

    from nianbao.queue.broker import queue_url

    try:
        outcome = run_night(data, queue_url(opts.queue) or "", run_id, sources_file=opts.sources, names=opts.source,
                            revalidate=opts.revalidate, impolite=opts.impolite, heartbeat_s=opts.heartbeat,
                            timeout_s=opts.queue_timeout or DEFAULT_WAIT_S)
    except (RedisError, NightBusy) as exc:
        log.error("crawl on the queue: %s", exc)
        return EXIT_QUEUE_UNUSABLE
    for line in outcome.lines():
        log.info("crawl: %s", line)
    return outcome.exit_code


def failed_host_sources(data: DataDir, run_id: str) -> set[str]:
    """The sources the crawl log of `run_id` reports as lost with their host (empty for a local crawl)."""
    try:
        entries = json.loads((data.logs / f"crawl-{run_id}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {e["source"] for e in entries if isinstance(e, dict) and str(e.get("error", "")).startswith("host failed")}
