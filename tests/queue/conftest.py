"""A real redis-server on a free loopback port per test (no persistence), ready when it answers PING."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.queue.sites import RedisServer


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server missing: make system-deps (Debian's redis-server)")
    server = RedisServer(tmp_path / "redis")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()
