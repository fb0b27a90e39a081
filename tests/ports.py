"""A loopback port nothing listens on: for servers the tests start, and for columns that must refuse."""

from __future__ import annotations

import socket


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
