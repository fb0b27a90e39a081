"""The Dramatiq broker, the `crawl_host` actor and the queue's settings (one copy, for dispatcher and workers).

Every process that touches the queue (dispatch, nightly, each worker) builds its broker here with the
same heartbeat timeout, so they agree on when a worker is dead. Maintenance (moving a dead worker's
unacked messages back to the queue) runs on every broker call instead of Dramatiq's default 1 in
1,000: a night has a few thousand messages, not millions, and recovery must not depend on luck.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

QUEUE_ENV = "NIANBAO_QUEUE"  # redis://host:port/db: where dispatch enqueues and workers take host jobs
HEARTBEAT_ENV = "NIANBAO_QUEUE_HEARTBEAT"  # seconds without a heartbeat after which a worker is dead
QUEUE_NAME = "nianbao-hosts"
ACTOR_NAME = "crawl_host"
NAMESPACE = "nianbao"  # Redis key prefix (Dramatiq's namespace): every key the queue writes starts with it
HEARTBEATS = f"{NAMESPACE}:__heartbeats__"  # Dramatiq's sorted set of broker ids by last heartbeat
DEFAULT_HEARTBEAT_S = 60.0  # Dramatiq's default; a busy worker heartbeats every ~1 s (its delay-queue poll)
DEFAULT_RETRIES = 2  # a host whose crawl crashes is tried 1 + 2 times, then reported failed
DEFAULT_MIN_BACKOFF_S = 15.0
DEFAULT_TIME_LIMIT_S = 12 * 3600  # one host's crawl; past it the crawl is killed and the job retried
RESULT_TTL_MS = 3 * 24 * 3600 * 1000  # results outlive any night; the dispatcher deletes them once read


def queue_url(flag: str | None = None) -> str | None:
    """The queue configured: `--queue URL`, else $NIANBAO_QUEUE, else None (a plain local crawl)."""
    return (flag or os.environ.get(QUEUE_ENV) or "").strip() or None


def heartbeat_seconds(flag: float | None = None) -> float:
    if flag:
        return float(flag)
    raw = os.environ.get(HEARTBEAT_ENV, "").strip()
    return float(raw) if raw else DEFAULT_HEARTBEAT_S


def add_queue_arguments(parser: Any) -> None:
    parser.add_argument("--queue", default=None, metavar="redis://HOST:PORT/DB",
                        help=f"the Redis job queue (default ${QUEUE_ENV})")
    parser.add_argument("--heartbeat", type=float, default=None, metavar="SECONDS",
                        help=f"a worker silent this long is dead and its host re-run (default ${HEARTBEAT_ENV} "
                             f"or {DEFAULT_HEARTBEAT_S:.0f}; dispatcher and workers must agree)")


@dataclass
class Queue:
    """A connected broker with the `crawl_host` actor and the results backend."""

    broker: Any  # dramatiq.brokers.redis.RedisBroker
    actor: Any  # dramatiq.Actor
    backend: Any  # dramatiq.results.backends.RedisBackend

    @property
    def redis(self) -> Any:
        return self.broker.client

    def pending(self) -> int:
        """Messages queued, delayed (waiting for a retry) or held by a worker: a night still running."""
        return int(self.broker.do_qsize(QUEUE_NAME))

    def close(self) -> None:
        """Leave no key behind: every broker call heartbeats, a dispatcher's too, so take ours out."""
        try:
            self.redis.zrem(HEARTBEATS, self.broker.broker_id)
        finally:
            self.broker.close()


def _no_worker(job: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("this process only enqueues host jobs (nianbao worker runs them)")


def connect(url: str, heartbeat_s: float | None = None,
            run: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Queue:
    """A broker on `url` with the `crawl_host` actor bound to `run` (a worker's job function; the
    dispatcher passes none). Raises redis.exceptions.ConnectionError when Redis is unreachable."""
    import dramatiq
    from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker
    from dramatiq.results import Results
    from dramatiq.results.backends import RedisBackend

    broker = RedisBroker(url=url, namespace=NAMESPACE, heartbeat_timeout=int(heartbeat_seconds(heartbeat_s) * 1000),
                         maintenance_chance=MAINTENANCE_SCALE)
    broker.client.ping()
    backend = RedisBackend(client=broker.client, namespace=f"{NAMESPACE}-results")
    broker.add_middleware(Results(backend=backend))
    job = run or _no_worker

    def crawl_host(job_spec: dict[str, Any]) -> dict[str, Any]:
        return job(job_spec)

    actor = dramatiq.actor(crawl_host, broker=broker, actor_name=ACTOR_NAME, queue_name=QUEUE_NAME,
                           store_results=True, result_ttl=RESULT_TTL_MS, max_retries=DEFAULT_RETRIES,
                           min_backoff=int(DEFAULT_MIN_BACKOFF_S * 1000), time_limit=DEFAULT_TIME_LIMIT_S * 1000)
    return Queue(broker, actor, backend)
