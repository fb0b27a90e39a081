"""Disk and locks (issue 15): a build takes the crawl's data lock (exit 75, or --wait), checks the free
space first, removes its partial file when it fails (a full disk included) and says so in one line;
every command on a read-only or full data directory fails with one line on stderr, no traceback.

A full and a read-only disk are real where this runs as root (a small tmpfs, remounted read-only);
elsewhere the read-only directory is a chmod, and the full disk a monkeypatched write."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nianbao.cli import describe_error, main
from nianbao.config import DataDir, free_space_problem
from nianbao.parsers.render import random_report, render_report
from nianbao.runlock import RunLocked, run_lock
from tests.archive.helpers import Warc

REPO = Path(__file__).resolve().parents[2]


def nianbao(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nianbao.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=REPO, env={**os.environ, **(env or {})})


def write_warc(data: Path, n: int = 3, name: str = "nianbao-1-demo.warc.gz") -> Path:
    (data / "warcs").mkdir(parents=True, exist_ok=True)
    w = Warc(data / "warcs" / name)
    for i in range(n):
        page = render_report(random_report(random.Random(i), agency=f"第{i}区人民政府", year=2023))
        w.response(f"http://gov.example/{i}.html", page.encode("utf-8"), date=f"2026-02-01T00:00:{i:02d}Z")
    w.close()
    return data / "warcs" / name


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    """A real small file system (root only); skips the test where mounting is not permitted."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode:
        pytest.skip(f"mount not permitted: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


# -- the lock ------------------------------------------------------------------------------------------------
def test_build_refuses_while_a_crawl_holds_the_data_lock(tmp_path):
    data = tmp_path / "data"
    write_warc(data)
    with run_lock(DataDir(data).lock):  # what `nianbao crawl` and the nightly crawl hold
        proc = nianbao("build", "--data-dir", str(data))
    assert proc.returncode == 75
    line = one_line(proc.stderr)
    assert line.startswith("nianbao build: another nianbao run holds ") and ".crawl.lock" in line
    assert not (data / "nianbao.db").exists() and not (data / "nianbao.db.building").exists()


def test_crawl_refuses_while_a_build_holds_the_data_lock(tmp_path):
    data = tmp_path / "data"
    with run_lock(DataDir(data).lock):
        proc = nianbao("crawl", "--data-dir", str(data))
    assert proc.returncode == 75
    assert one_line(proc.stderr).startswith("nianbao crawl: another nianbao run holds ")


def test_build_waits_for_the_lock_with_wait(tmp_path, capsys):
    data = tmp_path / "data"
    write_warc(data)
    lock = run_lock(DataDir(data).lock)
    lock.__enter__()
    result: dict = {}
    waiting = threading.Thread(target=lambda: result.update(code=main(["build", "--data-dir", str(data), "--wait"])))
    waiting.start()
    assert not (data / "nianbao.db").exists()  # the build cannot have run: the lock is held
    lock.__exit__(None, None, None)
    waiting.join(timeout=300)
    assert result["code"] == 0
    assert sqlite3.connect(data / "nianbao.db").execute("select count(*) from reports").fetchone()[0] == 3


def test_wait_with_a_limit_gives_up_with_75(tmp_path):
    data = tmp_path / "data"
    write_warc(data)
    with run_lock(DataDir(data).lock):
        proc = nianbao("build", "--data-dir", str(data), "--wait", "0.3")
    assert proc.returncode == 75
    assert "after waiting 0.3s" in one_line(proc.stderr)


def test_run_lock_waits_until_released():
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"nianbao-test-{os.getpid()}.lock"
    with run_lock(path):
        with pytest.raises(RunLocked, match="after waiting 0.05s"):
            with run_lock(path, wait=0.05):
                pass
    with run_lock(path, wait=0.05):
        pass
    path.unlink()


# -- files being written ---------------------------------------------------------------------------------------
def test_warc_files_still_being_written_are_skipped(tmp_path):
    data = tmp_path / "data"
    write_warc(data, n=2, name="a.warc.gz")
    write_warc(data, n=3, name="b.warc.gz.open")
    write_warc(data, n=1, name="c.warc.partial")
    assert [p.name for p in DataDir(data).warc_files()] == ["a.warc.gz"]
    proc = nianbao("build", "--data-dir", str(data))
    assert proc.returncode == 0, proc.stderr
    assert "from 1 WARC files" in proc.stdout


# -- free space -------------------------------------------------------------------------------------------------
def test_free_space_threshold_is_twice_the_database_plus_the_floor(tmp_path, monkeypatch):
    db = tmp_path / "nianbao.db"
    db.write_bytes(b"\0" * 1024 * 1024)
    free = shutil.disk_usage(tmp_path).free
    monkeypatch.setenv("NIANBAO_MIN_FREE_MB", "0")
    assert free_space_problem(tmp_path, db, "a build") is None  # 0 turns the check off
    monkeypatch.setenv("NIANBAO_MIN_FREE_MB", str(free // (1024 * 1024) + 10))
    problem = free_space_problem(tmp_path, db, "a build")
    assert problem.startswith("not enough free space for a build: ")
    assert f"(2 × nianbao.db (1.0 MB) + {free // (1024 * 1024) + 10} MB; set NIANBAO_MIN_FREE_MB" in problem
    monkeypatch.delenv("NIANBAO_MIN_FREE_MB")
    assert free_space_problem(tmp_path, db, "a build") is None or free < 202 * 1024 * 1024


def test_build_and_crawl_refuse_to_start_without_the_space(tmp_path):
    data = tmp_path / "data"
    write_warc(data)
    huge = {"NIANBAO_MIN_FREE_MB": str(10**9)}
    proc = nianbao("build", "--data-dir", str(data), env=huge)
    assert proc.returncode == 73
    assert one_line(proc.stderr).startswith("nianbao build: not enough free space for a build: ")
    assert sorted(p.name for p in data.iterdir()) == [".build.lock", ".crawl.lock", "warcs"]
    proc = nianbao("crawl", "--data-dir", str(data), env=huge)
    assert proc.returncode == 73
    assert one_line(proc.stderr).startswith("nianbao crawl: not enough free space for a crawl and the build after it")


# -- a failed build ----------------------------------------------------------------------------------------------
def test_disk_full_during_a_build_is_one_line_and_no_partial_file(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    write_warc(data)
    assert main(["build", "--data-dir", str(data)]) == 0
    before = (data / "nianbao.db").read_bytes()
    capsys.readouterr()
    from nianbao.archive import build as build_module

    def full(self, *args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(build_module.ArchiveBuilder, "_insert_many", full)
    assert main(["build", "--data-dir", str(data)]) == 1
    err = one_line(capsys.readouterr().err)
    assert err == ("nianbao build: failed: disk full: database or disk is full; nianbao.db.building removed, "
                   "nianbao.db left as it was")
    assert not (data / "nianbao.db.building").exists()
    assert (data / "nianbao.db").read_bytes() == before


def test_a_real_full_disk(tmp_path):
    """The database on a 200 kB tmpfs: the build fails with one line and frees the space it took."""
    data = tmp_path / "data"
    write_warc(data, n=12)
    with tmpfs(tmp_path / "small", "200k") as small:
        proc = nianbao("build", "--data-dir", str(data), "--db", str(small / "nianbao.db"),
                       env={"NIANBAO_MIN_FREE_MB": "0"})
        assert proc.returncode == 1
        line = one_line(proc.stderr)
        assert line.startswith("nianbao build: failed: disk full: ") or "No space left" in line, line
        assert line.endswith("nianbao.db.building removed, nianbao.db left as it was")
        assert sorted(p.name for p in small.iterdir()) == [".build.lock"]


def test_a_stale_partial_file_is_removed_by_the_next_crawl(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "nianbao.db.building").write_bytes(b"\0" * 4096)  # a build killed with -9
    proc = nianbao("crawl", "--data-dir", str(data), "--source", "no-such-source")
    assert "removed nianbao.db.building, left by an interrupted build" in proc.stderr
    assert not (data / "nianbao.db.building").exists()


# -- read-only data directory -------------------------------------------------------------------------------------
def _archive(data: Path) -> None:
    from nianbao.archive.build import build_archive

    build_archive(data / "nianbao.db", warcs=[write_warc(data)], registry_path=data / "none.yaml")


@contextlib.contextmanager
def read_only(data: Path):
    """`data` (WARCs and a built archive) read-only: a tmpfs remounted read-only as root, a chmod otherwise."""
    if os.geteuid() == 0:
        with tmpfs(data, "4m"):
            _archive(data)
            subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True)
            yield data
    else:
        _archive(data)
        for p in (data, data / "warcs"):
            p.chmod(0o555)
        try:
            yield data
        finally:
            for p in (data, data / "warcs"):
                p.chmod(0o755)


@pytest.mark.parametrize("command", [["build"], ["crawl"], ["nightly"], ["check", "--update"], ["export"]],
                         ids=lambda c: c[0])
def test_every_command_on_a_read_only_data_dir_is_one_line(tmp_path, command):
    with read_only(tmp_path / "data") as data:
        proc = nianbao(*command, "--data-dir", str(data))
        assert proc.returncode != 0
        line = one_line(proc.stderr)
        assert line.startswith(f"nianbao {command[0]}: "), line


def test_describe_error_names_the_cause():
    import errno

    assert describe_error(OSError(errno.ENOSPC, "No space left on device", "/d/x")) == \
        "disk full (/d/x): No space left on device"
    assert describe_error(OSError(errno.EROFS, "Read-only file system", "/d")) == \
        "read-only file system (/d): Read-only file system"
    assert describe_error(sqlite3.OperationalError("attempt to write a readonly database")) == \
        "read-only database: attempt to write a readonly database"
    assert describe_error(ValueError("two\nlines")) == "ValueError: two lines"


def test_warcs_on_a_read_only_file_system_build_into_a_database_elsewhere(tmp_path):
    with read_only(tmp_path / "data") as data:
        out = tmp_path / "elsewhere" / "nianbao.db"
        proc = nianbao("build", "--data-dir", str(data), "--db", str(out), env={"NIANBAO_MIN_FREE_MB": "0"})
        assert proc.returncode == 0, proc.stderr
        assert sqlite3.connect(out).execute("select count(*) from reports").fetchone()[0] == 3
