"""Several crawl machines through a Redis job queue: one job = one host (issue 16 point 2).

Why hosts, not requests: sharing Scrapy's request queue over Redis (scrapy-redis) lost in-flight work
on kill -9, broke per-host politeness across workers and split a column's bookkeeping so that
still-listed reports were marked withdrawn. Leasing a whole host (every registry source on it,
`nianbao.crawler.registry.sources_by_host`) to one worker keeps one crawler per portal: politeness,
robots.txt, the crawl summary, withdrawals and moves are exactly those of a one-machine crawl.

Why Dramatiq (bench/queue_engines.py, docs/operations.md): its Redis broker keeps a fetched message in
the worker's ack set until the job returns, and every worker heartbeats on each broker call; a worker
silent for `heartbeat_timeout` is dead and any live worker moves its unacked messages back to the queue
(measured: re-run 5.0 s after kill -9 with a 5 s timeout, 10 ms overhead per job). RQ 3 retries an
abandoned job only after its started-registry TTL and a maintenance pass (measured figures in
docs/operations.md); Celery needs acks_late plus a visibility timeout that must exceed the longest
crawl (hours) or it redelivers running crawls; Huey pops a task off Redis and loses it on kill -9.

Pieces: `broker` (connection, the actor, settings), `hostjob` (what a worker does with one host),
`night` (dispatch, wait, clean up, outcomes for the nightly), `state_rebuild` (a host's crawl state
from its WARCs).
"""
