"""Fixtures for the publishing tests: a real archive built by the archive's builder from a WARC, and a
real Datasette server started the way `nianbao serve` starts it, on 127.0.0.1 at a free port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import unused_port
from tests.publish.archive_fixture import Expect, build

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    base: str
    data_dir: Path
    expect: Expect
    log: Path

    def url(self, path: str, **params: str) -> str:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        return self.base + path + query

    def get(self, path: str, **params: str) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(self.url(path, **params), timeout=30) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()

    def json(self, path: str, **params: str):
        status, _, body = self.get(path, **params)
        assert status == 200, (path, status, body[:500])
        return json.loads(body)


@pytest.fixture(scope="session")
def built_archive(tmp_path_factory) -> tuple[Path, Expect]:
    data_dir = tmp_path_factory.mktemp("publish-data")
    return data_dir, build(data_dir)


@pytest.fixture(scope="session")
def server(built_archive, tmp_path_factory):
    data_dir, expect = built_archive
    port = unused_port()
    log = tmp_path_factory.mktemp("publish-log") / "datasette.log"
    env = {k: v for k, v in os.environ.items() if k not in ("NIANBAO_WARCS", "NIANBAO_DATA")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nianbao.commands.serve", "--data-dir", str(data_dir),
             "--port", str(port), "--host", "127.0.0.1"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    srv = Server(base=f"http://127.0.0.1:{port}", data_dir=data_dir, expect=expect, log=log)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"datasette exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(srv.base + "/-/versions.json", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"datasette did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
    yield srv
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
