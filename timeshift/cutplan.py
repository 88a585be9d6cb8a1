"""Frame-exact cut decisions, as pure functions on timestamps and H.264 bytes (no I/O).

:mod:`timeshift.smartcut` runs the cut with PyAV; everything it decides is here, so
the rules can be tested without media:

* which GOPs are copied whole, which are decoded and re-encoded, which are dropped
  (:func:`gop_action`), and which frame a cut starts on (:func:`first_frame`);
* the decode timestamps given to re-encoded frames so they join the copied ones
  without a jump (:func:`edge_dts`), and the B-frame setting that makes that possible
  (:func:`x264_params`);
* a free H.264 parameter-set id for the edge encoder (:func:`parameter_set_ids`), so
  its SPS/PPS can sit next to the source's in one MP4 ``avcC`` instead of replacing it;
* where audio starts and ends, to the sample (:class:`AudioCut`);
* where a wall-clock instant falls in a segment's ticks (:func:`ticks_since`), the one
  conversion the clip's plan and the studio's stills share.

Timestamps are integers in the stream's own time base (90 kHz for MPEG-TS); all the
rules work in any time base.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from .tspsi import PTS_CLOCK

__all__ = [
    "AudioCut",
    "CutMode",
    "CutWindow",
    "cra_to_bla",
    "edge_dts",
    "end_needs_next_segment",
    "end_prefix_length",
    "first_frame",
    "free_parameter_set_id",
    "gop_action",
    "h264_idr",
    "nal_units",
    "parameter_set_ids",
    "x264_level",
    "x264_params",
    "x264_profile",
    "x265_level",
    "x265_params",
    "x265_profile",
    "hevc_parameter_sets",
    "hevc_high_tier",
    "x265_level_params",
    "leading_pictures",
    "ticks_since",
]

#: How a clip is cut: ``exact`` re-encodes only the partial GOPs at the edges,
#: ``keyframe`` starts at the keyframe at or before the start (stream copy only),
#: ``reencode`` re-encodes the whole window.
CutMode = Literal["exact", "keyframe", "reencode"]

GopAction = Literal["before", "copy", "encode", "after"]

T = TypeVar("T")


@dataclass(frozen=True)
class CutWindow:
    """The window to keep, in ticks from the first video frame of the stream (decode order).

    Measuring from the stream's own first frame, not from absolute PTS, keeps the plan
    independent of how a demuxer unwraps 33-bit MPEG-TS timestamps.
    """

    start: int
    end: int
    mode: CutMode = "exact"


def ticks_since(segment_start: float, at: float, clock: int = PTS_CLOCK) -> int:
    """Wall-clock ``at`` as ticks after ``segment_start``, rounded to the nearest tick.

    ``segment_start`` is the wall-clock time of the segment's first video frame (its
    PROGRAM-DATE-TIME), so the result counts from that frame, as :class:`CutWindow` does.
    The clip plans its cut with it, and the studio picks its stills with it, so a still
    shows the frame an exact clip starting at ``at`` starts with.

    Args:
        segment_start: unix seconds of the segment's first frame.
        at: unix seconds of the instant (before ``segment_start``: negative ticks).
        clock: ticks per second (90 kHz, MPEG-TS's clock, unless told).
    """
    return round((at - segment_start) * clock)


def first_frame(pts: Iterable[int], start: int, frame: int) -> int | None:
    """The PTS of the frame on screen at ``start``: the last one at or before it.

    ``frame`` is the frame duration; a frame counts as on screen at ``start`` when it
    begins no later than ``start`` and ends after it. Returns None when every frame
    ends at or before ``start`` (the frame shown is in a later GOP), and the earliest
    frame when all of them begin after ``start`` (the window opens in a gap).
    """
    ordered = sorted(pts)
    if not ordered or ordered[-1] + frame <= start:
        return None
    shown = [p for p in ordered if p <= start]
    return shown[-1] if shown else ordered[0]


def gop_action(pts: Sequence[int], first: int, end: int) -> GopAction:
    """What to do with one closed GOP whose frames are at ``pts``, for frames in ``[first, end)``.

    ``copy`` when every frame is wanted, ``encode`` when only some are (the edges),
    ``before``/``after`` when none are.
    """
    lo, hi = min(pts), max(pts)
    if hi < first:
        return "before"
    if lo >= end:
        return "after"
    if lo >= first and hi < end:
        return "copy"
    return "encode"


def end_prefix_length(pts: Sequence[int], dts: Sequence[int], end: int, frame: int,
                      dts_limit: int) -> int:
    """How many packets (from the first, in decode order) of an end edge's GOP are copied.

    The longest run of pictures shown before ``end``: each references only pictures
    decoded before it, so the run decodes as in the source. The wanted pictures after it
    are re-encoded as a closed GOP of their own, shown after all of the run (else the
    run is shortened), whose DTS continue from the run's last, one frame apart. Its
    second packet must have a DTS below ``dts_limit`` (the first packet's DTS plus the
    clip's duration): GStreamer's qtdemux ends a track at a sample that follows a
    keyframe when the sample's decode time reaches the movie's duration, which a
    clip whose DTS run ahead (after an open-GOP start edge) would hit. 0: nothing.
    """
    n = 0
    while n < len(pts) and pts[n] < end:
        n += 1
    while n > 0:
        rest = [p for p in pts[n:] if p < end]
        if rest and (min(rest) <= max(pts[:n])
                     or (len(rest) > 1 and dts[n - 1] + 2 * frame >= dts_limit)):
            n -= 1
            continue
        return n
    return 0


def end_needs_next_segment(pts: Sequence[int], end: int) -> bool:
    """Whether a window ending ``end`` ticks after a segment's first video PTS (``pts[0]``)
    holds frames shown after all of that segment's own (``pts``: every video PTS in it).

    With open GOPs the leading pictures of the next segment's first keyframe are shown
    before it, so before the segment boundary; a window ending there needs them from the
    next segment. Frames sit on a grid of the smallest step between sorted PTS; the next
    grid frame after the segment's last is wanted when it starts before ``end``, by more
    than a tick (``end`` is computed from wall-clock floats; a window ending on a frame
    boundary, as whole seconds do, does not want the frame that starts there).
    """
    if len(pts) < 2:
        return len(pts) == 1  # no grid to measure: fetch, to be safe
    offsets = sorted(((p - pts[0] + (1 << 32)) & ((1 << 33) - 1)) - (1 << 32) for p in pts)
    step = min((b - a for a, b in zip(offsets, offsets[1:], strict=False) if b > a), default=0)
    return step > 0 and offsets[-1] + step + 1 < end


def edge_dts(fed: int, reorder: int, pts: int) -> int:
    """The decode timestamp of a re-encoded packet, so it joins the copied ones without a jump.

    The source's packets carry ``dts = pts - reorder`` on a regular grid (``reorder`` is
    its B-frame delay, PTS minus DTS of a keyframe). An encoder fed frames in
    presentation order emits its i-th packet at the i-th frame fed, so giving that
    packet ``fed_i - reorder`` continues the same grid into, through and out of the
    re-encoded part. ``pts`` is the packet's own PTS, to check the rule holds (it does
    when the encoder's delay is at most ``reorder``; see :func:`x264_params`).

    Raises:
        ValueError: the packet would be decoded after it is shown.
    """
    dts = fed - reorder
    if dts > pts:
        raise ValueError(f"re-encoded frame at {pts} would get DTS {dts} after its PTS; "
                         f"the encoder reorders deeper than the source ({reorder})")
    return dts


def x264_params(reorder_frames: int, sps_id: int, keyint: int | None = None) -> str:
    """libx264 ``x264-params`` for an edge encode.

    B-frames follow the source's reorder depth (0, 1 or 2 frames of delay) so that
    :func:`edge_dts` holds and the joined stream keeps one reorder depth; the encode
    gets no scene-cut keyframes and, with ``keyint`` None, a single IDR (a partial GOP
    needs no other); the parameter sets take ``sps_id`` so they do not collide with the
    source's.
    """
    if reorder_frames <= 0:
        b = "bframes=0"
    elif reorder_frames == 1:
        b = "bframes=1:b-pyramid=none"
    else:
        b = "bframes=2:b-pyramid=normal"
    # One keyint for every edge keeps the SPS byte-identical (its frame_num size follows it).
    k = "infinite" if keyint is None else str(keyint)
    # A lookahead of 3 frames instead of veryfast's 10: an edge is at most a GOP, and at
    # 720p this holds ~20 MB fewer frames (the cutter's peak) and encodes ~15 % faster.
    # Two threads, not x264's 1.5 per core: on 2 cores the bench's wall and CPU time were
    # the same and the cutter's peak 10 MB lower (each frame thread holds its own frames).
    return (f"{b}:sps-id={sps_id}:scenecut=0:keyint={k}:open-gop=0:rc-lookahead=3"
            ":threads=2")


_PROFILES = {
    "baseline": "baseline", "constrained baseline": "baseline", "main": "main",
    "extended": "main", "high": "high", "high 10": "high10", "high 10 intra": "high10",
    "high 4:2:2": "high422", "high 4:2:2 intra": "high422",
    "high 4:4:4 predictive": "high444", "high 4:4:4 intra": "high444",
}


def x264_profile(name: str | None) -> str | None:
    """libx264's name for an FFmpeg H.264 profile name (``"High"`` -> ``"high"``)."""
    return _PROFILES.get((name or "").lower())


def x264_level(level: int | None) -> str | None:
    """libx264's level string for FFmpeg's ``level`` (``31`` -> ``"3.1"``, ``9`` -> ``"1b"``)."""
    if level is None or level <= 0:
        return None
    return "1b" if level == 9 else f"{level // 10}.{level % 10}"


def leading_pictures(pts: Sequence[int]) -> bool:
    """True when a GOP (its frames' PTS in decode order, the keyframe first) is open.

    Frames decoded after the keyframe but shown before it are leading pictures: an
    H.264 open-GOP I frame's B-frames, HEVC RASL pictures after a CRA. They reference
    the GOP before, so the GOP is not a safe entry point: it cannot be copied after a
    GOP that was not copied as it was, and it decodes only with the GOP before.
    """
    return bool(pts) and min(pts) < pts[0]


# --------------------------------------------------------------------------
# HEVC (libx265)
# --------------------------------------------------------------------------


def x265_params(reorder_frames: int, keyint: int | None = None) -> str:
    """libx265 ``x265-params`` for an edge encode (cf. :func:`x264_params`).

    Without B-pyramid every B-frame is decoded right after its anchor, one frame later
    than it is shown, so a reorder delay of one frame is all :func:`edge_dts` needs:
    B-frames whenever the source reorders at all. One IDR (``keyint`` None), no scene
    cuts, closed GOPs; VPS/SPS/PPS repeated in-band before the IDR (the MP4 is ``hev1``);
    no encoder-version SEI.
    """
    b = "bframes=0" if reorder_frames <= 0 else "bframes=2:b-pyramid=0:b-adapt=0"
    k = "-1" if keyint is None else str(keyint)
    # An edge is a dozen frames: the shortest lookahead x265 takes (one frame more than
    # the B-frames), in one slice, and no thread pool. x265's WPP pool threads wait on
    # each other row by row, so on a busy machine (2 cores, load 6) an edge of 13 frames
    # of 720p took 4-7 s with the pool (with frame-threads=1 too) and 1-2.4 s without,
    # at the same CPU time (~0.4 s); on a quiet one the pool saves ~0.1 s per edge.
    return (f"{b}:keyint={k}:min-keyint={1 if keyint is None else keyint}:scenecut=0"
            ":rc-lookahead=3:lookahead-slices=0:frame-threads=1:pools=none"
            ":open-gop=0:repeat-headers=1:info=0:log-level=error")


_X265_PROFILES = {"main": "main", "main 10": "main10", "main still picture": "mainstillpicture"}


def x265_profile(name: str | None) -> str | None:
    """libx265's name for an FFmpeg HEVC profile name (``"Main 10"`` -> ``"main10"``)."""
    return _X265_PROFILES.get((name or "").lower())


# The maximum bit rate (kbit/s, Main profile, H.265 Table A.9; the CPB sizes of Table A.8
# are the same numbers) of Main and High tier at the levels that have a High tier.
_HEVC_TIER_KBPS = {"4": (12_000, 30_000), "4.1": (20_000, 50_000), "5": (25_000, 100_000),
                   "5.1": (40_000, 160_000), "5.2": (60_000, 240_000), "6": (60_000, 240_000),
                   "6.1": (120_000, 480_000), "6.2": (240_000, 800_000)}


def x265_level_params(level: str | None, high_tier: bool | None) -> str:
    """``x265-params`` that make an edge signal the source's level and tier.

    x265 signals High tier only when its VBV rate exceeds Main tier's limit at the level,
    so a High-tier source's edges get High tier's own limits as their VBV (rate and
    buffer): a source within High tier is within them, so they do not bind its edges'
    average-bitrate encode (a cap below the bitrate would make x265 encode CBR at the
    cap). Main tier otherwise (and where the level has no High tier).
    """
    if not level:
        return ""
    limits = _HEVC_TIER_KBPS.get(level)
    if high_tier and limits is not None:
        high = limits[1]
        return f":level-idc={level}:high-tier=1:vbv-maxrate={high}:vbv-bufsize={high}"
    return f":level-idc={level}:high-tier=0"


def x265_level(level: int | None) -> str | None:
    """x265's ``level-idc`` for FFmpeg's HEVC ``level`` (general_level_idc, 30 x level:
    ``93`` -> ``"3.1"``, ``120`` -> ``"4"``)."""
    if level is None or level <= 0 or level % 3:
        return None
    major, minor = divmod(level // 3, 10)
    return f"{major}.{minor}" if minor else str(major)


def hevc_high_tier(annexb: bytes) -> bool | None:
    """The ``general_tier_flag`` of the first HEVC SPS in an Annex B byte string (None:
    no SPS there). It is bit 5 of the SPS's second payload byte, after the 2-byte NAL
    header and the byte of VPS id, sub-layer count and temporal nesting."""
    for unit in nal_units(annexb):
        if (unit[0] >> 1) & 0x3F == 33:
            rbsp = _rbsp(unit)
            return bool(rbsp[3] & 0x20) if len(rbsp) > 3 else None
    return None


def hevc_parameter_sets(annexb: bytes) -> bytes:
    """The VPS, SPS and PPS NAL units of an Annex B byte string, with start codes."""
    units = [u for u in nal_units(annexb) if (u[0] >> 1) & 0x3F in (32, 33, 34)]
    return b"".join(b"\x00\x00\x00\x01" + u for u in units)


# --------------------------------------------------------------------------
# H.264 parameter sets
# --------------------------------------------------------------------------


def h264_idr(annexb: bytes) -> bool:
    """True when an H.264 access unit holds IDR slices (NAL unit type 5)."""
    return any(u[0] & 0x1F == 5 for u in nal_units(annexb))


def cra_to_bla(annexb: bytes) -> bytes:
    """An HEVC access unit with its CRA slices (NAL type 21) made BLA_N_LP (type 18): the
    splice H.265 defines (8.1.3), a random-access point with a new picture order count
    whose leading pictures, if any were left, are not output."""
    data = bytearray(annexb)
    i = data.find(b"\x00\x00\x01")
    while 0 <= i < len(data) - 3:
        if (data[i + 3] >> 1) & 0x3F == 21:
            data[i + 3] = (data[i + 3] & 0x81) | (18 << 1)
        i = data.find(b"\x00\x00\x01", i + 3)
    return bytes(data)


def nal_units(annexb: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte string (start codes removed)."""
    out: list[bytes] = []
    i = annexb.find(b"\x00\x00\x01")
    while i >= 0:
        start = i + 3
        j = annexb.find(b"\x00\x00\x01", start)
        end = len(annexb) if j < 0 else j
        # A 4-byte start code leaves its leading zero on the previous unit.
        unit = annexb[start:end].rstrip(b"\x00") if j >= 0 else annexb[start:end]
        if unit:
            out.append(unit)
        i = j
    return out


def _rbsp(unit: bytes) -> bytes:
    """Drop emulation-prevention bytes (00 00 03 -> 00 00)."""
    return unit.replace(b"\x00\x00\x03", b"\x00\x00")


def _read_ue(data: bytes, bit: int) -> tuple[int, int]:
    """Read one unsigned exp-Golomb value at ``bit``; return it and the next bit position."""
    zeros = 0
    while (data[bit // 8] >> (7 - bit % 8)) & 1 == 0:
        zeros += 1
        bit += 1
    bit += 1
    value = 0
    for _ in range(zeros):
        value = (value << 1) | ((data[bit // 8] >> (7 - bit % 8)) & 1)
        bit += 1
    return (1 << zeros) - 1 + value, bit


def parameter_set_ids(annexb: bytes) -> tuple[frozenset[int], frozenset[int]]:
    """The SPS ids and PPS ids defined in an Annex B byte string (e.g. a stream's extradata)."""
    sps: set[int] = set()
    pps: set[int] = set()
    for unit in nal_units(annexb):
        kind = unit[0] & 0x1F
        try:
            if kind == 7 and len(unit) > 4:  # SPS: profile, constraints, level, then the id
                sps.add(_read_ue(_rbsp(unit[4:12]), 0)[0])
            elif kind == 8 and len(unit) > 1:
                pps.add(_read_ue(_rbsp(unit[1:9]), 0)[0])
        except IndexError:  # a truncated unit defines nothing usable
            continue
    return frozenset(sps), frozenset(pps)


def free_parameter_set_id(sps: Iterable[int], pps: Iterable[int]) -> int:
    """The lowest id in 1..31 used by neither an SPS nor a PPS (x264 gives its PPS the SPS id)."""
    used = set(sps) | set(pps)
    for candidate in range(1, 32):
        if candidate not in used:
            return candidate
    raise ValueError("every SPS id is in use")


# --------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------


@dataclass
class _Pending(Generic[T]):
    item: T
    start: int
    samples: int


class AudioCut(Generic[T]):
    """Decide which audio packets to copy and how to place them, to the sample.

    Positions are in samples of the stream's own clock (``pts * rate * time_base``).
    Packets are copied whole; the output's audio timeline starts at ``video_start``,
    so the first packet kept gets a negative timestamp and the MP4 muxer writes an
    edit list that skips exactly the samples before the first video frame. One packet
    before that is kept as decoder pre-roll (AAC needs the previous frame's overlap to
    reproduce the first samples). The last packet's duration is shortened so the
    track ends with the video.

    Timestamps that jitter by less than half a packet are snapped to a running count
    of samples (MPEG-TS rounds 1024/44100 s to 90 kHz ticks); a packet that starts
    more than half a packet before the previous one ended overlaps it (the audio a
    segment carries ahead of its video, after a splice) and is dropped.
    """

    def __init__(self) -> None:
        self._buffer: list[_Pending[T]] = []
        self._expected: int | None = None
        self._preroll: _Pending[T] | None = None
        self._opened = False  # the first packet inside the window has been seen
        self.start: int | None = None  # sample of the first video frame
        self.end: int | None = None
        self.dropped = 0

    def _place(self, start: int, samples: int) -> int | None:
        """The snapped start of a packet, or None if it overlaps audio already placed."""
        if self._expected is not None:
            if start < self._expected - samples // 2:
                self.dropped += 1
                return None
            if abs(start - self._expected) <= samples // 2:
                start = self._expected
        self._expected = start + samples
        return start

    def feed(self, item: T, start: int, samples: int) -> list[tuple[T, int, int]]:
        """Take one packet; return the packets now ready as ``(item, out_start, out_samples)``."""
        placed = self._place(start, samples)
        if placed is None:
            return []
        self._buffer.append(_Pending(item, placed, samples))
        return self._release()

    def set_start(self, video_start: int) -> list[tuple[T, int, int]]:
        """The first video frame is at sample ``video_start``; return packets now ready."""
        self.start = video_start
        return self._release()

    def _release(self) -> list[tuple[T, int, int]]:
        if self.start is None:
            # Keep only what might still be needed: the packets around the start. The
            # cutter decides on a GOP once the next one is complete (up to two 2 s GOPs
            # later), so this holds ~10 s of 48 kHz AAC.
            if len(self._buffer) > 512:
                del self._buffer[:-512]
            return []
        if self._opened:
            return []  # the tail waits for release_until/finish: the end is not known yet
        out: list[tuple[T, int, int]] = []
        keep: list[_Pending[T]] = []
        for p in self._buffer:
            if not self._opened:
                if p.start + p.samples <= self.start:
                    self._preroll = p  # before the window: the latest one is the pre-roll
                    continue
                self._opened = True
                pre = self._preroll
                if pre is not None and pre.start + pre.samples == p.start:
                    out.append((pre.item, pre.start - self.start, pre.samples))
            keep.append(p)
        self._buffer = keep
        return out

    def release_until(self, limit: int) -> list[tuple[T, int, int]]:
        """Packets that end at or before sample ``limit`` (the video is known to reach it)."""
        if self.start is None:
            return []
        ready = [p for p in self._buffer if p.start + p.samples <= limit]
        self._buffer = [p for p in self._buffer if p.start + p.samples > limit]
        return [(p.item, p.start - self.start, p.samples) for p in ready]

    def finish(self, video_end: int) -> list[tuple[T, int, int]]:
        """The video ends at sample ``video_end``: the remaining packets, the last one shortened."""
        if self.start is None:
            return []
        self.end = video_end
        out: list[tuple[T, int, int]] = []
        for p in self._buffer:
            if p.start >= video_end:
                break
            samples = min(p.samples, video_end - p.start)
            out.append((p.item, p.start - self.start, samples))
        self._buffer = []
        return out
