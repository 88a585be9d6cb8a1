"""Which frame is on screen at an instant, and naming things: pure, no I/O.

The studio's stills must show exactly what an exact clip starting (or ending) at the
same instant holds, so the frame is chosen the way the exact cut chooses its first
frame: the instant becomes ticks from the segment's first video packet, as
:mod:`timeshift.clip` plans it (:func:`timeshift.cutplan.ticks_since`), and
each GOP in decode order is asked :func:`timeshift.cutplan.first_frame`, as
:mod:`timeshift.smartcut` asks it; the first GOP that answers holds the frame.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..cutplan import first_frame, ticks_since
from ..mpegts import PTS_CLOCK
from ..times import NS_PER_S, format_iso

__all__ = [
    "Frame",
    "SegmentIndex",
    "ceil_ms",
    "export_name",
    "frame_at",
    "split_gops",
    "unix_text",
]

_NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class SegmentIndex:
    """One segment's video timing: where it sits in wall-clock time and its GOPs' PTS.

    ``start``/``end`` are unix seconds as the clip pipeline placed the segment (floats,
    as :class:`timeshift.playlist.Segment` holds them); ``base`` is the PTS of the first
    video packet (the cutter's origin), ``frame`` the frame duration in ticks, ``gops``
    the PTS of every packet, one tuple per GOP, in decode order.
    """

    start: float
    end: float
    base: int
    frame: int
    gops: tuple[tuple[int, ...], ...]
    width: int = 0
    height: int = 0

    def contains(self, t_ns: int) -> bool:
        return self.start * NS_PER_S <= t_ns < self.end * NS_PER_S

    def wall_ns(self, pts: int) -> int:
        """The wall-clock instant (ns) at which the frame with ``pts`` starts."""
        return round(self.start * NS_PER_S) + (pts - self.base) * NS_PER_S // PTS_CLOCK

    @property
    def frame_ns(self) -> int:
        return self.frame * NS_PER_S // PTS_CLOCK


@dataclass(frozen=True)
class Frame:
    """The frame on screen at an instant: its segment, GOP, PTS and wall-clock span (ns)."""

    segment: SegmentIndex
    gop: int
    pts: int
    start: int
    end: int

    @property
    def id(self) -> str:
        """A stable name for the still: the segment's start and the frame's PTS."""
        return f"{round(self.segment.start * 1000)}-{self.pts}"

    def to_dict(self) -> dict[str, object]:
        half = (self.end - self.start) // 2
        return {
            "id": self.id,
            "start": unix_text(self.start),
            "end": unix_text(self.end),
            "start_ms": ceil_ms(self.start),
            "duration": (self.end - self.start) / NS_PER_S,
            # Inside the neighbouring frames, half a frame from their edges, so rounding
            # to the 90 kHz clock never lands back on this one.
            "prev": unix_text(self.start - half),
            "next": unix_text(self.end + half),
            "segment": {"start": unix_text(round(self.segment.start * NS_PER_S)),
                        "end": unix_text(round(self.segment.end * NS_PER_S))},
            "width": self.segment.width,
            "height": self.segment.height,
        }


def split_gops(packets: Sequence[tuple[int, bool]]) -> tuple[tuple[int, ...], ...]:
    """``(pts, is_keyframe)`` in decode order -> PTS per GOP, cut at each keyframe (as the cutter does)."""
    gops: list[list[int]] = []
    for pts, key in packets:
        if key and gops and gops[-1]:
            gops.append([])
        if not gops:
            gops.append([])
        gops[-1].append(pts)
    return tuple(tuple(g) for g in gops if g)


def frame_at(seg: SegmentIndex, t_ns: int) -> Frame | None:
    """The frame an exact clip starting at ``t_ns`` would start with, if it is in ``seg``.

    None when every frame of the segment ends before ``t_ns``.
    """
    begin = max(t_ns / NS_PER_S, seg.start)  # the clip's max(start, first segment's start)
    target = seg.base + ticks_since(seg.start, begin)
    for i, gop in enumerate(seg.gops):
        pts = first_frame(gop, target, seg.frame)
        if pts is not None:
            start = seg.wall_ns(pts)
            return Frame(seg, i, pts, start, start + seg.frame_ns)
    return None


def ceil_ms(ns: int) -> int:
    """Milliseconds since the epoch, rounded up: a start shown to the millisecond stays
    inside its frame (a 29.97 fps frame starts between two milliseconds)."""
    return -(-ns // _NS_PER_MS)


def unix_text(ns: int) -> str:
    """Unix seconds with nine decimals: exact, and a form every time option accepts."""
    sign = "-" if ns < 0 else ""
    s, rest = divmod(abs(ns), NS_PER_S)
    return f"{sign}{s}.{rest:09d}"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def export_name(stream: str, start_ns: int, end_ns: int, requested: str | None = None) -> str:
    """A file name for an export: the user's (reduced to a safe base name) or one from the window.

    Only a plain name is kept: no folders, no leading dot, ``.mp4`` at the end, so an
    export is always written directly inside the output folder.
    """
    if requested:
        base = requested.replace("\\", "/").rsplit("/", 1)[-1]
        base = re.sub(r"\.mp4$", "", base, flags=re.IGNORECASE)
        base = _UNSAFE.sub("-", base).strip(".-")[:100]
        if base:
            return f"{base}.mp4"
    ms = start_ns // _NS_PER_MS
    stamp = re.sub(r"[-:]", "", format_iso(ms // 1000 * NS_PER_S))[:-1] + f"-{ms % 1000:03d}"
    seconds = (end_ns - start_ns) / NS_PER_S
    safe = _UNSAFE.sub("-", stream).strip(".-") or "clip"
    return f"{safe}_{stamp}Z_{seconds:.2f}s.mp4"
