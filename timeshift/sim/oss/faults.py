"""Injected faults, drawn per request from ``random.Random(seed)``: 500s, throttling (503
TotalQpsLimitExceeded or 429, with ``x-oss-qos-delay-time``), connections dropped halfway
through a GetObject body, and corrupted ``x-oss-hash-crc64ecma`` headers. Every fault is
counted in the config's ``counters``."""

from __future__ import annotations

import random
from collections.abc import Callable

from .config import OssConfig
from .wire import Fail

__all__ = ["Faults"]


class Faults:
    """The config's fault rates (which may change while the server runs), applied."""

    def __init__(self, cfg: OssConfig, count: Callable[[str], None]) -> None:
        self.cfg, self.count = cfg, count
        self.rng = random.Random(cfg.seed)

    def check(self) -> None:
        """Raise the failure this request draws, if any."""
        cfg = self.cfg
        if cfg.fail_rate and self.rng.random() < cfg.fail_rate:
            self.count("fault.fail")
            raise Fail(500, "InternalError", "We encountered an internal error. Please try again.")
        if cfg.throttle_rate and self.rng.random() < cfg.throttle_rate:
            self.count("fault.throttle")
            if cfg.throttle_status == 429:
                fail = Fail(429, "TooManyRequests", "Please reduce your request rate.")
            else:
                fail = Fail(cfg.throttle_status, "TotalQpsLimitExceeded",
                            "Max total qps limit is exceeded.")
            fail.headers["x-oss-qos-delay-time"] = "100"  # milliseconds to back off
            raise fail

    def crc_header(self, crc: int) -> str:
        """The CRC header's value: the object's, or (drawn) a wrong one."""
        if self.cfg.corrupt_crc_rate and self.rng.random() < self.cfg.corrupt_crc_rate:
            self.count("fault.corrupt_crc")
            return str(crc ^ 0x1)
        return str(crc)

    def drop(self) -> bool:
        """Whether this GetObject's connection is cut halfway through the body."""
        return bool(self.cfg.drop_rate) and self.rng.random() < self.cfg.drop_rate
