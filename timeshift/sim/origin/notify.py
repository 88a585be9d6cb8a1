"""Publish notify (seed 7.4): the publishing sessions between gaps, and the ``publish`` /
``publish_done`` callbacks sent for them as the clock reaches each start and end, signed
(SPEC §5a) and retried as the service does."""

from __future__ import annotations

import asyncio
import logging
import math

import aiohttp
from yarl import URL

from ...callbacks.models import PublishAction, PublishNotify
from ...callbacks.signing import signed_headers
from ...errors import redact_url
from ..protocol import publish_notify_query
from .state import OriginState

__all__ = ["announce", "deliver", "publish_events", "publish_sessions", "run_notifier"]

log = logging.getLogger(__name__)


def publish_sessions(gaps: tuple[tuple[float, float], ...]) -> list[tuple[float, float | None]]:
    """The publishing sessions between gaps, in seconds after the stream's start (end None: open)."""
    sessions: list[tuple[float, float | None]] = []
    at = 0.0
    for gs, ge in sorted(gaps):
        if ge <= at:
            continue
        if gs > at:
            sessions.append((at, gs))
        at = max(at, ge)
    sessions.append((at, None))
    return sessions


def publish_events(t0: float, gaps: tuple[tuple[float, float], ...], after: float,
                   until: float) -> list[tuple[float, PublishAction]]:
    """The publish / publish_done moments in ``(after, until]``, unix seconds, in order."""
    out: list[tuple[float, PublishAction]] = []
    for a, b in publish_sessions(gaps):
        out.append((t0 + a, "publish"))
        if b is not None:
            out.append((t0 + b, "publish_done"))
    return [(t, action) for t, action in out if after < t <= until]


async def run_notifier(origin: OriginState) -> None:
    """Announce sessions as the clock reaches their starts and ends."""
    cfg, s = origin.cfg, origin.stream
    await origin.wait_bound()
    timeout = aiohttp.ClientTimeout(total=cfg.notify_timeout)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        after = cfg.clock()
        past = publish_events(s.t0, s.gaps, -math.inf, after)
        if past and past[-1][1] == "publish":
            # The session under way began before anyone could be told: tell now, with
            # its real start time, as the service did then.
            await announce(origin, http, *past[-1])
        while True:
            upcoming = publish_events(s.t0, s.gaps, after, math.inf)
            if not upcoming:
                return
            at, action = upcoming[0]
            while (wait := at - cfg.clock()) > 0:
                await asyncio.sleep(min(wait, 1.0))
            await announce(origin, http, at, action)
            after = at


async def announce(origin: OriginState, http: aiohttp.ClientSession, at: float,
                   action: PublishAction) -> None:
    """Send the ``action`` at unix time ``at`` for every announced stream, at once."""
    names = origin.cfg.notify_streams or origin.cfg.streams or ("live/cam1",)
    assert origin.domain is not None
    notes = [PublishNotify(action, origin.domain, app, stream, int(at), "127.0.0.1",
                           "timeshift-sim-origin")
             for app, _, stream in (name.partition("/") for name in names)]
    await asyncio.gather(*(deliver(origin, http, note) for note in notes))


async def deliver(origin: OriginState, http: aiohttp.ClientSession, note: PublishNotify) -> None:
    """Deliver one callback ``notify_deliveries`` times, each retried as the service does."""
    cfg = origin.cfg
    assert cfg.notify_url is not None
    url = URL(cfg.notify_url).extend_query(publish_notify_query(note))
    for n in range(cfg.notify_deliveries):
        if n:
            await asyncio.sleep(cfg.notify_retry_interval)
        for attempt in range(cfg.notify_retries + 1):
            if attempt:
                await asyncio.sleep(cfg.notify_retry_interval)
            # api (issue 16): signed at each send, over the ingest domain (SPEC §5a).
            headers = (signed_headers(note.domain, cfg.notify_auth_key, cfg.clock())
                       if cfg.notify_auth_key else None)
            try:
                async with http.get(url, headers=headers) as resp:
                    await resp.read()
                    if resp.status == 200:
                        origin.count(f"notify_{note.action}")
                        break
                    why = f"HTTP {resp.status}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                why = type(exc).__name__
            log.info("%s %s/%s: %s (attempt %d)", note.action, note.app, note.stream, why,
                     attempt + 1)
        else:
            origin.count("notify_failed")
            log.warning("%s %s/%s: not delivered to %s", note.action, note.app, note.stream,
                        redact_url(str(url)))
