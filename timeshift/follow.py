"""Following the live edge: a window source that yields segments as the stream publishes them.

The decisions (what is published, what is still pending, when to ask again, when to give
up) are :mod:`timeshift.edge`'s; this module asks. :class:`LiveEdgeSource` is a
:class:`~timeshift.pipeline.WindowSource`: ``plan`` is the window's first plan (a window
still wholly in the future is an empty plan to follow, not a gap), ``segments`` yields
the plan's segments and then, while the window reaches past what is published, each
batch that appears when the playlist is asked again (the same request: a VOD window
re-asked, re-signed; or a live playlist reloaded) at the target-duration cadence; the
fetcher starts their requests as they come, so downloads overlap the wait. ``settle``
is the window as recorded (:func:`timeshift.edge.final_selection`).

Stopping early: ``stop`` (an :class:`asyncio.Event`, set by the CLI on the first Ctrl-C)
ends the window after the segment being handed over; the final selection then ends where
the recording does, and the report says the window was cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from . import edge
from .auth import Signer
from .errors import AuthError, GapError, RemoteError, TransportError
from .fetch import FetchOptions
from .plan import Source, WindowPlan, plan_window
from .playlist import Playlist, Segment, Selection
from .times import NS_PER_S, format_iso

__all__ = ["EdgeEvent", "LiveEdgeSource", "plan_edge"]

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
                    allowed_hosts: tuple[str, ...] = (), fetch: FetchOptions | None = None,
                    clock: Callable[[], float] = time.time) -> WindowPlan:
    """:func:`timeshift.plan.plan_window`, except that a window still wholly in the future
    (the playlist lists nothing yet) is an empty plan to follow, not a gap.

    Raises:
        As :func:`~timeshift.plan.plan_window`.
    """
    try:
        return await plan_window(session, source, signer=signer, allowed_hosts=allowed_hosts,
                                 fetch=fetch)
    except GapError:
        window = source.window
        if policy is None or window is None or clock() >= policy.deadline(window[1], 0.0):
            raise
        empty = Playlist(source.playlist_url, (), False, 0.0, True)
        return WindowPlan(empty, Selection(window[0], window[1], (), ()), None)


class LiveEdgeSource:
    """A window's segments in order, following the stream past its published edge.

    Args:
        source: the window's source; its playlist is asked again while following.
        policy: how long to wait; None: never follow (only the plan's segments, as
            :class:`~timeshift.pipeline.PlaylistSource`).
        stop: set to end the window early (the first Ctrl-C).
        on_event: progress at the edge.
        refresh: makes the source again (signed now) for each ask: a signed playlist URL
            expires (the domain's TTL) long before a window hours ahead ends.
        fetch: the fetch options whose playlist limits and retries each ask follows.
    """

    def __init__(self, source: Source, policy: edge.EdgePolicy | None, *,
                 signer: Signer | None = None, allowed_hosts: tuple[str, ...] = (),
                 fetch: FetchOptions | None = None, stop: asyncio.Event | None = None,
                 on_event: Callable[[EdgeEvent], None] | None = None,
                 refresh: Callable[[], Source] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.source, self.policy, self.signer = source, policy, signer
        self.allowed_hosts, self.stop, self.refresh, self.clock = (allowed_hosts, stop,
                                                                   refresh, clock)
        self.on_event = on_event or (lambda ev: None)
        self.fetch = fetch
        self.following = False
        self.outcome: edge.Step | None = None
        self.fed: list[Segment] = []
        self.polls = 0
        self.waited = 0.0
        self.last_asked: float | None = None
        self.after: Segment | None = None  # the segment after the window, once listed
        self.static = False  # a playlist that has ended: it will list nothing more

    async def plan(self, session: aiohttp.ClientSession) -> Selection:
        """The first plan: what is published now, the time still to come taken out of its gaps."""
        self.last_asked = self.clock()
        plan = await plan_edge(session, self.source, self.policy, signer=self.signer,
                               allowed_hosts=self.allowed_hosts, fetch=self.fetch,
                               clock=self.clock)
        sel = plan.selection
        self.start, self.end = sel.start, sel.end
        pl = plan.playlist
        self.target = edge.target_or(pl.target_duration or max(
            (s.duration for s in pl.segments), default=0.0))
        listed_end = pl.segments[-1].end if pl.dated and pl.segments else None
        self.published = edge.published_end(sel.segments) or listed_end or self.start
        self.deadline = self.policy.deadline(self.end, self.target) if self.policy else self.end
        # A playlist given by URL that has ended (ENDLIST, no time-shift source) will not grow.
        static = self.static = self.source.timeline is None and pl.endlist
        now = self.clock()
        self.following = (self.policy is not None and not static and now < self.deadline
                          and edge.next_step(self.published, self.end, now,
                                             self.deadline) == "wait")
        self.initial = edge.without_pending(sel, self.published) if self.following else sel
        #: Where the stream's published part ended when the plan was made (None: the
        #: window was all there): the cut counts the time after it as still to come.
        self.pending_from = self.published if self.following else None
        return self.initial

    def _event(self, kind: str, new: int = 0) -> None:
        self.on_event(EdgeEvent(kind, self.start, self.end, self.published, self.clock(), new))

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    @property
    def arrived(self) -> int:
        """Segments that appeared while following (beyond the plan's)."""
        return max(0, len(self.fed) - len(self.initial.segments))

    async def segments(self, session: aiohttp.ClientSession,
                       selection: Selection) -> AsyncIterator[Segment]:
        """The plan's segments, then each new one as it is published, until the window is
        whole, given up on, or stopped."""
        batch: tuple[Segment, ...] = selection.segments
        if self.following:
            self._event("waiting")
        while True:
            for seg in batch:
                self.fed.append(seg)
                yield seg
                if self._stopped():
                    self.outcome = "stopped"
                    self._event("stopped")
                    return
            if not self.following:
                self.outcome = "done"
                return
            batch = await self._next_batch(session)
            if not batch:
                return

    async def _next_batch(self, session: aiohttp.ClientSession) -> tuple[Segment, ...]:
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
            await self._sleep(delay)
            self.waited += time.monotonic() - began
            if self._stopped():
                continue
            asked = time.monotonic()
            fresh = await self._poll(session)
            log.debug("live edge: poll %d took %.2f s, %d new segment(s)", self.polls,
                      time.monotonic() - asked, len(fresh))
            if fresh:
                self.published = max(self.published, fresh[-1].end)
                self._event("arrived", len(fresh))
                return fresh
            self._event("waiting")

    async def _poll(self, session: aiohttp.ClientSession) -> tuple[Segment, ...]:
        """Ask the playlist again; the new segments of the window (a failed ask is logged
        and asked again at the next poll, until the deadline)."""
        self.polls += 1
        self.last_asked = self.clock()
        try:
            # The timeline is asked again too: undated playlists are placed by it.
            source = self.refresh() if self.refresh is not None else self.source
            plan = await plan_window(session, source, signer=self.signer,
                                     allowed_hosts=self.allowed_hosts, fetch=self.fetch)
        except GapError:
            return ()  # nothing listed yet
        except AuthError:
            raise  # a refusal is not transient: asking again until the deadline would hide it
        except (RemoteError, TransportError) as exc:
            log.warning("asking the playlist again failed (will ask again): %s", exc)
            return ()
        self.after = plan.selection.lookahead or self.after
        self.static = self.static or (self.source.timeline is None and plan.playlist.endlist)
        # Before anything of the window is known, every listed segment in it is new (the
        # one holding the start begins before it).
        known_end = self.fed[-1].end if self.fed else None
        return edge.fresh_segments(known_end, plan.selection.segments, self.start, self.end)

    async def segment_after(self, session: aiohttp.ClientSession, last: Segment,
                            planned: Segment | None) -> Segment | None:
        """The segment after the window's ``last``: the plan's, or, when following is
        allowed, the one the stream publishes next, waited for until
        :func:`timeshift.edge.segment_after_deadline` (not after a stop or a give-up,
        nor for a playlist that has ended)."""
        for known in (planned, self.after):
            if known is not None and known.sequence == last.sequence + 1:
                return known
        # A window that was all published when planned waits too: its last segment may be
        # the newest, and the one after it still to come.
        if self.policy is None or self.static or self.outcome != "done":
            return planned
        deadline = edge.segment_after_deadline(max(self.published, last.end), self.target)
        log.info("waiting for the segment after the window: the end edge's last frames "
                 "travel in it")
        while not self._stopped():
            now = self.clock()
            if now >= deadline:
                break
            delay = edge.poll_delay(self.target, max(self.published, last.end), now, deadline,
                                    self.last_asked)
            began = time.monotonic()
            await self._sleep(delay)
            self.waited += time.monotonic() - began
            if self._stopped():
                break
            await self._poll(session)
            if self.after is not None and self.after.sequence == last.sequence + 1:
                return self.after
            if self.static:
                break  # the playlist ended: nothing more will be listed
        return planned

    async def _sleep(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or until a stop (the first Ctrl-C) is asked for."""
        if self.stop is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stop.wait(), delay)

    def settle(self, selection: Selection) -> Selection:
        """The window as recorded (see :func:`timeshift.edge.final_selection`); the
        pipeline adds the segments that turned out missing."""
        if not self.following and self.outcome != "stopped":
            return selection
        cut = None
        if self.outcome == "stopped":
            cut = self.fed[-1].end if self.fed else self.start
        return edge.final_selection(self.start, self.end, self.fed, self.initial.gaps, (),
                                    cut_short_at=cut)

    @property
    def cut_short(self) -> bool:
        return self.outcome == "stopped"

    def report(self) -> edge.EdgeReport:
        until = self.fed[-1].end if self.fed else None
        outcome: edge.Step | Literal["not-needed"] = self.outcome or "done"
        if not self.following and outcome != "stopped":
            outcome = "not-needed"
        return edge.EdgeReport(self.following, outcome, self.end, until, self.waited,
                               self.polls)
