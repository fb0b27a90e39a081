"""DOC, WPS and RTF → DOCX with LibreOffice headless; the one place a parser runs another program.

Why a subprocess in a pure package: no Python library reads Word 97-2003 binary files (nor the Kingsoft
WPS files built on them) with their tables; LibreOffice does, and its DOCX then goes through the same
`docx_to_html` as any DOCX attachment. The call is still a pure function of the bytes: the input is
written to a private temporary directory, converted there, read back, and the directory removed; nothing
else on disk or on the network is touched. LibreOffice is a kept Debian package installed by
`make system-deps` (libreoffice-writer-nogui), never downloaded by a test.

Measured on the fixtures (tests/fixtures/formats: 4- and 6-page reports, 2 shared CPUs): LibreOffice
DOC→DOCX costs ≈ 1.0 s of LibreOffice CPU a file (0.8 s wall on a quiet machine with this process's
profile reused, 1.2-1.7 s when every call makes a fresh profile, 2-3 s wall at load average 6), almost
all of it LibreOffice starting; every table keeps its rowspan/colspan and all 200 template cells come
out exact. antiword reads the same DOC in ≈ 2 ms (≈ 12 ms through the whole parse) but prints tables
as `|`-text with wrapped cells split over several lines and merged cells lost: 10 and 22 of 200 cells
were read from the two fixtures (status `partial`). So LibreOffice is the converter, and antiword only
the fallback when LibreOffice is absent (text and what tables survive, with a warning saying so).
A long-running LibreOffice (UNO socket) would save the start-up per file; not built: Debian's UNO
bindings live outside the virtualenv, and DOC/WPS attachments are a small share of reports.

Concurrency: LibreOffice refuses to share a user profile between running instances, so each process
keeps its own profile directory (made on first use, removed at exit) and converts one file at a time
under a lock; separate processes (the build's workers) each have their own profile and run in parallel.
"""

from __future__ import annotations

import atexit
import multiprocessing.util
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

TIMEOUT = 120  # seconds for one conversion; a 50-page report takes a few seconds
_LOCK = threading.Lock()
_PROFILE: dict[int, str] = {}  # pid -> profile dir (a forked worker must not reuse its parent's)
_PREFIX = "nianbao-lo-profile-"


class ToolMissing(RuntimeError):
    """The converter program is not installed."""


class ConversionFailed(RuntimeError):
    """The converter ran and produced nothing usable (a broken file, a timeout)."""


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _profile() -> str:
    """This process's LibreOffice profile: removed at exit (atexit for a plain process, a multiprocessing
    finaliser for a pool worker, which leaves by os._exit); profiles of processes that died without
    either (kill -9) are swept when the next process makes its own."""
    pid = os.getpid()
    if pid not in _PROFILE:
        _sweep()
        path = tempfile.mkdtemp(prefix=f"{_PREFIX}{pid}-")
        _PROFILE[pid] = path
        atexit.register(shutil.rmtree, path, True)
        multiprocessing.util.Finalize(None, shutil.rmtree, args=(path, True), exitpriority=0)
    return _PROFILE[pid]


def _drop_profile() -> None:
    path = _PROFILE.pop(os.getpid(), None)
    if path:
        shutil.rmtree(path, ignore_errors=True)


def _sweep() -> None:
    for stale in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-*"):
        try:
            os.kill(int(stale.name[len(_PREFIX):].split("-", 1)[0]), 0)
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue


def convert(data: bytes, source_ext: str, target: str = "docx") -> bytes:
    """`data` (a file of type `source_ext`) converted by LibreOffice to `target` (e.g. 'docx', 'xlsx')."""
    program = soffice()
    if program is None:
        raise ToolMissing("LibreOffice not installed (make system-deps)")
    with _LOCK, tempfile.TemporaryDirectory(prefix="nianbao-lo-") as tmp:
        src = Path(tmp) / f"in.{source_ext}"
        src.write_bytes(data)
        out = Path(tmp) / "out"
        command = [program, f"-env:UserInstallation=file://{_profile()}", "--headless", "--norestore",
                   "--nologo", "--nodefault", "--nolockcheck", "--convert-to", target, "--outdir", str(out),
                   str(src)]
        _run(command, cwd=tmp)
        produced = out / f"in.{target.split(':', 1)[0]}"
        if not produced.exists() or produced.stat().st_size == 0:
            raise ConversionFailed(f"LibreOffice could not convert the {source_ext.upper()} file")
        return produced.read_bytes()


def antiword_text(data: bytes) -> str:
    """The text of a Word 97-2003 file by antiword (tables as `|` rows; merged cells and wraps lost)."""
    program = shutil.which("antiword")
    if program is None:
        raise ToolMissing("antiword not installed")
    with tempfile.TemporaryDirectory(prefix="nianbao-aw-") as tmp:
        src = Path(tmp) / "in.doc"
        src.write_bytes(data)
        result = _run([program, "-w", "0", "-m", "UTF-8.txt", str(src)], cwd=tmp)
        return result.decode("utf-8", "replace")


def _run(command: list[str], cwd: str) -> bytes:
    """Run in its own session so a timeout kills the whole process group (soffice forks oosplash)."""
    proc = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        _drop_profile()  # a profile killed mid-write may be left half made: the next call starts afresh
        raise ConversionFailed(f"{Path(command[0]).name} timed out after {TIMEOUT} s") from None
    if proc.returncode != 0:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise ConversionFailed(f"{Path(command[0]).name} failed: {tail[0]}")
    return stdout
