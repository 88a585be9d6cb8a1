"""Cut a window of a past live stream into an MP4 (or TS): the clip feature.

The window runs through the shared pipeline (:func:`timeshift.pipeline.run_window`:
plan, parallel fetch into a resumable cache, segments in order, gap accounting) into a
:class:`ClipSink`, which on the first segment with data plans the cut and opens the one
media sink (:mod:`timeshift.sinks`) the plan calls for:

* :class:`ExactPlan` → the frame-exact cutter (:mod:`timeshift.smartcut`, the default for
  MP4): whole GOPs copied, the partial GOPs at the edges re-encoded, audio trimmed;
* :class:`KeyframePlan` → ffmpeg's stdin (:mod:`timeshift.remux`, ``cut="keyframe"``):
  stream copy from the keyframe at or before ``start``;
* :class:`SegmentsPlan` → a TS file of whole segments.

Then verify: the written file is probed (duration, streams, first and last timestamps);
one that misses the window by more than a frame is an error, not a clip. The output
appears only when complete and verified (temporary name, then rename); gaps are never
silent: without ``allow_gaps`` they fail the clip after a gap report is written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

from .auth import Signer
from .cmaf import CmafSource
from .cutplan import CutMode, CutWindow, end_needs_next_segment, ticks_since
from .edge import EdgePolicy, check_horizon
from .errors import UsageError, VerificationError
from .fetch import FetchOptions, SegmentCache, default_cache_dir
from .follow import EdgeEvent, LiveEdgeSource
from .mpegts import (
    PTS_CLOCK,
    decode_timestamp,
    first_timestamps,
    keyframe_timestamps,
    streams,
    video_timestamps,
)
from .mpegts import start_timestamp as ts_start
from .partfiles import check_output, clean_stale_parts, new_part, write_whole
from .pieces import Fetched
from .pipeline import WindowEvent, WindowOptions, WindowRun, run_window
from .plan import resolve_source
from .playlist import Segment, Selection
from .probe import probe_media
from .remux import MuxPlan
from .sinks import ExactCutSink, MediaSink, RemuxSink, TsFileSink
from .smartcut import CutStats, exact_cut_supported
from .times import now_ns
from .window import iso_seconds

__all__ = ["CUT_MODES", "ClipProgress", "ClipResult", "aclip", "clip", "probe_media"]

#: The ``cut`` values :func:`aclip` takes (see :data:`timeshift.cutplan.CutMode`).
CUT_MODES: tuple[CutMode, ...] = ("exact", "keyframe", "reencode")

log = logging.getLogger(__name__)

#: Clips follow a window that reaches past the published edge, by default (issue 14).
DEFAULT_EDGE = EdgePolicy()


@dataclass(frozen=True)
class ClipProgress:
    """A progress event: ``kind`` is plan, cached, done, retry, hedge, gap, edge, mux or
    finished. ``edge`` events (the window reaches past what is published) carry ``live``:
    how much is recorded, to when, and how far the end is."""

    kind: str
    segments_done: int
    segments_total: int
    bytes: int
    retries: int
    elapsed: float
    detail: str = ""
    live: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "segments_done": self.segments_done,
                "segments_total": self.segments_total, "bytes": self.bytes,
                "retries": self.retries, "elapsed": round(self.elapsed, 3),
                **({"detail": self.detail} if self.detail else {}),
                **({"live": self.live} if self.live else {})}


@dataclass(frozen=True)
class ClipResult:
    """What was written and what it holds."""

    output: Path
    requested: tuple[float, float]
    covered: tuple[float, float] | None
    duration: float | None
    segments: int
    bytes: int
    retries: int
    gaps: tuple[dict[str, object], ...]
    elapsed: float
    cached: int = 0
    hedges: int = 0
    gap_report: Path | None = None
    media: dict[str, Any] = field(default_factory=dict)
    #: How the clip was cut (``exact``, ``keyframe``, ``reencode``; ``segments`` for TS)
    #: and what the cut did (GOPs copied and re-encoded, notes such as a fallback).
    cut: dict[str, Any] = field(default_factory=dict)
    #: The live edge: whether the window was followed past what was published, how it
    #: ended (done, give-up, stopped: cut short by the user), and to when it recorded.
    live: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def span(pair: tuple[float, float] | None) -> dict[str, Any] | None:
            if pair is None:
                return None
            return {"start": round(pair[0], 3), "end": round(pair[1], 3),
                    "start_iso": iso_seconds(pair[0]),
                    "end_iso": iso_seconds(pair[1])}

        return {
            "output": str(self.output),
            "requested": span(self.requested),
            "covered": span(self.covered),
            "duration": None if self.duration is None else round(self.duration, 3),
            "segments": self.segments,
            "bytes": self.bytes,
            "retries": self.retries,
            "gaps": list(self.gaps),
            "elapsed": round(self.elapsed, 3),
            "cached_segments": self.cached,
            "hedged_requests": self.hedges,
            "gap_report": str(self.gap_report) if self.gap_report else None,
            "media": self.media,
            "cut": self.cut,
            "live": self.live,
        }


def _verify(media: dict[str, Any], expected: float, tolerance: float, output: Path) -> None:
    """Raise :class:`VerificationError` when the probed duration misses ``expected``."""
    probed = media.get("duration")
    if probed is None or abs(probed - expected) > tolerance + 1e-6:
        raise VerificationError(str(output), expected, probed, tolerance)


def _gap_report(path: Path, sel: Selection) -> Path:
    report = path.with_name(path.name + ".gaps.json")
    body = {
        "requested": {"start": sel.start, "end": sel.end,
                      "start_iso": iso_seconds(sel.start),
                      "end_iso": iso_seconds(sel.end)},
        "covered": None if sel.covered is None else {"start": sel.covered[0],
                                                     "end": sel.covered[1]},
        "gap_seconds": round(sel.gap_seconds, 3),
        "gaps": [g.to_dict() | {"start_iso": iso_seconds(g.start),
                                "end_iso": iso_seconds(g.end)}
                 for g in sel.gaps],
    }
    write_whole(report, (json.dumps(body, indent=2) + "\n").encode())
    return report


@dataclass(frozen=True)
class SegmentsPlan:
    """TS output: whole segments, untouched, nothing to cut or check."""

    kept_from: float  # wall-clock time of the first frame kept
    note: str = ""

    mode = "segments"
    slack = 0.0

    def expected_for(self, frame: float) -> float | None:
        return None


@dataclass(frozen=True)
class KeyframePlan:
    """Stream copy with ffmpeg from the keyframe at or before the start."""

    mux: MuxPlan  # where ffmpeg starts and how long it runs
    kept_from: float  # wall-clock time of the keyframe the clip starts on
    expected: float | None  # the duration the output must have (None: not checked)
    slack: float  # how much more than one frame the probed duration may be off
    note: str = ""

    mode = "keyframe"

    def expected_for(self, frame: float) -> float | None:
        return self.expected


@dataclass(frozen=True)
class ExactPlan:
    """The frame-exact cut (or the whole window re-encoded): ``window`` in stream ticks.

    ``grid`` is where the frame grid starts and the window (wall clock): the frames kept
    are those on screen in the window, so a start or end inside a frame widens the clip
    to that frame's edge.
    """

    window: CutWindow
    kept_from: float
    expected: float
    grid: tuple[float, float, float]
    note: str = ""

    slack = 0.0

    @property
    def mode(self) -> str:
        return self.window.mode

    def expected_for(self, frame: float) -> float | None:
        """The duration the clip must have, once the frame duration is known."""
        origin, start, end = self.grid

        def phase(t: float) -> float:
            off = (t - origin) % frame
            return 0.0 if off < 1e-6 or off > frame - 1e-6 else off

        return self.expected + phase(start) + (frame - phase(end)) % frame


CutPlan = SegmentsPlan | KeyframePlan | ExactPlan


def _plan_cut(first: bytes, seg: Segment, sel: Selection, out_format: str,
              cut: CutMode, published: float | None = None) -> CutPlan:
    """Where the cut goes: from the first segment that has data and the selection.

    Wall-clock times map onto the normalized stream from its first video frame (the
    segment's PDT, "the first sample"); gaps are closed up in the output, so the end
    counts only covered time. Time after ``published`` (the live edge; None: all is
    published) is counted as covered; :func:`_final_plan` settles it at the end.
    """
    if out_format == "ts":
        return SegmentsPlan(seg.start)
    base = ts_start(first)
    infos = streams(first)
    video = [s for s in infos if s.kind == "video"]
    if base is None:
        return KeyframePlan(MuxPlan(duration=sel.end - seg.start), seg.start, None, 0.0)
    anchor = first_timestamps(first).get(video[0].pid, base) if video else base
    note = ""
    if cut != "keyframe":
        codec = video[0].codec if video else "none"
        if exact_cut_supported(codec):
            begin = max(sel.start, seg.start)
            covered = sum(max(0.0, min(s.end, sel.end) - max(s.start, begin))
                          for s in sel.segments) + _pending(sel, published, begin)
            start = ticks_since(seg.start, begin)
            window = CutWindow(start, start + round(covered * PTS_CLOCK), cut)
            return ExactPlan(window, begin, covered, (seg.start, begin, sel.end))
        note = f"{cut} cut needs H.264 video (found {codec}): cut at the keyframe instead"
        log.warning(note)
    target = anchor + ticks_since(seg.start, sel.start)
    keys = [k for k in keyframe_timestamps(first) if k <= target]
    key = max(keys) if keys else anchor
    kept_from = seg.start + (key - anchor) / PTS_CLOCK
    covered = sum(max(0.0, min(s.end, sel.end) - max(s.start, kept_from))
                  for s in sel.segments) + _pending(sel, published, kept_from)
    # ffmpeg starts a stream copy at the first keyframe whose DTS is past -ss: aim a hair
    # before the keyframe's DTS so float rounding never skips it.
    dts = decode_timestamp(first, key)
    seek = (dts - base) / PTS_CLOCK - 0.001
    # The end is cut in decode order: B-frames may run past it by the reorder depth.
    return KeyframePlan(MuxPlan(seek=seek if seek > 0 else None, duration=covered), kept_from,
                        covered, (key - dts) / PTS_CLOCK, note)


def _pending(sel: Selection, published: float | None, begin: float) -> float:
    """The window's time after the published edge (and after ``begin``): not there yet."""
    return 0.0 if published is None else max(0.0, sel.end - max(published, begin))


def _final_plan(plan: CutPlan, final: Selection) -> CutPlan:
    """The plan's expected duration from the window as recorded (live edge: time that was
    pending when the cut began has arrived, or the window was cut short)."""
    if isinstance(plan, SegmentsPlan) or plan.expected is None:
        return plan
    covered = sum(max(0.0, min(s.end, final.end) - max(s.start, plan.kept_from))
                  for s in final.segments)
    if isinstance(plan, ExactPlan):
        return replace(plan, expected=covered, grid=(plan.grid[0], plan.grid[1], final.end))
    return replace(plan, expected=covered)


def _open_sink(plan: CutPlan, tmp: Path, ffmpeg: str | None) -> MediaSink:
    """The one writer a plan calls for."""
    if isinstance(plan, SegmentsPlan):
        return TsFileSink(tmp)
    if isinstance(plan, ExactPlan):
        return ExactCutSink(tmp, plan.window)
    return RemuxSink(tmp, plan.mux, ffmpeg)


@dataclass(frozen=True)
class _Written:
    """What the clip sink made: the plan it followed, the probed media, the cut's stats."""

    plan: CutPlan
    media: dict[str, Any]
    cut: CutStats | None


class ClipSink:
    """The clip's output: on the first segment with data, plans the cut and opens the
    one media sink the plan calls for; on finish, probes and verifies the file and
    renames it into place (never a half or wrong clip under ``output``'s name)."""

    def __init__(self, output: Path, fmt: str, cut: CutMode, ffmpeg: str | None,
                 edge: LiveEdgeSource | None = None, cmaf: CmafSource | None = None) -> None:
        self.output, self.fmt, self.cut, self.ffmpeg = output, fmt, cut, ffmpeg
        self.edge = edge  # the live edge: time still to come when the cut is planned
        # CMAF fragments become MPEG-TS on arrival (cmaf.py, issue 13)
        self.cmaf = cmaf or CmafSource(None, SegmentCache(default_cache_dir()), FetchOptions())
        clean_stale_parts(output)  # what a run of the same output killed with -9 left
        self.tmp = new_part(output)
        self._sel: Selection | None = None
        self._plan: CutPlan | None = None
        self._writer: MediaSink | None = None
        self._last: Fetched | None = None  # the latest segment written (as MPEG-TS)
        self._warm_av: asyncio.Future[Any] | None = None
        # The segment after the window (an open-GOP end edge): needed, and written.
        self._ahead_needed = self._ahead_written = False

    async def start(self, selection: Selection) -> None:
        self._sel = selection

    async def write(self, piece: Fetched) -> None:
        if piece.lookahead and not isinstance(self._writer, ExactCutSink):
            return  # the segment after the window is for the exact cut's end edge only
        self._ahead_written = self._ahead_written or piece.lookahead
        if piece.segment.init is not None:
            piece = replace(piece, data=await self.cmaf.to_ts(piece.segment, piece.data))
        self._last = piece
        if self._writer is None:
            assert self._sel is not None
            published = self.edge.pending_from if self.edge is not None else None
            self._plan = _plan_cut(piece.data, piece.segment, self._sel, self.fmt, self.cut,
                                   published)
            self._writer = _open_sink(self._plan, self.tmp, self.ffmpeg)
            await self._writer.start(self._sel)
            if not isinstance(self._plan, ExactPlan):
                # PyAV probes the finished file here; importing it now overlaps the download.
                # (The exact cutter's child probes its own output: this process needs no av.)
                self._warm_av = asyncio.ensure_future(asyncio.to_thread(__import__, "av"))
        await self._writer.write(piece)

    def wants_lookahead(self, final: Selection) -> bool:
        """Whether the exact cut's end edge needs the segment after the window: frames
        shown before the end that the last segment does not hold (open-GOP leading
        pictures of the next segment's first keyframe)."""
        if not isinstance(self._writer, ExactCutSink) or self._last is None:
            return False
        seg, data = self._last.segment, self._last.data
        self._ahead_needed = end_needs_next_segment(video_timestamps(data),
                                                    ticks_since(seg.start, final.end))
        return self._ahead_needed

    async def finish(self, final: Selection) -> _Written:
        assert self._writer is not None and self._plan is not None
        await self.cmaf.finish()
        cut_stats = await self._writer.finish(final)
        if self._ahead_needed and not self._ahead_written and cut_stats is not None:
            # Not a gap in the window, but not silent either: the last frame(s) before the
            # end travel in a segment that could not be had (missing, or not yet published).
            note = ("the frames shown just before the end travel in the segment after the "
                    "window, which could not be fetched: the clip ends up to one frame early")
            log.warning(note)
            cut_stats.notes.append(note)
        if self.edge is not None and (self.edge.following or self.edge.cut_short):
            self._plan = _final_plan(self._plan, final)
        if self._warm_av is not None:
            await self._warm_av
        media = self._writer.media  # the cutter's probe of its own output, if it made one
        if media is None:
            media = await asyncio.to_thread(probe_media, self.tmp)
        if not final.gaps:
            video = [m for m in media["streams"] if m["type"] == "video"]
            fps = video[0].get("fps") if video else None
            frame = 1 / fps if fps else 0.04
            expected = self._plan.expected_for(frame)
            if expected is not None:
                _verify(media, expected, frame + self._plan.slack, self.output)
        os.replace(self.tmp, self.output)
        return _Written(self._plan, media, cut_stats)

    async def abort(self) -> None:
        try:
            await self.cmaf.aclose()
            if self._writer is not None:
                await self._writer.abort()
        finally:
            self.tmp.unlink(missing_ok=True)


def _inits(cache_dir: Path | None, fetch: FetchOptions | None, keep_cache: bool) -> CmafSource:
    """CMAF: where a clip's init sections are fetched and cached (issue 13, cmaf.py)."""
    return CmafSource(None, SegmentCache(cache_dir or default_cache_dir()),
                      fetch or FetchOptions(), keep_cache=keep_cache)


def _check_output(out: Path, fmt: str, cut: CutMode | None, fetch: FetchOptions | None) -> None:
    """Refuse what cannot work before anything is fetched."""
    if fmt not in ("mp4", "ts"):
        raise UsageError(f"output format must be mp4 or ts, got {fmt!r}", field="output")
    check_output(out)  # a directory, or no such folder: now, not after the download
    if cut is not None and cut not in CUT_MODES:
        raise UsageError(f"expected one of {', '.join(CUT_MODES)}, got {cut!r}", field="cut")
    if fmt == "ts" and cut is not None:
        raise UsageError("TS output is whole segments, not cut; write .mp4 to cut",
                         field="cut")
    if fetch is not None and fetch.concurrency < 1:
        raise UsageError("must be at least 1", field="concurrency")


def _result(out: Path, run: WindowRun[_Written], fmt: str,
            live: dict[str, Any] | None = None) -> ClipResult:
    """The clip's summary from the pipeline's run and what the sink wrote."""
    sel, final, stats, written = run.selection, run.final, run.stats, run.report
    covered = final.covered
    if covered is not None and fmt == "ts":  # TS is not trimmed: whole segments
        covered = (final.segments[0].start, final.segments[-1].end)
    elif covered is not None:  # a keyframe cut starts at the keyframe, maybe before the window
        covered = (written.plan.kept_from, covered[1])
    cut_info: dict[str, Any] = {"mode": written.plan.mode}
    if written.cut is not None:
        cut_info.update(written.cut.to_dict())
    if written.plan.note:
        cut_info["notes"] = [*cut_info.get("notes", []), written.plan.note]
    return ClipResult(
        output=out, requested=(sel.start, sel.end), covered=covered,
        duration=written.media.get("duration"), segments=stats.segments + stats.cached,
        bytes=stats.bytes, retries=stats.retries, gaps=tuple(g.to_dict() for g in final.gaps),
        elapsed=run.elapsed, cached=stats.cached, hedges=stats.hedges,
        gap_report=_gap_report(out, final) if final.gaps else None, media=written.media,
        cut=cut_info, live=live or {})


async def aclip(
    output: Path | str,
    *,
    url: str | None = None,
    domain: str | None = None,
    app: str | None = None,
    stream: str | None = None,
    start: int | None = None,
    end: int | None = None,
    scheme: str = "https",
    signer: Signer | None = None,
    allow_gaps: bool = False,
    allowed_hosts: tuple[str, ...] = (),
    cache_dir: Path | None = None,
    keep_cache: bool = False,
    fetch: FetchOptions | None = None,
    output_format: Literal["mp4", "ts"] | None = None,
    progress: Callable[[ClipProgress], None] | None = None,
    ffmpeg: str | None = None,
    cut: CutMode | None = None,
    edge: EdgePolicy | None = DEFAULT_EDGE,
    stop: asyncio.Event | None = None,
) -> ClipResult:
    """Cut ``[start, end)`` (integer ns since the epoch) of a stream into ``output``.

    Give ``domain``/``app``/``stream`` (a time-shift play domain) or ``url`` (a
    time-shift URL, or any HLS media playlist with PROGRAM-DATE-TIME).

    ``cut`` (MP4 only): ``exact`` (the default) starts on the frame shown at ``start``
    and ends before ``end``, re-encoding only the partial GOPs at the edges;
    ``keyframe`` stream-copies from the keyframe at or before ``start``; ``reencode``
    re-encodes the whole window. TS output is whole segments and takes no ``cut``.

    A window that reaches past what the stream has published (the live edge) is
    followed as segments appear, until the segment holding ``end`` is published or
    ``edge.wait`` past ``end`` (then what is missing is a gap); ``edge=None`` never
    waits. Setting ``stop`` ends the window early: the clip is what arrived, and
    ``live["cut_short"]`` says so. An ``end`` beyond ``edge.horizon`` is refused.

    Raises:
        UsageError: bad arguments.
        GapError: the window has gaps and ``allow_gaps`` is off (the report is written first).
        VerificationError: the written clip misses the window by more than a frame.
        AuthError, RemoteError, TransportError, ForeignHostError, FfmpegError, CutError: as named.
    """
    out = Path(output)
    fmt = output_format or ("ts" if out.suffix.lower() == ".ts" else "mp4")
    _check_output(out, fmt, cut, fetch)
    ahead = fmt == "mp4" and cut != "keyframe"  # the exact cut's open-GOP end edge may need it
    resolve = partial(resolve_source, url, domain, app, stream, start, end, scheme, signer, ahead)
    resolved = resolve()
    check_horizon(start, end, now_ns(), (edge or DEFAULT_EDGE).horizon)
    last: list[WindowEvent] = []  # the pipeline's latest counts, for the edge's events

    def on_event(ev: WindowEvent) -> None:
        last[:] = [ev]
        if progress is not None:
            progress(ClipProgress("mux" if ev.kind == "finish" else ev.kind, ev.done,
                                  ev.total + source.arrived, ev.stats.bytes,
                                  ev.stats.retries, ev.elapsed, ev.detail))

    def on_edge(ev: EdgeEvent) -> None:  # the live edge: waiting, and segments appearing
        if progress is not None and last:
            w = last[0]
            done = w.stats.segments + w.stats.cached + len(w.stats.missing)
            progress(ClipProgress("edge", done, w.total + source.arrived, w.stats.bytes,
                                  w.stats.retries, w.elapsed, ev.detail(), ev.to_dict()))

    source = LiveEdgeSource(resolved, edge, signer=signer, allowed_hosts=allowed_hosts,
                            fetch=fetch, stop=stop, on_event=on_edge, refresh=resolve)
    sink = ClipSink(out, fmt, cut or "exact", ffmpeg, source, _inits(cache_dir, fetch, keep_cache))
    options = WindowOptions(fetch or FetchOptions(), cache_dir, keep_cache, allow_gaps,
                            partial(_gap_report, out), sink.wants_lookahead if ahead else None)
    run = await run_window(source, options, sink, on_event)
    result = _result(out, run, fmt, source.report().to_dict())
    if progress is not None:
        total = len(run.selection.segments) + source.arrived
        progress(ClipProgress("finished", total, total, run.stats.bytes, run.stats.retries,
                              result.elapsed, str(out)))
    return result


def clip(output: Path | str, **kwargs: Any) -> ClipResult:
    """The synchronous form of :func:`aclip` (runs its own event loop)."""
    return asyncio.run(aclip(output, **kwargs))
