"""The local OSS server's configuration: its one account, storage, limits and faults."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .wire import MAX_OBJECT_SIZE

__all__ = ["OssConfig"]


@dataclass
class OssConfig:
    """The server's one account, its storage and its faults.

    ``root`` holds the objects (a fresh temporary directory when not given); ``buckets``
    are created at start if missing. ``region`` (when set) is the only region V4
    signatures may be scoped to. The ``*_rate`` fields are probabilities per request and
    may be changed while the server runs. ``clock`` is the server's idea of now (for
    expiry, skew and Last-Modified), so tests can move it.
    """

    access_key_id: str = "testid"
    access_key_secret: str = field(default="testsecret", repr=False)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="timeshift-oss-")))
    buckets: tuple[str, ...] = ()
    region: str | None = None
    fail_rate: float = 0.0
    throttle_rate: float = 0.0
    throttle_status: int = 503
    drop_rate: float = 0.0
    corrupt_crc_rate: float = 0.0
    #: The largest object a PUT (or a part) may carry, chunked bodies included.
    max_object_size: int = MAX_OBJECT_SIZE
    seed: int | None = None
    clock: Callable[[], float] = time.time
    counters: dict[str, int] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)  # "bucket/key" of every PutObject stored
