"""Pure functions on MPEG-TS bytes: stream table, timestamps, keyframes, timestamp shifting.

Everything here works on ``bytes`` already in memory (an HLS segment is a few
hundred KB) and does no I/O.  Media fetched from CDNs is messy, so nothing
raises on malformed input: packets that are misaligned, lack the 0x47 sync byte
or carry impossible lengths are skipped and logged at debug level, and the
answer is built from whatever parses.

Only packets at offsets that are multiples of 188 are considered.  HLS segments
are always written that way; resynchronising inside a segment would let
:func:`shift_timestamps` and the analysis functions disagree about which packets
exist, which is worse than ignoring a damaged tail.

Timestamps are 33-bit 90 kHz counters that wrap every ~26.5 hours, so every
comparison and addition here is done modulo :data:`WRAP`.
"""

from __future__ import annotations

import logging

from .tspsi import (
    _MASK,
    _NO_PES_HEADER,
    _PACKET,
    _SYNC,
    _TS_HI,
    _TS_KEEP,
    _TS_LO,
    _TS_MID,
    PTS_CLOCK,
    WRAP,
    StreamInfo,
    _flagged,
    _payload_offset,
    _pes_starts,
    _pes_timestamps,
    _pid,
    _random_access,
    _signed,
    streams,
)

__all__ = [
    "PTS_CLOCK",
    "WRAP",
    "StreamInfo",
    "TimestampNormalizer",
    "first_timestamps",
    "keyframe_timestamps",
    "shift_timestamps",
    "start_timestamp",
    "streams",
    "video_timestamps",
]

log = logging.getLogger(__name__)
# --------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------


def first_timestamps(data: bytes) -> dict[int, int]:
    """Map each PID to the PTS of its first PES that carries one, in order of appearance."""
    result: dict[int, int] = {}
    for _, pid, _, pts, _ in _pes_starts(data):
        if pts is not None and pid not in result:
            result[pid] = pts
    return result


def video_timestamps(data: bytes) -> list[int]:
    """PTS of every PES of the first video stream that carries one, in stream order."""
    video = [s.pid for s in streams(data) if s.kind == "video"] or _av_pids(data)[0]
    return [pts for _, pid, _, pts, _ in _pes_starts(data)
            if pts is not None and video and pid == video[0]]


def _av_pids(data: bytes) -> tuple[list[int], list[int]]:
    """Video and audio PIDs per the PMT; without one, guessed from PES stream_ids."""
    infos = streams(data)
    if infos:
        return (
            [s.pid for s in infos if s.kind == "video"],
            [s.pid for s in infos if s.kind == "audio"],
        )
    # No PMT (a chunk from mid-stream): MPEG stream_id ranges are the best hint.
    video: list[int] = []
    audio: list[int] = []
    for _, pid, stream_id, _, _ in _pes_starts(data):
        if 0xE0 <= stream_id <= 0xEF and pid not in video:
            video.append(pid)
        elif 0xC0 <= stream_id <= 0xDF and pid not in audio:
            audio.append(pid)
    return video, audio


def _earliest(values: list[int]) -> int | None:
    """The earliest of 33-bit timestamps, treating them as points on a circle.

    A plain ``min`` would pick a post-wrap value (small) over a pre-wrap one
    (near 2**33) that is really earlier.  Values within half the circle of the
    first one are compared by their signed distance to it.
    """
    if not values:
        return None
    ref = values[0]
    return (ref + min(_signed(v - ref) for v in values)) & _MASK


def start_timestamp(data: bytes) -> int | None:
    """The segment's start: earliest first-PES PTS over its audio and video streams.

    This is what FFmpeg reports as ``start_time``.  Streams of other kinds
    (ID3, SCTE-35) are ignored because their timestamps need not be near the
    media's.  Returns None when no audio/video PES carries a PTS.
    """
    video, audio = _av_pids(data)
    firsts = first_timestamps(data)
    return _earliest([firsts[pid] for pid in video + audio if pid in firsts])


def _first_vcl_is_random_access(pes: bytes, codec: str) -> bool:
    """True if the first coded slice NAL in an Annex B access unit is IDR (H.264) / IRAP (HEVC)."""
    i = pes.find(b"\x00\x00\x01")
    while 0 <= i < len(pes) - 3:
        header = pes[i + 3]
        if codec == "hevc":
            nal_type = (header >> 1) & 0x3F
            if nal_type < 32:  # VCL range; the first slice decides
                return 16 <= nal_type <= 21
        else:
            nal_type = header & 0x1F
            if 1 <= nal_type <= 5:
                return nal_type == 5
        i = pes.find(b"\x00\x00\x01", i + 3)
    return False


def keyframe_timestamps(data: bytes) -> list[int]:
    """PTS of every random-access point of the first video stream, in stream order.

    The random_access_indicator that muxers set in the PES-starting packet is
    used when present.  If no packet of the stream has it (some encoders and
    CDN repackagers leave it clear), each PES payload is scanned for an H.264
    IDR or HEVC IRAP slice instead; other codecs then yield ``[]``.
    """
    infos = streams(data)
    video_infos = [s for s in infos if s.kind == "video"]
    if video_infos:
        pid, codec = video_infos[0].pid, video_infos[0].codec
    else:
        guessed, _ = _av_pids(data)
        if not guessed:
            return []
        pid, codec = guessed[0], ""

    flagged: list[int] = []
    any_flag = False
    for p, packet_pid, _, pts, _ in _pes_starts(data):
        if packet_pid != pid:
            continue
        if _random_access(data, p):
            any_flag = True
            if pts is not None:
                flagged.append(pts)
    if any_flag or codec not in ("h264", "hevc"):
        return flagged
    return _scan_keyframes(data, pid, codec)


def decode_timestamp(data: bytes, pts: int) -> int:
    """The DTS of the video PES presented at ``pts`` (its PTS when it carries no DTS).

    ffmpeg's stream copy starts an output at a packet's DTS, not its PTS, so a cut
    meant to begin on a keyframe has to be expressed in decode time.
    """
    video = [s.pid for s in streams(data) if s.kind == "video"] or _av_pids(data)[0]
    for _, pid, _, p, d in _pes_starts(data):
        if p == pts and (not video or pid == video[0]):
            return d if d is not None else p
    return pts


def _scan_keyframes(data: bytes, pid: int, codec: str) -> list[int]:
    """Keyframe PTS found by reassembling each PES of ``pid`` and inspecting its NAL units."""
    result: list[int] = []
    parts: list[bytes] = []
    pts: int | None = None

    def finish() -> None:
        if pts is not None and parts and _first_vcl_is_random_access(b"".join(parts), codec):
            result.append(pts)

    for i in range(len(data) // _PACKET):
        p = i * _PACKET
        if data[p] != _SYNC or _pid(data, p) != pid:
            continue
        pos = _payload_offset(data, p)
        if pos is None:
            continue
        if data[p + 1] & 0x40:
            finish()
            parts, pts = [], None
            parsed = _pes_timestamps(data, pos, p + _PACKET)
            if parsed is None:
                continue
            pts = parsed[1]
            header_end = pos + 9 + data[pos + 8]
            parts.append(data[header_end : p + _PACKET])
        elif pts is not None:
            parts.append(data[pos : p + _PACKET])
    finish()
    return result


# --------------------------------------------------------------------------
# Shifting
# --------------------------------------------------------------------------


def _shift_ts(pkt: bytearray, h: int, off: int) -> None:
    """Add ``off`` to the PTS/DTS at ``h`` in place, keeping prefix and marker bits."""
    raw = int.from_bytes(pkt[h : h + 5], "big")
    v = ((raw >> 3) & _TS_HI) | ((raw >> 2) & _TS_MID) | ((raw >> 1) & _TS_LO)
    v = (v + off) & _MASK
    raw = (raw & _TS_KEEP) | ((v & _TS_HI) << 3) | ((v & _TS_MID) << 2) | ((v & _TS_LO) << 1)
    pkt[h : h + 5] = raw.to_bytes(5, "big")


def _shift_pcr(pkt: bytearray, q: int, off: int) -> None:
    """Add ``off`` to the 33-bit base of the PCR at ``q``; the 27 MHz extension is kept."""
    raw = int.from_bytes(pkt[q : q + 6], "big")
    base = ((raw >> 15) + off) & _MASK
    pkt[q : q + 6] = ((base << 15) | (raw & 0x7FFF)).to_bytes(6, "big")


def _shift_packet(pkt: bytearray, off: int) -> None:
    """Shift the PCR/OPCR and PES PTS/DTS of one 188-byte packet in place."""
    b3 = pkt[3]
    pos = 4
    if b3 & 0x20:
        af_len = pkt[4]
        if af_len > 183:
            log.debug("adaptation field length %d too long; packet skipped", af_len)
            return
        pos = 5 + af_len
        if af_len:
            flags = pkt[5]
            q = 6
            if flags & 0x10:
                if q + 6 <= pos:
                    _shift_pcr(pkt, q, off)
                q += 6
            if flags & 0x08 and q + 6 <= pos:
                _shift_pcr(pkt, q, off)
    # A PES header can only begin in a packet with payload_unit_start and a payload.
    if not (pkt[1] & 0x40 and b3 & 0x10) or pos + 14 > _PACKET:
        return
    if pkt[pos : pos + 3] != b"\x00\x00\x01" or pkt[pos + 3] in _NO_PES_HEADER:
        return  # PSI (pointer_field + table) or a header-less PES
    if pkt[pos + 3] < 0xBC or pkt[pos + 6] & 0xC0 != 0x80:
        log.debug("PID %d: not an MPEG-2 PES header", _pid(pkt, 0))
        return
    pts_dts = pkt[pos + 7] >> 6
    header_len = pkt[pos + 8]
    h = pos + 9
    if pts_dts == 2 and header_len >= 5:
        _shift_ts(pkt, h, off)
    elif pts_dts == 3 and header_len >= 10 and h + 10 <= _PACKET:
        _shift_ts(pkt, h, off)
        _shift_ts(pkt, h + 5, off)
    elif pts_dts:
        log.debug("PID %d: PTS_DTS_flags %d, header length %d", _pid(pkt, 0), pts_dts, header_len)


def shift_timestamps(data: bytes, offset: int) -> bytes:
    """Return ``data`` with ``offset`` 90 kHz ticks (may be negative) added to each PTS, DTS, PCR.

    Additions are modulo 2**33, like the counters themselves.  The PCR base is
    shifted and its 27 MHz extension kept, so PCR stays consistent with PTS;
    an OPCR is shifted too since it counts on the same clock.  PSI packets and
    PES without an optional header are left alone, as are packets that are not
    188-byte aligned or lack the sync byte.  When ``offset`` is a multiple of
    2**33 the very same object is returned.
    """
    off = offset % WRAP
    if off == 0:
        return data
    # Only ~100 of a segment's packets carry timestamps.  Copying just those,
    # patching them and joining them with zero-copy views of the untouched
    # runs costs a single pass over the data; bytes(bytearray(data)) would be
    # two, and on large buffers the second one is ~30x slower (fresh pages).
    view = memoryview(data)
    parts: list[bytes | bytearray | memoryview] = []
    last = 0
    for p in _flagged(data, pcr=True):
        pkt = bytearray(view[p : p + _PACKET])
        _shift_packet(pkt, off)
        parts.append(view[last:p])
        parts.append(pkt)
        last = p + _PACKET
    parts.append(view[last:])
    return b"".join(parts)


# --------------------------------------------------------------------------
# Normalising a segment sequence
# --------------------------------------------------------------------------


def _anchor_timestamp(data: bytes) -> int | None:
    """First PTS of the first video stream that has one, else :func:`start_timestamp`."""
    video, audio = _av_pids(data)
    if video:
        # Stop at the first video PES: scanning the rest of the segment is wasted work
        # on the hot path (this runs once per segment of every clip).
        for _, pid, _, pts, _ in _pes_starts(data):
            if pid == video[0] and pts is not None:
                return pts
    firsts = first_timestamps(data)
    return _earliest([firsts[pid] for pid in audio if pid in firsts])


class TimestampNormalizer:
    """Rewrite a sequence of HLS segments onto one continuous, monotonic timeline.

    A running offset is added to every segment.  It starts at 0, so the first
    segment passes through untouched, and it only changes ("rebases") when a
    segment does not start where the previous one ended: on an explicit
    ``discontinuity`` (``#EXT-X-DISCONTINUITY``) or when the segment's start is
    more than ``threshold`` seconds off.  The new offset makes the segment
    start exactly at the previous start plus its EXTINF duration.  Between
    rebases the offset is constant, so EXTINF rounding (durations are often
    written with 3 decimals, or as integers) never introduces a jump.
    Segments without timestamps pass through unchanged; their EXTINF still
    counts towards where the next segment is expected.

    A segment's "start" here is the PTS of its first video PES, and only for
    segments without video :func:`start_timestamp`.  Segmenters cut at video
    keyframes and measure EXTINF between them, while the audio lead in front
    of the keyframe varies from segment to segment (by up to an AAC frame, and
    by a whole B-frame delay in a stream's first segment).  Anchoring on the
    earliest PTS would carry that jitter into the video at every rebase and
    can make its DTS run backwards by more than a frame; anchoring on video
    puts the video exactly where EXTINF says, and the audio within one frame.
    """

    def __init__(self, threshold: float = 1.0) -> None:
        self.threshold = threshold
        #: Ticks currently added to every timestamp, in ``[-2**32, 2**32)``.
        self.offset = 0
        #: How many times the offset was recomputed.
        self.rebases = 0
        self._prev_start: int | None = None  # output-timeline start of the previous segment
        self._prev_duration = 0.0  # its EXTINF, plus those of timestamp-less segments since
        self._pending_discontinuity = False

    def feed(self, data: bytes, duration: float, discontinuity: bool = False) -> bytes:
        """Return ``data`` shifted onto the continuous timeline; ``duration`` is its EXTINF."""
        return shift_timestamps(data, self.offset_for(data, duration, discontinuity))

    def offset_for(self, data: bytes, duration: float, discontinuity: bool = False) -> int:
        """The ticks :meth:`feed` would add to ``data``'s timestamps (0 for a segment
        without any), with the same bookkeeping, for a consumer that shifts the
        timestamps itself where it has them parsed (the exact cutter, per packet)."""
        start = _anchor_timestamp(data)
        if start is None:
            # Nothing to anchor on (a PSI-only or damaged segment): pass it
            # through.  It still occupies its EXTINF on the playlist timeline,
            # and a discontinuity it carried applies to the next real segment.
            log.debug("segment without timestamps passed through")
            if self._prev_start is not None:
                self._prev_duration += duration
            self._pending_discontinuity |= discontinuity
            return 0
        discontinuity |= self._pending_discontinuity
        self._pending_discontinuity = False
        if self._prev_start is not None:
            expected = (self._prev_start + round(self._prev_duration * PTS_CLOCK)) & _MASK
            drift = _signed(start + self.offset - expected)
            if discontinuity or abs(drift) > self.threshold * PTS_CLOCK:
                self.offset = _signed(expected - start)
                self.rebases += 1
                log.debug(
                    "rebase #%d: start %d was %+d ticks off, offset now %d",
                    self.rebases,
                    start,
                    drift,
                    self.offset,
                )
        self._prev_start = (start + self.offset) & _MASK
        self._prev_duration = duration
        return self.offset
