"""Which Redis job queue for the host leases (issue 16 point 2): measure, do not guess.

    python bench/queue_engines.py [--engines dramatiq,rq,celery,huey] [--jobs 200] [--recovery-wait 120]

For each engine that is importable (pip install dramatiq[redis] rq celery[redis] huey into a scratch
venv to compare all four), against a real redis-server on a free loopback port, one JSON line:
  - `recovered_s`: a job (a 30 s "crawl") is running on worker A; A's process group is killed with
    SIGKILL (a machine dying); worker B is already waiting. Seconds from the kill until the job starts
    again on B, or null when it never does within --recovery-wait (the job is lost);
  - `recovery_bound_s`: the engine timeout configured here for that recovery (each engine set to its
    shortest sane value: the knobs are in ENGINES below);
  - `starts_while_alive`: a 12 s job, two live workers: how many times it starts (1 is right; more
    means the engine redelivers a long job whose worker is alive — Celery's visibility timeout);
  - `ms_per_job`: enqueue --jobs no-op jobs, one worker: wall per job, the queue's own overhead;
  - `left_keys`: Redis keys left once every job finished (what a night would leave behind).
The worker scripts are written to a scratch directory and run as child processes (kill -9 needs a
process). Results quoted in docs/operations.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

JOB_SECONDS = 30

COMMON = textwrap.dedent("""
    import os, sys, time
    URL = os.environ["QB_URL"]
    MARKS = os.environ["QB_MARKS"]
    def mark(kind, arg):
        with open(MARKS, "a") as fh:
            fh.write(f"{kind} {arg} {os.getpid()} {time.time()}\\n")
    def work(arg, seconds):
        mark("start", arg)
        time.sleep(seconds)
        mark("done", arg)
""")

ENGINES = {
    "dramatiq": {
        "bound": 5.0,  # heartbeat_timeout (ms below); maintenance on every broker call
        "module": COMMON + textwrap.dedent("""
            import dramatiq
            from dramatiq.brokers.redis import RedisBroker, MAINTENANCE_SCALE
            broker = RedisBroker(url=URL, heartbeat_timeout=5000, maintenance_chance=MAINTENANCE_SCALE)
            dramatiq.set_broker(broker)
            @dramatiq.actor(max_retries=2, time_limit=3_600_000, queue_name="hosts")
            def job(arg, seconds):
                work(arg, seconds)
            def enqueue(arg, seconds):
                job.send(arg, seconds)
            def run_worker():
                from dramatiq import Worker
                w = Worker(broker, worker_threads=1, worker_timeout=200)
                w.queue_prefetch = 1
                w.start()
                while True:
                    time.sleep(1)
        """),
    },
    "rq": {
        "bound": 10.0,  # job_monitoring_interval 2 s + the started registry's TTL margin, maintenance every 5 s
        "module": COMMON + textwrap.dedent("""
            from redis import Redis
            from rq import Queue, Retry, Worker
            conn = Redis.from_url(URL)
            q = Queue("hosts", connection=conn)
            def job(arg, seconds):
                work(arg, seconds)
            def enqueue(arg, seconds):
                q.enqueue(job, arg, seconds, retry=Retry(max=2), job_timeout=3600, result_ttl=0)
            def run_worker():
                Worker([q], connection=conn, job_monitoring_interval=2, maintenance_interval=5).work()
        """),
    },
    "celery": {
        "bound": 5.0,  # visibility_timeout 5 s, restore every 1 s
        "module": COMMON + textwrap.dedent("""
            from celery import Celery
            app = Celery("qb", broker=URL)
            app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                            broker_transport_options={"visibility_timeout": 5, "unacked_restore_interval": 1,
                                                      "unacked_restore_throttle": 1},
                            task_ignore_result=True, broker_connection_retry_on_startup=True)
            @app.task(name="job", queue="hosts")
            def job(arg, seconds):
                work(arg, seconds)
            def enqueue(arg, seconds):
                job.apply_async((arg, seconds), queue="hosts")
            def run_worker():
                app.worker_main(["worker", "--pool", "solo", "-c", "1", "-Q", "hosts", "--loglevel", "WARNING",
                                 "--without-gossip", "--without-mingle", "--without-heartbeat"])
        """),
    },
    "huey": {
        "bound": None,  # no recovery: a dequeued task is gone from Redis
        "module": COMMON + textwrap.dedent("""
            from huey import RedisHuey
            from huey.consumer import Consumer
            huey = RedisHuey("qb", url=URL, results=False)
            @huey.task(retries=2)
            def job(arg, seconds):
                work(arg, seconds)
            def enqueue(arg, seconds):
                job(arg, seconds)
            def run_worker():
                Consumer(huey, workers=1, periodic=False, initial_delay=0.05, max_delay=0.2).run()
        """),
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.cmd("PING") == "+PONG":
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING")

    def cmd(self, *words: str) -> str:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall((f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)).encode())
                return s.recv(65536).decode().split("\r\n")[0]
        except OSError:
            return ""

    def keys(self) -> int:
        return int(self.cmd("DBSIZE").lstrip(":") or 0)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def marks(path: Path) -> list[tuple[str, str, int, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        kind, arg, pid, t = line.split()
        out.append((kind, arg, int(pid), float(t)))
    return out


def wait_for(pred, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return None


def run_engine(name: str, n_jobs: int, recovery_wait: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"qb-{name}-"))
    (work / "qbmod.py").write_text(ENGINES[name]["module"])
    redis = Redis(work)
    env = dict(os.environ, QB_URL=redis.url, QB_MARKS=str(work / "marks"), PYTHONPATH=str(work))

    def py(code: str, **kw) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", f"import qbmod; {code}"], env=env, cwd=work,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)

    out: dict = {"engine": name, "recovery_bound_s": ENGINES[name]["bound"]}
    try:
        # recovery after kill -9
        subprocess.run([sys.executable, "-c", f"import qbmod; qbmod.enqueue('crawl', {JOB_SECONDS})"], env=env,
                       cwd=work, check=True, capture_output=True)
        a = py("qbmod.run_worker()")
        first = wait_for(lambda: [m for m in marks(work / "marks") if m[0] == "start"], 30)
        b = py("qbmod.run_worker()")
        time.sleep(1.0)  # B is up and polling (a bench: the measurement starts at the kill)
        os.killpg(a.pid, signal.SIGKILL)
        killed = time.time()
        a.wait()
        again = wait_for(lambda: [m for m in marks(work / "marks") if m[0] == "start" and m[2] != first[0][2]],
                         recovery_wait, 0.1)
        out["recovered_s"] = round(again[0][3] - killed, 2) if again else None
        os.killpg(b.pid, signal.SIGKILL)
        b.wait()
        # a long job on a live worker: is it ever started twice?
        (work / "marks").unlink(missing_ok=True)
        redis.cmd("FLUSHALL")
        subprocess.run([sys.executable, "-c", "import qbmod; qbmod.enqueue('long', 12)"], env=env,
                       cwd=work, check=True, capture_output=True)
        pair = [py("qbmod.run_worker()"), py("qbmod.run_worker()")]
        wait_for(lambda: [m for m in marks(work / "marks") if m[0] == "done"], 60, 0.1)
        time.sleep(3)  # a redelivery would start within the timeouts above
        out["starts_while_alive"] = len([m for m in marks(work / "marks") if m[0] == "start"])
        for p in pair:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        # overhead: n no-op jobs through one worker
        (work / "marks").unlink(missing_ok=True)
        redis.cmd("FLUSHALL")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import qbmod\nfor i in range({n_jobs}): qbmod.enqueue(str(i), 0)"],
                       env=env, cwd=work, check=True, capture_output=True)
        w = py("qbmod.run_worker()")
        done = wait_for(lambda: len([m for m in marks(work / "marks") if m[0] == "done"]) >= n_jobs, 120, 0.05)
        wall = time.perf_counter() - t0
        out["ms_per_job"] = round(1000 * wall / n_jobs, 2) if done else None
        time.sleep(0.5)
        out["left_keys"] = redis.keys()
        os.killpg(w.pid, signal.SIGKILL)
        w.wait()
    finally:
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engines", default="dramatiq,rq,celery,huey")
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--recovery-wait", type=float, default=120)
    args = ap.parse_args()
    for name in args.engines.split(","):
        try:
            __import__({"celery": "celery", "rq": "rq", "huey": "huey", "dramatiq": "dramatiq"}[name])
        except ImportError:
            print(json.dumps({"engine": name, "skipped": "not installed"}))
            continue
        print(json.dumps(run_engine(name, args.jobs, args.recovery_wait)), flush=True)


if __name__ == "__main__":
    main()
