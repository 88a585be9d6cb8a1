"""One window pipeline, many sinks: ``run_window(source, options, sink)``.

Every feature that turns "stream X from T1 to T2" into something (a clip, an archive)
runs the same steps, so they live here once::

    source.plan(session)          the window's selection: segments and gaps (timeline, playlist)
      │   gaps and not allowed → gap report, GapError (exit 3)
    sink.start(selection)         the sink prepares (keys to upload, nothing to write yet)
    fetch_segments(...)           parallel, retried, hedged, cached on disk, in order
      ├─ Fetched → sink.write(piece)      (``follows_gap`` set after a missing segment)
      └─ Missing → gap accounting         (a gap is never silent)
    sink.finish(final) → report   final = the selection with the missing segments as gaps
    cache.discard(...)            unless ``keep_cache``
    on any failure: sink.abort()  (nothing half-written is left under the output's name)

The loop never asks what kind of output it feeds: a :class:`Sink` is chosen once by the
feature (the clip's per-mode plan, the archiver's upload sink) and gets every fetched
segment the same way (streamlink's segmented worker/writer and its ``Output`` classes
are the model).

Extension points (write new behaviour here, not as branches in the loop):

- **Sources** (:class:`WindowSource`). ``plan`` returns the selection known now;
  ``segments`` yields the segments to fetch, in order; ``settle`` gives the final
  selection once ``segments`` is exhausted. :class:`PlaylistSource` is the VOD case
  (the playlist lists everything: ``segments`` is the selection's, ``settle`` returns
  it). A *live-edge* source follows the live playlist: ``segments`` yields what is
  published, polls, and yields more until the segment holding the window's end is
  out; ``settle`` re-selects the window over what was published. The fetcher starts
  requests as segments arrive (``segments`` is an async iterator), so the download
  overlaps the wait.
- **Init sections** (fMP4, ``#EXT-X-MAP``): a source or the fetcher attaches the
  section to the :class:`~timeshift.pieces.Fetched` that first needs it
  (``Fetched.init``, set again when the section changes); sinks that care (a
  remuxer, an uploader) read it from there; the loop passes it through untouched.
- **Sinks** (:class:`Sink`): ``start``, ``write`` one fetched segment, ``finish`` →
  the sink's own report, ``abort``. The clip's live in :mod:`timeshift.sinks` (TS
  file, ffmpeg remux, exact cut), the archive's upload sink in
  :mod:`timeshift.archive.archiver`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import aiohttp

from .auth import Signer
from .errors import GapError, TimeshiftError
from .fetch import (
    FetchOptions,
    FetchStats,
    SegmentCache,
    default_cache_dir,
    fetch_segments,
    make_client_session,
)
from .pieces import Fetched, Missing
from .plan import Source, plan_window
from .playlist import Segment, Selection

__all__ = [
    "PlaylistSource",
    "Sink",
    "WindowEvent",
    "WindowOptions",
    "WindowRun",
    "WindowSource",
    "run_window",
]

log = logging.getLogger(__name__)

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class WindowSource(Protocol):
    """Where a window's segments come from (see the module docstring for live sources)."""

    async def plan(self, session: aiohttp.ClientSession) -> Selection:
        """The window's selection as known now: segments and gaps."""
        ...

    def segments(self, session: aiohttp.ClientSession,
                 selection: Selection) -> AsyncIterator[Segment]:
        """The segments to fetch, in order."""
        ...

    def settle(self, selection: Selection) -> Selection:
        """The selection once :meth:`segments` is exhausted (before missing segments)."""
        ...

    async def segment_after(self, session: aiohttp.ClientSession, last: Segment,
                            planned: Segment | None) -> Segment | None:
        """The segment after the window's ``last`` (an open-GOP end edge's), None when
        there is none to have; ``planned`` is the one the plan listed there, if any."""
        ...


class Sink(Protocol[R_co]):
    """One kind of output: gets the window's segments in order, makes a report."""

    async def start(self, selection: Selection) -> None:
        """Prepare for ``selection`` (called once, before any segment)."""
        ...

    async def write(self, piece: Fetched) -> None:
        """Take one fetched segment (in order; missing ones are not written)."""
        ...

    async def finish(self, final: Selection) -> R_co:
        """Close the output; ``final`` is the selection with missing segments as gaps."""
        ...

    async def abort(self) -> None:
        """Undo what :meth:`start` and :meth:`write` did (the run failed or was cancelled)."""
        ...


@dataclass(frozen=True)
class PlaylistSource:
    """A window of a VOD playlist (a time-shift window, or any playlist with PDT): the
    playlist lists every segment there is, so the plan is the whole story."""

    source: Source
    signer: Signer | None = None
    allowed_hosts: tuple[str, ...] = ()
    fetch: FetchOptions | None = None  # its playlist limits and retries (None: the defaults)

    async def plan(self, session: aiohttp.ClientSession) -> Selection:
        plan = await plan_window(session, self.source, signer=self.signer,
                                 allowed_hosts=self.allowed_hosts, fetch=self.fetch)
        return plan.selection

    async def segments(self, session: aiohttp.ClientSession,
                       selection: Selection) -> AsyncIterator[Segment]:
        for seg in selection.segments:
            yield seg

    def settle(self, selection: Selection) -> Selection:
        return selection

    async def segment_after(self, session: aiohttp.ClientSession, last: Segment,
                            planned: Segment | None) -> Segment | None:
        return planned  # the playlist lists all there is


@dataclass(frozen=True)
class WindowOptions:
    """How a window is run. Passed explicitly; nothing is read from global state.

    ``allow_gaps`` off: a gap in the plan fails the run before anything is fetched, a
    missing segment fails it at the end (later segments are still fetched into the
    cache, for a re-run, but not written). ``gap_report`` is called with the selection
    before such a :class:`GapError` is raised and returns the report's path.
    """

    fetch: FetchOptions = field(default_factory=FetchOptions)
    cache_dir: Path | None = None
    keep_cache: bool = False
    allow_gaps: bool = True
    gap_report: Callable[[Selection], Path] | None = None
    #: Asked with the final selection once the window's segments are written: True
    #: fetches the selection's ``lookahead`` segment and writes it last, marked
    #: ``Fetched.lookahead`` (a frame-exact cut's open-GOP end edge, see :class:`_Lookahead`).
    lookahead: Callable[[Selection], bool] | None = None


@dataclass(frozen=True)
class WindowEvent:
    """Progress: ``kind`` is plan, cached, done, retry, hedge, gap or finish."""

    kind: str
    done: int  # segments fetched, from the cache or missing
    total: int
    stats: FetchStats
    elapsed: float
    detail: str = ""


@dataclass(frozen=True)
class WindowRun(Generic[R]):
    """What a run did: the selection asked for, the final one (missing segments as gaps),
    the fetch's counts, and the sink's own report."""

    selection: Selection
    final: Selection
    stats: FetchStats
    report: R
    elapsed: float


class _Gaps:
    """The run's gap accounting: missing segments, and whether writing has stopped."""

    def __init__(self, allow: bool) -> None:
        self.allow = allow
        self.refused = False  # a gap that was not allowed: write nothing more
        self.previous_missing = False

    def missing(self) -> None:
        self.previous_missing = True
        self.refused = self.refused or not self.allow

    def mark(self, piece: Fetched) -> Fetched:
        follows, self.previous_missing = self.previous_missing, False
        return replace(piece, follows_gap=True) if follows else piece


class _Lookahead:
    """The segment after the window (``Selection.lookahead``), for a sink that cuts its
    end edge: with open GOPs the last frames before a segment boundary can travel in the
    next segment. Fetched only when the sink asks for it (``WindowOptions.lookahead``),
    after the window's own segments. It is no part of the window: not counted in the
    run's stats, and when it is missing or its fetch fails it is left out (logged),
    never a gap.
    """

    def __init__(self, session: aiohttp.ClientSession, source: WindowSource,
                 segment: Segment | None, cache: SegmentCache, options: WindowOptions) -> None:
        self.session, self.cache, self.fetch = session, cache, options.fetch
        self.source, self.segment, self.wanted = source, segment, options.lookahead
        self.fetched = False

    async def piece(self, final: Selection, index: int) -> Fetched | None:
        """The lookahead, fetched, if the sink wants it and it continues ``final``'s last
        segment (not when the window was cut short or its last segment is missing). A
        live-edge source may wait for it to be published."""
        last = final.segments[-1] if final.segments else None
        # The sink is asked even when there is no such segment, so it can say what is lost.
        if self.wanted is None or last is None or not self.wanted(final):
            return None
        self.segment = await self.source.segment_after(self.session, last, self.segment)
        seg = self.segment
        # The next one in number and in time (a renumbered or re-dated listing is no
        # continuation to decode across).
        if seg is None or last.sequence + 1 != seg.sequence or abs(seg.start - last.end) > 1.0:
            return None
        self.fetched = True
        log.info("fetching the segment after the window (sequence %d) for the cut's end edge",
                 seg.sequence)
        pieces = fetch_segments(self.session, [seg], self.cache, self.fetch, FetchStats())
        try:
            async with contextlib.aclosing(pieces):
                async for piece in pieces:
                    if isinstance(piece, Fetched):
                        return replace(piece, index=index, lookahead=True)
        except TimeshiftError as exc:
            log.warning("the segment after the window could not be fetched (the end edge "
                        "is cut without it): %s", exc)
        return None

    def discard(self) -> tuple[Segment, ...]:
        return (self.segment,) if self.fetched and self.segment is not None else ()


def _refuse(sel: Selection, options: WindowOptions) -> GapError:
    report = options.gap_report(sel) if options.gap_report is not None else None
    return GapError([(g.start, g.end) for g in sel.gaps],
                    report=None if report is None else str(report))


async def run_window(source: WindowSource, options: WindowOptions, sink: Sink[R],
                     progress: Callable[[WindowEvent], None] | None = None) -> WindowRun[R]:
    """Plan the window, fetch its segments in order into ``sink``, account for gaps.

    Raises:
        GapError: the window has gaps and ``options.allow_gaps`` is off (the report is
            written first), or no segment has data at all.
        AuthError, RemoteError, TransportError, ForeignHostError: planning or fetching failed.
        Whatever ``sink`` raises (it is aborted first).
    """
    began = time.monotonic()
    stats = FetchStats()
    total = 0

    def emit(kind: str, detail: str = "") -> None:
        if progress is not None:
            done = stats.segments + stats.cached + len(stats.missing)
            progress(WindowEvent(kind, done, total, stats, time.monotonic() - began, detail))

    async with make_client_session(options.fetch) as session:
        sel = await source.plan(session)
        total = len(sel.segments)
        emit("plan", f"{total} segments, {len(sel.gaps)} gap(s)")
        if sel.gaps and not options.allow_gaps:
            raise _refuse(sel, options)
        # No segment yet is no error by itself: a live-edge source yields segments still to
        # be published. A window that gets none is refused below ("not written").
        cache = SegmentCache(options.cache_dir or default_cache_dir())
        gaps = _Gaps(options.allow_gaps)
        ahead = _Lookahead(session, source, sel.lookahead, cache, options)
        written = 0
        try:
            await sink.start(sel)
            pieces = fetch_segments(session, source.segments(session, sel), cache,
                                    options.fetch, stats, lambda ev: emit(ev.kind, ev.detail))
            async with contextlib.aclosing(pieces):
                async for piece in pieces:
                    if isinstance(piece, Missing):
                        gaps.missing()
                    elif not gaps.refused:  # after a refused gap: into the cache only
                        await sink.write(gaps.mark(piece))
                        written += 1
            final = source.settle(sel).with_missing(stats.missing)
            # (A live-edge source may settle with a gap the plan did not have: the stream
            # stopped before the window's end.)
            if gaps.refused or (final.gaps and not options.allow_gaps):
                raise _refuse(final, options)
            if not written:  # every listed segment was gone
                raise GapError([(g.start, g.end) for g in final.gaps] or [(sel.start, sel.end)])
            # Not after a window whose last segment is missing: its end is in a gap.
            extra = None if gaps.previous_missing else await ahead.piece(final, len(sel.segments))
            if extra is not None:
                await sink.write(extra)
            emit("finish", "finishing the output")
            report = await sink.finish(final)
        except BaseException:
            await sink.abort()
            raise
    if not options.keep_cache:
        cache.discard(final.segments + tuple(stats.missing) + ahead.discard())
    return WindowRun(sel, final, stats, report, time.monotonic() - began)

