"""Helpers for tests that start real servers on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(proc: subprocess.Popen, port: int, timeout_s: float, log_tail: Callable[[], str],
                  kill: Callable[[], None]) -> None:
    """Wait until ``proc`` listens on ``port``; fail with its log if it exits, and kill it if it never listens."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(1)
    kill()
    raise RuntimeError(f"server did not start in {timeout_s:g} s")
