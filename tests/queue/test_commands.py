"""`nianbao dispatch` on its own: enqueue, refuse a second night while the first is queued, clear, and say
plainly when no queue is configured or Redis cannot be reached; nothing left in Redis by the dispatcher."""

from __future__ import annotations

import subprocess
import sys

from tests.ports import unused_port
from tests.queue.sites import REPO, Hosts


def nianbao(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nianbao.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_dispatch_enqueue_busy_clear_and_errors(tmp_path, redis_server):
    with Hosts(tmp_path / "site", [2, 1], reports=2, per_page=2) as hosts:
        registry = str(hosts.write_registry(tmp_path / "sources.yaml"))
        data = str(tmp_path / "data")
        first = nianbao("dispatch", "--queue", redis_server.url, "--sources", registry, "--data-dir", data)
        assert first.returncode == 0 and "2 host(s) queued (3 sources)" in first.stdout, first.stderr
        assert (tmp_path / "data" / "registry.yaml").is_file()  # what a later build of this data dir reads
        second = nianbao("dispatch", "--queue", redis_server.url, "--sources", registry, "--data-dir", data)
        assert second.returncode == 75 and "still holds 2 host job(s)" in second.stderr
        cleared = nianbao("dispatch", "--queue", redis_server.url, "--clear", "--data-dir", data)
        assert cleared.returncode == 0 and "dropping 2 queued host job(s)" in cleared.stdout
        assert redis_server.keys() == []
        none = nianbao("dispatch", "--sources", registry, "--data-dir", data)
        assert none.returncode == 2 and "no queue configured" in none.stderr
        down = nianbao("dispatch", "--queue", f"redis://127.0.0.1:{unused_port()}/0", "--sources", registry,
                       "--data-dir", data)
        assert down.returncode == 69 and "cannot reach the queue" in down.stderr
        bad = nianbao("dispatch", "--queue", redis_server.url, "--sources", registry, "--source", "nope",
                      "--data-dir", data)
        assert bad.returncode == 2 and "no such source" in bad.stderr
        assert hosts.fetched() == {}
