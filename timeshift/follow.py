"""Following the live edge: fetch a window's segments as the stream publishes them (I/O).

The decisions (what is published, what is still pending, when to ask again, when to give
up) are :mod:`timeshift.edge`'s; this module asks and fetches. The hook into a window's
pipeline is one async generator, :meth:`EdgeFollower.segments`, yielding what
:func:`timeshift.fetch.fetch_segments` yields, ``(segment, path, bytes)`` in order: first
the segments the window's plan listed, then, while the window reaches past what is
published, each batch that appears when the playlist is asked again (the same request: a
VOD window re-asked, or a live playlist reloaded) at the target-duration cadence.

Stopping early: ``stop`` (an :class:`asyncio.Event`, set by the CLI on the first Ctrl-C)
ends the window after the segment being handed over; the final selection then ends where
the recording does, and the report says the window was cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp

from . import edge
from .auth import Signer
from .errors import AuthError, GapError, RemoteError, TransportError
from .fetch import FetchEvent, FetchOptions, FetchStats, SegmentCache, fetch_segments
from .plan import Source, WindowPlan, plan_window
from .playlist import Playlist, Segment, Selection
from .times import NS_PER_S, format_iso

__all__ = ["EdgeEvent", "EdgeFollower", "plan_edge"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EdgeEvent:
    """Progress at the edge: ``kind`` is waiting, arrived, done, give-up or stopped."""

    kind: str
    start: float
    end: float
    recorded_until: float
    now: float
    new_segments: int = 0

    @property
    def recorded(self) -> float:
        return max(0.0, min(self.recorded_until, self.end) - self.start)

    def detail(self) -> str:
        done = f"recorded {self.recorded:.1f} of {self.end - self.start:.1f} s " \
               f"(to {format_iso(round(min(self.recorded_until, self.end) * NS_PER_S))})"
        if self.kind in ("waiting", "arrived") and self.recorded_until < self.end:
            left = self.end - self.now
            when = f"the end is in {left:.1f} s" if left > 0 else f"the end was {-left:.1f} s ago"
            return f"waiting for the live edge: {done}; {when}"
        if self.kind == "stopped":
            return f"window cut short: {done}"
        if self.kind == "give-up":
            return f"the stream stopped publishing: {done}; the rest is a gap"
        return done

    def to_dict(self) -> dict[str, Any]:
        return {"edge": self.kind, "recorded": round(self.recorded, 3),
                "window": round(self.end - self.start, 3),
                "recorded_until_iso": format_iso(round(
                    min(self.recorded_until, self.end) * NS_PER_S)),
                "end_in": round(self.end - self.now, 3)}


async def plan_edge(session: aiohttp.ClientSession, source: Source,
                    policy: edge.EdgePolicy | None, *, signer: Signer | None = None,
                    allowed_hosts: tuple[str, ...] = (),
                    clock: Callable[[], float] = time.time) -> WindowPlan:
    """:func:`timeshift.plan.plan_window`, except that a window still wholly in the future
    (the playlist lists nothing yet) is an empty plan to follow, not a gap.

    Raises:
        As :func:`~timeshift.plan.plan_window`.
    """
    try:
        return await plan_window(session, source, signer=signer, allowed_hosts=allowed_hosts)
    except GapError:
        window = source.window
        if policy is None or window is None or clock() >= policy.deadline(window[1], 0.0):
            raise
        empty = Playlist(source.playlist_url, (), False, 0.0, True)
        return WindowPlan(empty, Selection(window[0], window[1], (), ()), None)


class EdgeFollower:
    """Hands over a window's segments in order, following the stream past its published edge.

    Args:
        session: the HTTP session the plan was made with.
        source: the window's source; its playlist is asked again while following.
        plan: the window's first plan.
        policy: how long to wait; None: never follow (a past window, or an archive not
            asked to wait), only hand over the plan's segments.
        stop: set to end the window early (the first Ctrl-C).
        on_event: progress at the edge.
        plan_asked: when (wall clock) the plan's playlist was asked for.
        refresh: makes the source again (signed now) for each ask: a signed playlist URL
            expires (the domain's TTL) long before a window hours ahead ends.
    """

    def __init__(self, session: aiohttp.ClientSession, source: Source, plan: WindowPlan,
                 policy: edge.EdgePolicy | None, *, signer: Signer | None = None,
                 allowed_hosts: tuple[str, ...] = (), stop: asyncio.Event | None = None,
                 on_event: Callable[[EdgeEvent], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 plan_asked: float | None = None,
                 refresh: Callable[[], Source] | None = None) -> None:
        self.session, self.source, self.signer = session, source, signer
        self.refresh = refresh
        self.allowed_hosts, self.stop, self.clock = allowed_hosts, stop, clock
        self.on_event = on_event or (lambda ev: None)
        sel = plan.selection
        self.start, self.end = sel.start, sel.end
        pl = plan.playlist
        self.target = edge.target_or(pl.target_duration or max(
            (s.duration for s in pl.segments), default=0.0))
        listed_end = pl.segments[-1].end if pl.dated and pl.segments else None
        published = edge.published_end(sel.segments) or listed_end or self.start
        self.published = published
        self.deadline = policy.deadline(self.end, self.target) if policy else self.end
        # A playlist given by URL that has ended (ENDLIST, no time-shift source) will not grow.
        static = source.timeline is None and pl.endlist
        self.following = (policy is not None and not static and clock() < self.deadline
                          and edge.next_step(published, self.end, clock(), self.deadline) == "wait")
        self.initial = edge.without_pending(sel, published) if self.following else sel
        self.outcome: edge.Step | None = None
        self.fed: list[Segment] = []
        self.polls = 0
        self.last_asked: float | None = plan_asked
        self.waited = 0.0

    def _event(self, kind: str, new: int = 0) -> None:
        self.on_event(EdgeEvent(kind, self.start, self.end, self.published, self.clock(), new))

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    async def segments(self, cache: SegmentCache, opts: FetchOptions, stats: FetchStats,
                       on_fetch: Callable[[FetchEvent], None] = lambda e: None,
                       ) -> AsyncGenerator[tuple[Segment, Path | None, bytes | None], None]:
        """``(segment, path, bytes)`` in order, as :func:`~timeshift.fetch.fetch_segments`
        yields them, until the window is whole, given up on, or stopped."""
        batch = self.initial.segments
        if self.following:
            self._event("waiting")
        while True:
            fetched = fetch_segments(self.session, batch, cache, opts, stats, on_fetch)
            async with contextlib.aclosing(fetched):
                async for item in fetched:
                    self.fed.append(item[0])
                    yield item
                    if self._stopped():
                        self.outcome = "stopped"
                        self._event("stopped")
                        return
            if not self.following:
                self.outcome = "done"
                return
            batch = await self._next_batch()
            if not batch:
                return

    async def _next_batch(self) -> tuple[Segment, ...]:
        """Wait for new segments of the window; () once done, given up on, or stopped."""
        while True:
            now = self.clock()
            step = edge.next_step(self.published, self.end, now, self.deadline,
                                  stopped=self._stopped())
            if step != "wait":
                self.outcome = step
                self._event(step)
                return ()
            delay = edge.poll_delay(self.target, self.published, now, self.deadline,
                                    self.last_asked)
            log.debug("live edge: published to %.3f, end %.3f, asking again in %.2f s",
                      self.published, self.end, delay)
            began = time.monotonic()
            if self.stop is not None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
            else:
                await asyncio.sleep(delay)
            self.waited += time.monotonic() - began
            if self._stopped():
                continue
            asked = time.monotonic()
            fresh = await self._poll()
            log.debug("live edge: poll %d took %.2f s, %d new segment(s)", self.polls,
                      time.monotonic() - asked, len(fresh))
            if fresh:
                self.published = max(self.published, fresh[-1].end)
                self._event("arrived", len(fresh))
                return fresh
            self._event("waiting")

    async def _poll(self) -> tuple[Segment, ...]:
        """Ask the playlist again; the new segments of the window (a failed ask is logged
        and asked again at the next poll, until the deadline)."""
        self.polls += 1
        self.last_asked = self.clock()
        try:
            # The timeline is asked again too: undated playlists are placed by it.
            source = self.refresh() if self.refresh is not None else self.source
            plan = await plan_window(self.session, source, signer=self.signer,
                                     allowed_hosts=self.allowed_hosts)
        except GapError:
            return ()  # nothing listed yet
        except AuthError:
            raise  # a refusal is not transient: asking again until the deadline would hide it
        except (RemoteError, TransportError) as exc:
            log.warning("asking the playlist again failed (will ask again): %s", exc)
            return ()
        # Before anything of the window is known, every listed segment in it is new (the
        # one holding the start begins before it).
        known_end = self.fed[-1].end if self.fed else None
        return edge.fresh_segments(known_end, plan.selection.segments, self.start, self.end)

    def final(self, missing: list[Segment]) -> Selection:
        """The window as recorded (see :func:`timeshift.edge.final_selection`)."""
        if not self.following and self.outcome != "stopped":
            return self.initial.with_missing(missing)
        cut = self.fed[-1].end if self.outcome == "stopped" and self.fed else None
        if self.outcome == "stopped" and not self.fed:
            cut = self.start
        return edge.final_selection(self.start, self.end, self.fed, self.initial.gaps, missing,
                                    cut_short_at=cut)

    def report(self) -> edge.EdgeReport:
        until = self.fed[-1].end if self.fed else None
        outcome: edge.Step | Literal["not-needed"] = self.outcome or "done"
        if not self.following and outcome != "stopped":
            outcome = "not-needed"
        return edge.EdgeReport(self.following, outcome, self.end, until, self.waited,
                               self.polls)
