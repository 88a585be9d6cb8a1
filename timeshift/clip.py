"""Cut a window of a past live stream into an MP4 (or TS): the clip pipeline.

1. Select (pure, :mod:`timeshift.playlist`): the VOD playlist of the window, every
   segment placed in wall-clock time, the segments covering ``[start, end)``, the gaps.
2. Fetch (:mod:`timeshift.fetch`): in parallel into a resumable cache.
3. Remux (:mod:`timeshift.remux`): segments stream in order into ffmpeg's stdin while
   later ones download, timestamps made continuous across discontinuities
   (:mod:`timeshift.mpegts`), cut at the keyframe at or before ``start`` and at ``end``.

The output appears only when complete (temporary name, then rename); gaps are never
silent: without ``allow_gaps`` they fail the clip after a gap report is written.
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
from .errors import GapError, UsageError
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
from .times import NS_PER_S, format_iso

__all__ = ["ClipProgress", "ClipResult", "aclip", "clip", "probe_media"]

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
        }


def probe_media(path: Path) -> dict[str, Any]:
    """Duration, streams and codecs of a media file, read with PyAV (FFmpeg's libraries)."""
    import av

    with av.open(str(path)) as container:
        out: dict[str, Any] = {
            "duration": container.duration / 1_000_000 if container.duration else None,
            "streams": [
                {"type": s.type, "codec": s.codec_context.name,
                 **({"width": s.codec_context.width, "height": s.codec_context.height,
                     "fps": float(s.average_rate) if s.average_rate else None}
                    if s.type == "video" else {}),
                 **({"sample_rate": s.codec_context.sample_rate} if s.type == "audio" else {})}
                for s in container.streams
            ],
        }
    return out


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


def _plan_cut(first: bytes, seg: Segment, sel: Selection, out_format: str) -> tuple[MuxPlan, float]:
    """Where ffmpeg cuts: the keyframe at or before the window start, and the end.

    Returns the plan and the wall-clock time of the first frame kept.
    """
    if out_format == "ts":
        return MuxPlan(), seg.start
    base = ts_start(first)
    video = [s.pid for s in streams(first) if s.kind == "video"]
    firsts = first_timestamps(first)
    if base is None:
        return MuxPlan(duration=sel.end - seg.start), seg.start
    # The segment's wall-clock start is its first video frame (PDT: "the first sample").
    anchor = firsts.get(video[0], base) if video else base
    target = anchor + round((sel.start - seg.start) * PTS_CLOCK)
    keys = [k for k in keyframe_timestamps(first) if k <= target]
    key = max(keys) if keys else anchor
    kept_from = seg.start + (key - anchor) / PTS_CLOCK
    # Output time closes gaps up, so the duration counts only covered time.
    covered = sum(max(0.0, min(s.end, sel.end) - max(s.start, kept_from)) for s in sel.segments)
    # ffmpeg starts a stream copy at the first keyframe whose DTS is past -ss: aim a hair
    # before the keyframe's DTS so float rounding never skips it.
    seek = (decode_timestamp(first, key) - base) / PTS_CLOCK - 0.001
    return MuxPlan(seek=seek if seek > 0 else None, duration=covered), kept_from


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
) -> ClipResult:
    """Cut ``[start, end)`` (integer ns since the epoch) of a stream into ``output``.

    Give ``domain``/``app``/``stream`` (a time-shift play domain) or ``url`` (a
    time-shift URL, or any HLS media playlist with PROGRAM-DATE-TIME).

    Raises:
        UsageError: bad arguments.
        GapError: the window has gaps and ``allow_gaps`` is off (the report is written first).
        AuthError, RemoteError, TransportError, ForeignHostError, FfmpegError: as named.
    """
    began = time.monotonic()
    out = Path(output)
    fmt = output_format or ("ts" if out.suffix.lower() == ".ts" else "mp4")
    if fmt not in ("mp4", "ts"):
        raise UsageError(f"output format must be mp4 or ts, got {fmt!r}", option="-o")
    if not out.parent.exists():
        raise UsageError(f"the folder {out.parent} does not exist", option="-o")
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
        tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
        normalizer = TimestampNormalizer()
        remuxer: Remuxer | None = None
        ts_file: Any = None
        kept_from = sel.segments[0].start
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
                if remuxer is None and ts_file is None:
                    plan, kept_from = _plan_cut(data, seg, sel, fmt)
                    if fmt == "ts":
                        ts_file = await aiofiles.open(tmp, "wb")
                    else:
                        remuxer = await Remuxer(mp4_command(tmp, plan, exe=ffmpeg or find_ffmpeg())).start()
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
            if remuxer is not None:
                await remuxer.finish()
            elif ts_file is not None:
                await ts_file.close()
                ts_file = None
            else:
                raise GapError([(sel.start, sel.end)])  # every listed segment was gone
            os.replace(tmp, out)
        except BaseException:
            if remuxer is not None:
                await remuxer.abort()
            if ts_file is not None:
                await ts_file.close()
            tmp.unlink(missing_ok=True)
            raise

    final = sel.with_missing(stats.missing)
    gap_report = _gap_report(out, final) if final.gaps else None
    if not keep_cache:
        cache.discard(sel.segments)
    await warm_av
    media = await asyncio.to_thread(probe_media, out)
    covered = final.covered
    if covered is not None and fmt == "ts":  # TS is not trimmed: whole segments
        covered = (final.segments[0].start, final.segments[-1].end)
    elif covered is not None:  # MP4 starts at the keyframe kept, which may precede the window
        covered = (max(covered[0], kept_from), covered[1])
    result = ClipResult(
        output=out, requested=(sel.start, sel.end), covered=covered,
        duration=media.get("duration"), segments=stats.segments + stats.cached,
        bytes=stats.bytes, retries=stats.retries, gaps=tuple(g.to_dict() for g in final.gaps),
        elapsed=time.monotonic() - began, cached=stats.cached, hedges=stats.hedges,
        gap_report=gap_report, media=media)
    emit("finished", str(out))
    return result


def clip(output: Path | str, **kwargs: Any) -> ClipResult:
    """The synchronous form of :func:`aclip` (runs its own event loop)."""
    return asyncio.run(aclip(output, **kwargs))
