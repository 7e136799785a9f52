"""Loopback ports for the tests' servers and viewers."""

from __future__ import annotations

import socket
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for_port(port: int, up: bool = True, timeout: float = 30.0) -> None:
    """Until something listens on `port` (or, with up=False, nothing does)."""
    deadline = time.monotonic() + timeout
    while listening(port) != up:
        assert time.monotonic() < deadline, f"port {port} is {'not ' if up else 'still '}listening"
        time.sleep(0.1)
