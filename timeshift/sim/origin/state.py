"""One origin's state, shared by its routes: the checked config, the stream, the fault dice,
the counters, live-mode sessions, its own address, and the time-shift switch."""

from __future__ import annotations

import asyncio
import random

from aiohttp import web

from ...errors import UsageError
from .config import OriginConfig
from .stream import Stream

__all__ = ["OriginState"]


class OriginState:
    """What every route of one origin reads and counts; made once, when the app is."""

    def __init__(self, cfg: OriginConfig) -> None:
        if cfg.signer is not None and cfg.signer.type != "A":
            # Playlists carry the origin's own signature in each segment's query, as type A does.
            raise UsageError(f"the local origin checks type A signing only, not {cfg.signer.type}",
                             option="--auth-type")
        for value, allowed, option in (
                (cfg.encryption, (None, "aes-128", "sample-aes"), "--encrypt"),
                (cfg.iv, ("sequence", "explicit"), "--iv"),
                (cfg.range_fault, (None, "ignore", "wrong"), "--range-fault")):
            if value not in allowed:
                raise UsageError(f"{value!r} is not one of {', '.join(map(str, allowed))}",
                                 option=option)
        for number, option in ((cfg.key_rotation, "--key-rotation"),
                               (cfg.byte_ranges, "--byte-ranges"), (cfg.key_length, "--key-length")):
            if number < 0:
                raise UsageError(f"must be 0 or more, not {number}", option=option)
        self.cfg = cfg
        self.stream = Stream(cfg)
        self.rng = random.Random(cfg.seed)
        #: live mode: when each playlist URL was first asked for (its delay behind the edge)
        self.sessions: dict[str, float] = {}
        self.domain = cfg.notify_domain
        self._bound = asyncio.Event()
        if self.domain is not None:
            self._bound.set()

    def count(self, what: str) -> None:
        self.cfg.counters[what] = self.cfg.counters.get(what, 0) + 1

    def known(self, app: str, stream: str) -> bool:
        return self.cfg.streams is None or f"{app}/{stream}" in self.cfg.streams

    def shift_off(self, app: str, stream: str) -> web.Response | None:
        """api (issue 16): a stream without time-shift has no time-shift content: 404."""
        if self.cfg.shift_enabled is None or self.cfg.shift_enabled(app, stream):
            return None
        self.count("shift_off")
        return web.Response(status=404, text="404 time-shift is not enabled for this stream\n")

    def bind(self, netloc: str) -> None:
        """The origin's own host:port is known: it names the domain in callbacks by default."""
        if self.domain is None:
            self.domain = netloc
        self._bound.set()

    async def wait_bound(self) -> None:
        """Until :meth:`bind` (or a configured ``notify_domain``) has named the domain."""
        await self._bound.wait()
