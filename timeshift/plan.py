"""From "stream X, from T1 to T2" to the segments that cover it and the gaps in it.

Shared by the clip and the archiver: resolve the source (a time-shift play domain or
URL, or any HLS playlist with PROGRAM-DATE-TIME), fetch the VOD playlist while the
timeline is asked in parallel, place every segment in wall-clock time, select the
window, and refuse segment hosts other than the playlist's own.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from .auth import Signer
from .errors import AuthError, GapError, TimelineError, TransportError, UsageError
from .fetch import FetchOptions, fetch_document
from .netpolicy import HostPolicy
from .playlist import (
    LOOKAHEAD_SECONDS,
    Playlist,
    Segment,
    Selection,
    assign_wall_clock,
    check_hosts,
    lookahead_segment,
    parse_playlist,
    select_window,
)
from .timeline import Span, Timeline, find_gaps, query_timeline
from .times import NS_PER_S
from .urls import Mode, TimeshiftURL, parse_url
from .window import Window

__all__ = ["Source", "WindowPlan", "plan_window", "resolve_source", "sign_segments"]

log = logging.getLogger(__name__)

# The timeline is asked for a little more than the window so the first segment can be anchored.
_TIMELINE_MARGIN = 30


@dataclass(frozen=True)
class Source:
    """Where the window's playlist is, the window (unix seconds) and how to ask the timeline."""

    playlist_url: str
    window: tuple[float, float] | None
    timeline: Callable[[], Timeline] | None
    from_url: bool = False


@dataclass(frozen=True)
class WindowPlan:
    """The playlist of a window, its selection (segments and gaps) and the timeline, if any."""

    playlist: Playlist
    selection: Selection
    timeline: Timeline | None


def resolve_source(url: str | None, domain: str | None, app: str | None, stream: str | None,
                   start: int | None, end: int | None, scheme: str = "https",
                   signer: Signer | None = None, lookahead: bool = False) -> Source:
    """Turn the user's description of a window into a playlist URL (signed) and a timeline query.

    lhs_* values carry whole seconds (in the default unit), so the URL would truncate a
    start or end inside a second: the playlist is asked for the whole seconds around
    the window, and the cut itself uses the exact times. ``lookahead``: the playlist is
    asked for :data:`~timeshift.playlist.LOOKAHEAD_SECONDS` more, so that it lists the
    segment after the window (``Selection.lookahead``, for an open-GOP end edge).

    Raises:
        UsageError: incomplete or contradictory arguments.
    """
    given = Window(start, end) if start is not None and end is not None else None
    if url is None:
        if not (domain and app and stream):
            raise UsageError("give --url, or --domain, --app and --stream", field="domain")
        if given is None:
            raise UsageError("give --start and --end", field="start")
        window = given
        whole = _asked(window, lookahead)
        ts_url = TimeshiftURL.vod(domain, app, stream, whole.start, whole.end, scheme=scheme)
    else:
        if urlsplit(url).scheme not in ("http", "https"):
            raise UsageError(f"{url!r} is not an http(s) URL", field="url")
        try:
            ts_url = parse_url(url)
        except UsageError:
            # Not a time-shift URL: any HLS media playlist, cut by PROGRAM-DATE-TIME.
            return Source(url, given.seconds if given else None, None, from_url=True)
        s = start if start is not None else ts_url.start
        e = end if end is not None else ts_url.end
        if s is None or e is None:
            raise UsageError("this time-shift URL has no window; give --start and --end",
                             field="start")
        window = Window(s, e)
        whole = _asked(window, lookahead)
        ts_url = ts_url.copy_with(mode=Mode.VOD, start=whole.start, end=whole.end, offset=None)
    playlist = str(ts_url)
    if signer is not None:
        playlist = signer.sign(playlist)
    lo, hi = window.widened(_TIMELINE_MARGIN).unix

    def timeline() -> Timeline:
        return query_timeline(ts_url.domain, ts_url.app, ts_url.stream, lo, hi,
                              scheme=ts_url.scheme, marker=ts_url.marker, signer=signer)

    return Source(playlist, window.seconds, timeline, from_url=url is not None)


def _asked(window: Window, lookahead: bool) -> Window:
    """The whole seconds the playlist is asked for (see :func:`resolve_source`)."""
    whole = window.whole_seconds()
    if not lookahead:
        return whole
    return whole.copy_with(end=whole.end + math.ceil(LOOKAHEAD_SECONDS) * NS_PER_S)


def sign_segments(segments: tuple[Segment, ...], signer: Signer | None) -> tuple[Segment, ...]:
    """Sign segment and key URIs that the playlist left unsigned (query-signing types only)."""
    if signer is None or signer.type == "B" or (signer.type == "C" and signer.c_form == "path"):
        return segments
    marker = "auth_key=" if signer.type == "A" else f"{signer.names[0]}="

    def sign(uri: str) -> str:
        return uri if marker in uri else signer.sign(uri)

    # A key shared by many segments is signed once, so it stays one key to fetch.
    keys = {s.key: s.key.copy_with(uri=sign(s.key.uri)) for s in segments if s.key is not None}
    return tuple(s.copy_with(uri=sign(s.uri), key=keys[s.key] if s.key is not None else None)
                 for s in segments)


async def plan_window(session: aiohttp.ClientSession, source: Source, *,
                      signer: Signer | None = None,
                      allowed_hosts: tuple[str, ...] = (),
                      fetch: FetchOptions | None = None) -> WindowPlan:
    """Fetch the playlist (and the timeline, in parallel) and select the window.

    Raises:
        GapError: the playlist lists no segment at all.
        UsageError: a window was given for a playlist that cannot place it.
        ForeignHostError: a segment on a host other than the playlist's.
        AuthError, RemoteError, TransportError: fetching the playlist failed.
    """
    timeline: Timeline | None = None
    asked = asyncio.ensure_future(asyncio.to_thread(source.timeline)) if source.timeline else None
    try:
        # Redirects of the playlist itself are held to the job's hosts (issue 11).
        opts = fetch or FetchOptions(retries=4)
        _, text = await fetch_document(
            session, source.playlist_url, opts=opts,
            hosts=HostPolicy.for_origin(source.playlist_url, allowed_hosts,
                                        max_redirects=opts.max_redirects))
    except BaseException:
        if asked is not None:  # reap it: its own failure would only repeat the playlist's
            await asyncio.gather(asked, return_exceptions=True)
        raise
    if asked is not None:
        try:
            timeline = await asked
        except (AuthError, TimelineError, TransportError) as exc:
            # The playlist still has what is needed (PDT); the timeline only cross-checks.
            log.warning("timeline query failed, going on without it: %s", exc)
    pl = parse_playlist(text, source.playlist_url,
                        limits=(fetch or FetchOptions()).playlist_limits())
    if not pl.segments:
        raise GapError([source.window] if source.window else [])
    window = source.window or (pl.segments[0].start, pl.segments[-1].end)
    if not pl.dated and source.timeline is None and source.from_url and source.window:
        raise UsageError("this playlist has no PROGRAM-DATE-TIME, so --start/--end cannot "
                         "be placed in it; leave them out to take the whole playlist",
                         field="start")
    entries = timeline.entries if timeline else ()
    segs = assign_wall_clock(pl.segments, window[0], entries)
    if not pl.dated and source.window is None:
        window = (segs[0].start, segs[-1].end)
    timeline_gaps: tuple[Span, ...] = ()
    if timeline is not None:
        win = Span(int(window[0]), int(-(-window[1] // 1)))
        timeline_gaps = find_gaps(timeline.entries, win)
    sel = select_window(segs, window[0], window[1], timeline_gaps)
    ahead = lookahead_segment(segs, sel)
    check_hosts((*sel.segments, *([ahead] if ahead else [])), source.playlist_url, allowed_hosts)
    signed = sign_segments((*sel.segments, *([ahead] if ahead else [])), signer)
    sel = Selection(sel.start, sel.end, signed[:len(sel.segments)], sel.gaps,
                    lookahead=signed[-1] if ahead else None)
    return WindowPlan(pl, sel, timeline)
