"""Helpers shared by the callback receiver's tests: bounded polling, and the queue's jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from timeshift.callbacks.queue import JobQueue


def wait_until(pred: Callable[[], Any], *, timeout: float, what: str = "condition") -> Any:
    """Poll ``pred`` until it is truthy; bounded, so a broken receiver fails instead of hanging."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def jobs_in(path: Path) -> list[Any]:
    """The jobs of the queue at ``path``, read through a short-lived connection."""
    q = JobQueue(path)
    try:
        return q.jobs()
    finally:
        q.close()
