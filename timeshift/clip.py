"""Cut a window of a past live stream into an MP4 (or TS): the clip pipeline.

1. Select (pure, :mod:`timeshift.playlist`): the VOD playlist of the window, every
   segment placed in wall-clock time, the segments covering ``[start, end)``, the gaps.
2. Fetch (:mod:`timeshift.fetch`): in parallel into a resumable cache.
3. Cut: segments stream in order, while later ones download, timestamps made
   continuous across discontinuities (:mod:`timeshift.mpegts`), into
   * the frame-exact cutter (:mod:`timeshift.smartcut`, the default for MP4): whole GOPs
     copied, the partial GOPs at the edges re-encoded, audio trimmed to the sample; or
   * ffmpeg's stdin (:mod:`timeshift.remux`, ``cut="keyframe"``): stream copy from the
     keyframe at or before ``start``.
4. Verify: the written file is probed (duration, streams, first and last timestamps);
   one that misses the window by more than a frame is an error, not a clip.

The output appears only when complete and verified (temporary name, then rename); gaps
are never silent: without ``allow_gaps`` they fail the clip after a gap report is written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiofiles

from .auth import Signer
from .cmaf import CmafSource
from .cutplan import CutMode, CutWindow
from .errors import GapError, UsageError, VerificationError
from .fetch import (
    FetchEvent,
    FetchOptions,
    FetchStats,
    SegmentCache,
    default_cache_dir,
    fetch_segments,
    make_client_session,
)
from .mpegts import (
    PTS_CLOCK,
    TimestampNormalizer,
    decode_timestamp,
    first_timestamps,
    keyframe_timestamps,
    streams,
)
from .mpegts import start_timestamp as ts_start
from .plan import plan_window, resolve_source
from .playlist import (
    Segment,
    Selection,
)
from .remux import MuxPlan, Remuxer, mp4_command
from .remux import ffmpeg_exe as find_ffmpeg
from .smartcut import CutStats, PipeCutter, exact_cut_supported
from .times import NS_PER_S, format_iso

__all__ = ["CUT_MODES", "ClipProgress", "ClipResult", "aclip", "clip", "probe_media"]

#: The ``cut`` values :func:`aclip` takes (see :data:`timeshift.cutplan.CutMode`).
CUT_MODES: tuple[CutMode, ...] = ("exact", "keyframe", "reencode")

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class ClipProgress:
    """A progress event: ``kind`` is plan, cached, done, retry, hedge, gap, mux or finished."""

    kind: str
    segments_done: int
    segments_total: int
    bytes: int
    retries: int
    elapsed: float
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "segments_done": self.segments_done,
                "segments_total": self.segments_total, "bytes": self.bytes,
                "retries": self.retries, "elapsed": round(self.elapsed, 3),
                **({"detail": self.detail} if self.detail else {})}


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

    def to_dict(self) -> dict[str, Any]:
        def span(pair: tuple[float, float] | None) -> dict[str, Any] | None:
            if pair is None:
                return None
            return {"start": round(pair[0], 3), "end": round(pair[1], 3),
                    "start_iso": format_iso(round(pair[0] * NS_PER_S)),
                    "end_iso": format_iso(round(pair[1] * NS_PER_S))}

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
        }


def probe_media(path: Path) -> dict[str, Any]:
    """Duration, streams, codecs and first/last timestamps of a media file, read with PyAV.

    Per stream: ``start`` (first presentation time), ``last`` (the last packet's) and
    ``end`` (``last`` plus its duration), in seconds on the file's timeline (MP4 edit
    lists applied), and ``frames`` (packets counted). Only the head and the tail are
    demuxed (a seek to near the end), so probing costs the same for any length.
    """
    import av

    with av.open(str(path)) as container:
        duration = container.duration / 1_000_000 if container.duration else None
        firsts: dict[int, float] = {}
        lasts: dict[int, tuple[float, float]] = {}
        counts: dict[int, int] = {}

        def see(pkt: Any) -> None:
            if pkt.pts is None or pkt.time_base is None:
                return
            i = pkt.stream.index
            t = float(pkt.pts * pkt.time_base)
            end = t + float((pkt.duration or 0) * pkt.time_base)
            if i not in lasts or t >= lasts[i][0]:
                lasts[i] = (t, end)
            counts[i] = counts.get(i, 0) + 1

        for pkt in container.demux():
            if pkt.pts is not None and pkt.stream.index not in firsts:
                firsts[pkt.stream.index] = float(pkt.pts * pkt.time_base)
            see(pkt)
            if len(firsts) == len(container.streams) and counts.get(0, 0) > 64:
                break
        # The last packets: from a keyframe a few seconds before the end (or all of it).
        if duration and duration > 4:
            counts = {}
            lasts = {}
            container.seek(int((duration - 4) * 1_000_000), backward=True, any_frame=False)
        for pkt in container.demux():
            see(pkt)
        out: dict[str, Any] = {"duration": duration, "streams": []}
        for s in container.streams:
            entry: dict[str, Any] = {"type": s.type, "codec": s.codec_context.name}
            if s.type == "video":
                entry.update(width=s.codec_context.width, height=s.codec_context.height,
                             fps=float(s.average_rate) if s.average_rate else None)
            elif s.type == "audio":
                entry.update(sample_rate=s.codec_context.sample_rate)
            first = firsts.get(s.index)
            last = lasts.get(s.index)
            # A negative start is the audio pre-roll that the edit list hides: presentation
            # starts at 0, which is what a player (and a decoder) shows.
            entry.update(start=None if first is None else round(max(first, 0.0), 6),
                         last=None if last is None else round(last[0], 6),
                         end=None if last is None else round(last[1], 6),
                         frames=s.frames or None)
            out["streams"].append(entry)
    return out


def _verify(media: dict[str, Any], expected: float, tolerance: float, output: Path) -> None:
    """Raise :class:`VerificationError` when the probed duration misses ``expected``."""
    probed = media.get("duration")
    if probed is None or abs(probed - expected) > tolerance + 1e-6:
        raise VerificationError(str(output), expected, probed, tolerance)


def _gap_report(path: Path, sel: Selection) -> Path:
    report = path.with_name(path.name + ".gaps.json")
    body = {
        "requested": {"start": sel.start, "end": sel.end,
                      "start_iso": format_iso(round(sel.start * NS_PER_S)),
                      "end_iso": format_iso(round(sel.end * NS_PER_S))},
        "covered": None if sel.covered is None else {"start": sel.covered[0],
                                                     "end": sel.covered[1]},
        "gap_seconds": round(sel.gap_seconds, 3),
        "gaps": [g.to_dict() | {"start_iso": format_iso(round(g.start * NS_PER_S)),
                                "end_iso": format_iso(round(g.end * NS_PER_S))}
                 for g in sel.gaps],
    }
    tmp = report.with_name(f".{report.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    os.replace(tmp, report)
    return report


@dataclass(frozen=True)
class _Plan:
    """Where the clip starts and ends, for the cutter chosen."""

    mode: str  # exact, keyframe, reencode, or segments (TS)
    mux: MuxPlan  # the keyframe cut's ffmpeg plan
    window: CutWindow | None  # the exact/reencode cut's window
    kept_from: float  # wall-clock time of the first frame kept
    expected: float | None  # the duration the output must have (None: not checked)
    slack: float  # how much more than one frame the probed duration may be off
    note: str = ""
    #: For an exact cut, the window and where the frame grid starts (wall clock): the
    #: frames kept are those on screen in the window, so a start or end inside a frame
    #: widens the clip to that frame's edge.
    grid: tuple[float, float, float] | None = None

    def expected_for(self, frame: float) -> float | None:
        """The duration the clip must have, once the frame duration is known."""
        if self.expected is None or self.grid is None:
            return self.expected
        origin, start, end = self.grid

        def phase(t: float) -> float:
            off = (t - origin) % frame
            return 0.0 if off < 1e-6 or off > frame - 1e-6 else off

        return self.expected + phase(start) + (frame - phase(end)) % frame


def _plan_cut(first: bytes, seg: Segment, sel: Selection, out_format: str,
              cut: CutMode) -> _Plan:
    """Where the cut goes: from the first segment that has data and the selection.

    Wall-clock times map onto the normalized stream from its first video frame (the
    segment's PDT, "the first sample"); gaps are closed up in the output, so the end
    counts only covered time.
    """
    if out_format == "ts":
        return _Plan("segments", MuxPlan(), None, seg.start, None, 0.0)
    base = ts_start(first)
    infos = streams(first)
    video = [s for s in infos if s.kind == "video"]
    if base is None:
        return _Plan("keyframe", MuxPlan(duration=sel.end - seg.start), None, seg.start,
                     None, 0.0)
    anchor = first_timestamps(first).get(video[0].pid, base) if video else base
    note = ""
    if cut != "keyframe":
        codec = video[0].codec if video else "none"
        if exact_cut_supported(codec):
            begin = max(sel.start, seg.start)
            covered = sum(max(0.0, min(s.end, sel.end) - max(s.start, begin))
                          for s in sel.segments)
            start = round((begin - seg.start) * PTS_CLOCK)
            window = CutWindow(start, start + round(covered * PTS_CLOCK), cut)
            return _Plan(cut, MuxPlan(), window, begin, covered, 0.0,
                         grid=(seg.start, begin, sel.end))
        note = f"{cut} cut needs H.264 video (found {codec}): cut at the keyframe instead"
        log.warning(note)
    target = anchor + round((sel.start - seg.start) * PTS_CLOCK)
    keys = [k for k in keyframe_timestamps(first) if k <= target]
    key = max(keys) if keys else anchor
    kept_from = seg.start + (key - anchor) / PTS_CLOCK
    covered = sum(max(0.0, min(s.end, sel.end) - max(s.start, kept_from)) for s in sel.segments)
    # ffmpeg starts a stream copy at the first keyframe whose DTS is past -ss: aim a hair
    # before the keyframe's DTS so float rounding never skips it.
    dts = decode_timestamp(first, key)
    seek = (dts - base) / PTS_CLOCK - 0.001
    # The end is cut in decode order: B-frames may run past it by the reorder depth.
    return _Plan("keyframe", MuxPlan(seek=seek if seek > 0 else None, duration=covered), None,
                 kept_from, covered, (key - dts) / PTS_CLOCK, note)


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
) -> ClipResult:
    """Cut ``[start, end)`` (integer ns since the epoch) of a stream into ``output``.

    Give ``domain``/``app``/``stream`` (a time-shift play domain) or ``url`` (a
    time-shift URL, or any HLS media playlist with PROGRAM-DATE-TIME).

    ``cut`` (MP4 only): ``exact`` (the default) starts on the frame shown at ``start``
    and ends before ``end``, re-encoding only the partial GOPs at the edges;
    ``keyframe`` stream-copies from the keyframe at or before ``start``; ``reencode``
    re-encodes the whole window. TS output is whole segments and takes no ``cut``.

    Raises:
        UsageError: bad arguments.
        GapError: the window has gaps and ``allow_gaps`` is off (the report is written first).
        VerificationError: the written clip misses the window by more than a frame.
        AuthError, RemoteError, TransportError, ForeignHostError, FfmpegError, CutError: as named.
    """
    began = time.monotonic()
    out = Path(output)
    fmt = output_format or ("ts" if out.suffix.lower() == ".ts" else "mp4")
    if fmt not in ("mp4", "ts"):
        raise UsageError(f"output format must be mp4 or ts, got {fmt!r}", option="-o")
    if not out.parent.exists():
        raise UsageError(f"the folder {out.parent} does not exist", option="-o")
    if cut is not None and cut not in CUT_MODES:
        raise UsageError(f"expected one of {', '.join(CUT_MODES)}, got {cut!r}", option="--cut")
    if fmt == "ts" and cut is not None:
        raise UsageError("TS output is whole segments, not cut; write .mp4 to cut",
                         option="--cut")
    fetch = fetch or FetchOptions()
    if fetch.concurrency < 1:
        raise UsageError("must be at least 1", option="--concurrency")
    source = resolve_source(url, domain, app, stream, start, end, scheme, signer)
    stats = FetchStats()
    total = 0

    def emit(kind: str, detail: str = "") -> None:
        if progress is not None:
            done = stats.segments + stats.cached + len(stats.missing)
            progress(ClipProgress(kind, done, total, stats.bytes, stats.retries,
                                  time.monotonic() - began, detail))

    # PyAV is needed only to probe the finished file; importing it now overlaps the download.
    warm_av = asyncio.ensure_future(asyncio.to_thread(__import__, "av"))
    async with make_client_session(fetch) as session:
        sel = (await plan_window(session, source, signer=signer,
                                 allowed_hosts=allowed_hosts)).selection
        total = len(sel.segments)
        emit("plan", f"{total} segments, {len(sel.gaps)} gap(s)")
        if sel.gaps and not allow_gaps:
            report = _gap_report(out, sel)
            raise GapError([(g.start, g.end) for g in sel.gaps], report=str(report))
        if not sel.segments:
            raise GapError([(sel.start, sel.end)])

        cache = SegmentCache(cache_dir or default_cache_dir())
        cmaf = CmafSource(session, cache, fetch)  # CMAF fragments become MPEG-TS (cmaf.py)
        tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
        normalizer = TimestampNormalizer()
        remuxer: Remuxer | PipeCutter | None = None
        ts_file: Any = None
        plan: _Plan | None = None
        cut_stats: CutStats | None = None
        failed_gap = False
        previous_missing = False

        def on_fetch(ev: FetchEvent) -> None:
            emit(ev.kind, ev.detail)

        try:
            async for seg, path, data in fetch_segments(session, sel.segments, cache, fetch,
                                                        stats, on_fetch):
                if path is None:
                    previous_missing = True
                    if not allow_gaps:
                        failed_gap = True
                    continue
                if failed_gap:
                    continue  # keep fetching into the cache for a re-run, but mux nothing
                if data is None:  # from the cache of an earlier run
                    async with aiofiles.open(path, "rb") as f:
                        data = await f.read()
                data = await cmaf.to_ts(seg, data)
                if remuxer is None and ts_file is None:
                    plan = _plan_cut(data, seg, sel, fmt, cut or "exact")
                    if fmt == "ts":
                        ts_file = await aiofiles.open(tmp, "wb")
                    elif plan.window is not None:
                        remuxer = await PipeCutter(tmp, plan.window).start()
                    else:
                        argv = mp4_command(tmp, plan.mux, exe=ffmpeg or find_ffmpeg())
                        remuxer = await Remuxer(argv).start()
                fixed = normalizer.feed(data, seg.duration, seg.discontinuity or previous_missing)
                previous_missing = False
                if remuxer is not None:
                    await remuxer.write(fixed)
                else:
                    await ts_file.write(fixed)
            if failed_gap:
                final = sel.with_missing(stats.missing)
                report = _gap_report(out, final)
                raise GapError([(g.start, g.end) for g in final.gaps], report=str(report))
            emit("mux", "finishing the output")
            if isinstance(remuxer, PipeCutter):
                cut_stats = await remuxer.finish()
            elif remuxer is not None:
                await remuxer.finish()
            elif ts_file is not None:
                await ts_file.close()
                ts_file = None
            else:
                raise GapError([(sel.start, sel.end)])  # every listed segment was gone
            assert plan is not None
            final = sel.with_missing(stats.missing)
            await warm_av
            media = await asyncio.to_thread(probe_media, tmp)
            if plan.expected is not None and not final.gaps:
                video = [m for m in media["streams"] if m["type"] == "video"]
                fps = video[0].get("fps") if video else None
                frame = 1 / fps if fps else 0.04
                _verify(media, plan.expected_for(frame) or 0.0, frame + plan.slack, out)
            os.replace(tmp, out)
        except BaseException:
            if remuxer is not None:
                await remuxer.abort()
            if ts_file is not None:
                await ts_file.close()
            tmp.unlink(missing_ok=True)
            raise

    gap_report = _gap_report(out, final) if final.gaps else None
    if not keep_cache:
        cache.discard(sel.segments)
        cmaf.discard()
    covered = final.covered
    if covered is not None and fmt == "ts":  # TS is not trimmed: whole segments
        covered = (final.segments[0].start, final.segments[-1].end)
    elif covered is not None:  # a keyframe cut starts at the keyframe, maybe before the window
        covered = (plan.kept_from, covered[1])
    cut_info: dict[str, Any] = {"mode": plan.mode}
    if cut_stats is not None:
        cut_info.update(cut_stats.to_dict())
    if plan.note:
        cut_info["notes"] = [*cut_info.get("notes", []), plan.note]
    result = ClipResult(
        output=out, requested=(sel.start, sel.end), covered=covered,
        duration=media.get("duration"), segments=stats.segments + stats.cached,
        bytes=stats.bytes, retries=stats.retries, gaps=tuple(g.to_dict() for g in final.gaps),
        elapsed=time.monotonic() - began, cached=stats.cached, hedges=stats.hedges,
        gap_report=gap_report, media=media, cut=cut_info)
    emit("finished", str(out))
    return result


def clip(output: Path | str, **kwargs: Any) -> ClipResult:
    """The synchronous form of :func:`aclip` (runs its own event loop)."""
    return asyncio.run(aclip(output, **kwargs))
