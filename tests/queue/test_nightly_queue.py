"""`nianbao nightly --queue URL`: dispatch + wait + build + check, with a real worker and Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.ports import unused_port
from tests.queue.sites import REPO, Hosts, start_worker, stop_worker
from tests.queue.test_queue import HEARTBEAT, workers_up

pytestmark = pytest.mark.slow


def nightly(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nianbao.cli", "nightly", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env=env)


def test_nightly_on_the_queue_builds_what_the_workers_crawled(tmp_path, redis_server):
    with Hosts(tmp_path / "site", [2, 1], reports=3, per_page=2) as hosts:
        registry = hosts.write_registry(tmp_path / "sources.yaml")
        data = tmp_path / "data"
        w = start_worker(redis_server.url, data, "w0", concurrency=2, heartbeat=HEARTBEAT, log=tmp_path / "w0.log")
        try:
            workers_up(redis_server, 1)
            proc = nightly("--queue", redis_server.url, "--heartbeat", str(HEARTBEAT), "--data-dir", str(data),
                           "--sources", str(registry), "--impolite", "--run-id", "q1", "--today", "2026-06-01")
        finally:
            stop_worker(w)
        assert proc.returncode == 3, proc.stdout + proc.stderr  # new reports
        row = json.loads((data / "logs" / "nightly_runs.jsonl").read_text(encoding="utf-8").splitlines()[-1])
        assert row["crawl_exit"] == 0 and row["built"] == 1 and row["n_new"] == 9 and row["n_sources"] == 3
        assert row["n_sources_failed"] == 0
        stats = json.loads(row["crawl_stats"])
        assert sorted(stats) == ["h0s0", "h0s1", "h1s0"]
        assert all("-w0-" in p.name for p in (data / "warcs").iterdir())
        assert redis_server.keys() == []


def test_nightly_with_an_unreachable_queue_fails_cleanly(tmp_path):
    with Hosts(tmp_path / "site", [1], reports=1, per_page=2) as hosts:
        registry = hosts.write_registry(tmp_path / "sources.yaml")
        env = dict(os.environ, NIANBAO_QUEUE=f"redis://127.0.0.1:{unused_port()}/0")
        proc = nightly("--data-dir", str(tmp_path / "data"), "--sources", str(registry), "--run-id", "q2", env=env)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "crawl exited 69" in proc.stdout
        assert hosts.fetched() == {}  # nothing crawled behind the queue's back
