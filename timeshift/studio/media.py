"""Segments, stills and thumbnails for the studio (I/O: the clip pipeline, PyAV).

A segment is fetched through the clip pipeline itself (:func:`timeshift.clip.clip`
with TS output for a 2 ms window): the same playlist, timeline, host checks,
signing, cache and timestamp normalization that an export uses, so the segment a
still is decoded from is the one the exact cut is fed. Its packets are indexed once
(:class:`~timeshift.studio.frames.SegmentIndex`); a still decodes one GOP alone, as
the cutter re-encodes an edge GOP; a thumbnail decodes keyframes only.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..auth import Signer
from ..cutplan import ticks_since
from ..errors import CutError, GapError
from ..mpegts import PTS_CLOCK
from ..times import NS_PER_S
from .frames import Frame, SegmentIndex, frame_at, split_gops

__all__ = ["MediaStore", "StreamSource", "media_errors"]

log = logging.getLogger(__name__)

# The window asked for one segment: wide enough that select_window keeps the segment
# that starts exactly at the instant (it ignores overlaps under a microsecond).
_PROBE_NS = 2_000_000
THUMB_WIDTH = 160


@dataclass(frozen=True)
class StreamSource:
    """The one stream a studio looks at. The signer (and its key) never leaves the server."""

    domain: str
    app: str
    stream: str
    scheme: str = "https"
    signer: Signer | None = field(default=None, repr=False)

    def clip_args(self) -> dict[str, Any]:
        return {"domain": self.domain, "app": self.app, "stream": self.stream,
                "scheme": self.scheme, "signer": self.signer}


@contextmanager
def media_errors() -> Iterator[None]:
    """FFmpeg's errors (a corrupt or hostile segment) as the tree's CutError, said once here."""
    import av

    try:
        yield
    except av.FFmpegError as exc:
        raise CutError(f"FFmpeg: {exc}") from exc


def _jpeg(frame: Any, width: int | None = None) -> bytes:
    """Encode a decoded video frame as a JPEG (FFmpeg's mjpeg encoder; no imaging library)."""
    import av

    w, h = frame.width, frame.height
    if width is not None and width < w:
        w, h = width, max(2, round(h * width / w / 2) * 2)
    picture = frame.reformat(width=w, height=h, format="yuvj420p")
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height, ctx.pix_fmt = w, h, "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    ctx.options = {"qmin": "1", "qmax": "3" if width is None else "8"}
    ctx.open()
    return b"".join(bytes(p) for p in [*ctx.encode(picture), *ctx.encode(None)])


def _video_packets(path: Path) -> tuple[Any, list[Any]]:
    """The stream's timing facts and its timed video packets, in decode order."""
    import av

    with av.open(str(path)) as c:
        if not c.streams.video:
            raise CutError("the segment has no video")
        v = c.streams.video[0]
        packets = [p for p in c.demux(v) if p.pts is not None and p.dts is not None]
        rate = v.average_rate or v.guessed_rate or Fraction(25)
        facts = (v.time_base, rate, v.codec_context.width, v.codec_context.height,
                 v.codec_context.name)
    return facts, packets


def index_segment(path: Path, start: float, end: float) -> SegmentIndex:
    """Index a TS file written by the clip pipeline (frame duration as the cutter computes it)."""
    (tb, rate, width, height, _), packets = _video_packets(path)
    if not packets:
        raise CutError("the segment has no timed video packets")
    if tb != Fraction(1, PTS_CLOCK):
        raise CutError(f"unexpected video time base {tb} (MPEG-TS has 1/90000)")
    frame = max(1, round(1 / (rate * tb)))
    gops = split_gops([(p.pts, bool(p.is_keyframe)) for p in packets])
    return SegmentIndex(start, end, packets[0].pts, frame, gops, width, height)


def decode_still(path: Path, frame: Frame) -> bytes:
    """The frame as a full-size JPEG, decoded from its GOP alone (as the cutter decodes an edge)."""
    import av

    (_, _, _, _, codec), packets = _video_packets(path)
    gop = 0
    chosen = []
    for i, p in enumerate(packets):
        if i and p.is_keyframe:  # GOPs as split_gops cuts them
            gop += 1
        if gop == frame.gop:
            chosen.append(p)
    dec = av.CodecContext.create(codec, "r")
    for pkt in [*chosen, None]:
        for decoded in dec.decode(pkt):
            if decoded.pts == frame.pts:
                return _jpeg(decoded)
    raise CutError(f"frame {frame.pts} did not decode from its GOP")


def decode_thumbnail(path: Path, seg: SegmentIndex, t_ns: int) -> tuple[bytes, int]:
    """A small JPEG of the keyframe at or before ``t_ns`` (keyframes only are decoded)."""
    import av

    target = seg.base + ticks_since(seg.start, max(t_ns / NS_PER_S, seg.start))
    best: Any = None
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        v.codec_context.skip_frame = "NONKEY"
        for decoded in c.decode(v):
            if decoded.pts is None:
                continue
            if best is None or decoded.pts <= target:
                best = decoded
            if decoded.pts > target:
                break
    if best is None:
        raise CutError("no keyframe decoded")
    return _jpeg(best, THUMB_WIDTH), seg.wall_ns(best.pts)


class _Lru(OrderedDict[str, Any]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: str, value: Any) -> list[Any]:
        self[key] = value
        self.move_to_end(key)
        dropped = []
        while len(self) > self.limit:
            dropped.append(self.popitem(last=False)[1])
        return dropped

    def take(self, key: str) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value


class MediaStore:
    """Segments fetched for stills and thumbnails, and the images made from them (bounded LRUs).

    Thread-safe: the server calls it from worker threads. Every file it writes is
    under ``workdir``.
    """

    def __init__(self, source: StreamSource, workdir: Path, *, segments: int = 48,
                 images: int = 128) -> None:
        self.source = source
        self.workdir = workdir
        self.cache_dir = workdir / "cache"
        self._dir = workdir / "segments"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._segments = _Lru(segments)  # key: segment start (ms) -> (SegmentIndex, Path)
        self._images = _Lru(images)
        self._lock = threading.Lock()
        self._loading = threading.Lock()  # one fetch at a time: a shared machine, 2 cores

    def _known(self, t_ns: int) -> tuple[SegmentIndex, Path] | None:
        with self._lock:
            for key, (seg, path) in reversed(self._segments.items()):
                if seg.contains(t_ns):
                    self._segments.move_to_end(key)
                    return seg, path
        return None

    def segment(self, t_ns: int) -> tuple[SegmentIndex, Path]:
        """The segment that holds ``t_ns``, fetched through the clip pipeline if not yet here.

        Raises:
            GapError: no data at ``t_ns``.
            TimeshiftError: as the clip pipeline raises it (remote, auth, foreign host...).
        """
        from ..clip import clip

        found = self._known(t_ns)
        if found is not None:
            return found
        with self._loading:
            found = self._known(t_ns)
            if found is not None:
                return found
            out = self._dir / f"{uuid.uuid4().hex}.ts"
            try:
                with media_errors():  # the clip's probe lets a corrupt segment's FFmpeg error out
                    result = clip(out, **self.source.clip_args(), start=t_ns,
                                  end=t_ns + _PROBE_NS, output_format="ts", allow_gaps=True,
                                  cache_dir=self.cache_dir, keep_cache=True)
            finally:
                out.with_name(out.name + ".gaps.json").unlink(missing_ok=True)
            covered = result.covered
            if covered is None or not covered[0] * NS_PER_S <= t_ns < covered[1] * NS_PER_S:
                out.unlink(missing_ok=True)
                gaps = [(float(g["start"]), float(g["end"]))  # type: ignore[arg-type]
                        for g in result.gaps] or [(t_ns / NS_PER_S, t_ns / NS_PER_S)]
                raise GapError(gaps)
            # Two segments came when the instant is within the probe of a segment's end:
            # the index then holds only up to the probe (a later instant gets its own).
            end = covered[1] if result.segments == 1 else (t_ns + _PROBE_NS) / NS_PER_S
            try:
                with media_errors():
                    seg = index_segment(out, covered[0], end)
            except CutError:
                out.unlink(missing_ok=True)
                raise
            with self._lock:
                for _, old in self._segments.put(str(round(covered[0] * 1000)), (seg, out)):
                    old[1].unlink(missing_ok=True)
            return seg, out

    def frame(self, t_ns: int) -> Frame:
        """The frame an exact clip starting at ``t_ns`` starts with."""
        seg, _ = self.segment(t_ns)
        frame = frame_at(seg, t_ns)
        if frame is None:  # every frame of the segment ends before t: the next one holds it
            seg, _ = self.segment(round(seg.end * NS_PER_S))
            frame = frame_at(seg, t_ns)
        if frame is None:
            raise CutError("no frame is on screen at that instant")
        return frame

    def still(self, frame: Frame) -> bytes:
        key = f"still:{frame.id}"
        with self._lock:
            cached = self._images.take(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        _, path = self.segment(frame.start)
        with media_errors():
            data = decode_still(path, frame)
        with self._lock:
            self._images.put(key, data)
        return data

    def thumbnail(self, t_ns: int) -> tuple[bytes, int]:
        """A keyframe thumbnail for ``t_ns`` and the keyframe's wall-clock time (ns)."""
        seg, path = self.segment(t_ns)
        key = f"thumb:{round(seg.start * 1000)}:{t_ns}"
        with self._lock:
            cached = self._images.take(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        with media_errors():
            made = decode_thumbnail(path, seg, t_ns)
        with self._lock:
            self._images.put(key, made)
        return made
