"""Waiting for what a server or a thread does in its own time, with a bound: the tests and
`scripts/benchmark_live.py` ask "within N seconds", never "how fast" (the machine may be loaded)."""

from __future__ import annotations

import socket
import time


def until(condition, seconds: float, step: float = 0.1):
    """`condition()` as soon as it is true, polled every `step` seconds for up to `seconds`; its last
    value (false) when the time ran out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return condition()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` now (another process may take it before it is used)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
