"""Time-shift configuration in the local Live API (SPEC §8), and what the local origin asks of it.

OpenLiveShift / CloseLiveShift / DescribeLiveShiftConfigs keep rows ``(domain, app, stream)``
where app and stream may be ``*``. A stream has time-shift when a row names it (the exact
row first, then ``app/*``, then ``*/*``). A transcoded stream ``{stream}_{template}`` (the
template one the domain knows) has it only through its source stream's row, and only when
that row says ``IgnoreTranscode=false``. The rows are shared with the origin's thread, so
they sit behind a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..shifthint import TRANSCODE_TEMPLATES
from .liveauth import ApiFail

__all__ = ["DEFAULT_TEMPLATES", "MAX_ROWS", "VISIONS", "ShiftConfigs", "ShiftRow"]

VISIONS = (1, 3, 7, 15, 30)   # retention days the service offers (SPEC §1)
DURATION_RANGE = (1, 60)      # TS segment seconds
MAX_ROWS = 100                # per domain; past it the service answers InvalidStreamNum
DEFAULT_TEMPLATES = TRANSCODE_TEMPLATES


@dataclass(frozen=True)
class ShiftRow:
    domain: str
    app: str
    stream: str
    duration: int | None
    vision: int
    ignore_transcode: bool

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"DomainName": self.domain, "AppName": self.app,
                               "StreamName": self.stream, "Vision": self.vision,
                               "IgnoreTranscode": self.ignore_transcode}
        if self.duration is not None:
            out["Duration"] = self.duration
        return out


def _number(p: Mapping[str, str], name: str, allowed: range | tuple[int, ...]) -> int | None:
    raw = p.get(name)
    if raw in (None, ""):
        return None
    assert raw is not None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) not in allowed:
        raise ApiFail(400, "InvalidParam", f"{name} {raw[:20]!r} is out of range.")
    return int(raw)


def _flag(p: Mapping[str, str], name: str, default: bool) -> bool:
    raw = p.get(name, "").lower()
    if raw in ("", "true", "false"):
        return default if not raw else raw == "true"
    raise ApiFail(400, "InvalidParam", f"{name} must be true or false.")


class ShiftConfigs:
    """The rows, and :meth:`enabled` for the origin."""

    def __init__(self, templates: tuple[str, ...] = DEFAULT_TEMPLATES) -> None:
        self.templates = frozenset(templates)
        self._rows: dict[tuple[str, str, str], ShiftRow] = {}
        self._lock = threading.Lock()

    def _row(self, domain: str, app: str, stream: str) -> ShiftRow | None:
        for key in ((domain, app, stream), (domain, app, "*"), (domain, "*", "*")):
            if key in self._rows:
                return self._rows[key]
        return None

    def enabled(self, domain: str, app: str, stream: str) -> bool:
        """Whether ``app/stream`` on ``domain`` has time-shift."""
        with self._lock:
            base, _, template = stream.rpartition("_")
            if base and template in self.templates:
                row = self._row(domain, app, base)
                return row is not None and not row.ignore_transcode
            return self._row(domain, app, stream) is not None

    def open(self, domain: str, p: Mapping[str, str]) -> None:
        """OpenLiveShift."""
        app, stream = p.get("AppName", ""), p.get("StreamName", "")
        for name, value in (("AppName", app), ("StreamName", stream)):
            if not value:
                raise ApiFail(400, f"Missing{name}", f"{name} is mandatory for this action.")
        row = ShiftRow(domain, app, stream, _number(p, "Duration", range(1, 61)),
                       _number(p, "Vision", VISIONS) or 7, _flag(p, "IgnoreTranscode", True))
        with self._lock:
            if (domain, app, stream) in self._rows:
                raise ApiFail(400, "ConfigAlreadyExists",
                              "The time-shift config already exists.")
            if sum(1 for d, _, _ in self._rows if d == domain) >= MAX_ROWS:
                raise ApiFail(409, "InvalidStreamNum", "Too many time-shift configs.")
            self._rows[(domain, app, stream)] = row

    def close(self, domain: str, p: Mapping[str, str]) -> None:
        """CloseLiveShift."""
        key = (domain, p.get("AppName", ""), p.get("StreamName", ""))
        with self._lock:
            if self._rows.pop(key, None) is None:
                raise ApiFail(404, "InvalidDataNotFound", "The time-shift config does not exist.")

    def describe(self, domain: str) -> dict[str, Any]:
        """DescribeLiveShiftConfigs' answer body."""
        with self._lock:
            rows = [r.to_api() for k, r in sorted(self._rows.items()) if k[0] == domain]
        return {"Content": {"Config": rows}}

    def rows(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rows.values()]
