"""The frame-exact cut, run with PyAV (FFmpeg's libraries and libx264, from the ``av`` wheel).

An MPEG-TS stream (the clip's normalized segments, arriving through a pipe while later
ones download) is cut into an MP4 in one pass, GOP by GOP:

* a GOP wholly inside the window is stream-copied, packet for packet;
* a GOP the window cuts (at most one at each edge) is decoded and its wanted frames
  re-encoded with libx264 at the source's profile, level, size, pixel format, colour,
  time base, B-frame depth and bitrate; the encode's parameter sets take an id the
  source does not use and are added to the MP4's ``avcC`` next to the source's, so a
  player that reads parameter sets only from the sample entry decodes both parts;
* audio packets are copied, the first and last trimmed to the sample with an MP4 edit
  list (see :class:`timeshift.cutplan.AudioCut`).

What to do is decided in :mod:`timeshift.cutplan` (pure); this module moves packets
and frames. :class:`PipeCutter` runs the cut in a child process (``python -m
timeshift.smartcut``) that the clip pipeline feeds through stdin, with the same
``start/write/finish/abort`` shape as :class:`timeshift.remux.Remuxer`.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .cutpipe import READ_SIZE, FramedInput, frame_header, open_input
from .cutplan import (
    AudioCut,
    CutWindow,
    end_prefix_length,
    first_frame,
    free_parameter_set_id,
    gop_action,
    h264_idr,
    hevc_high_tier,
    hevc_parameter_sets,
    leading_pictures,
    nal_units,
    parameter_set_ids,
    x264_level,
    x264_params,
    x264_profile,
    x265_level,
    x265_level_params,
    x265_params,
    x265_profile,
)
from .edgecodec import Encoder, cra_to_bla_packet, decode_or_skip
from .errors import CutError
from .probe import exact_cut_supported, probe_media
from .remux import PipedProcess

__all__ = ["CutStats", "PipeCutter", "cut_stream", "exact_cut_supported"]

log = logging.getLogger(__name__)

# Speed over compression for the edges: they are at most two GOPs, and the bitrate is
# held at the source's, so a faster preset costs a little quality there, not size.
_PRESET = "veryfast"


@dataclass
class CutStats:
    """What the cut did: GOPs copied and re-encoded, frames, where it started and ended."""

    mode: str = "exact"
    gops_copied: int = 0
    gops_encoded: int = 0
    frames_copied: int = 0
    frames_encoded: int = 0
    audio_packets: int = 0
    audio_dropped: int = 0
    first_pts: int | None = None  # ticks from the stream's first video frame
    end_pts: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "gops_copied": self.gops_copied,
                "gops_encoded": self.gops_encoded, "frames_copied": self.frames_copied,
                "frames_encoded": self.frames_encoded, "audio_packets": self.audio_packets,
                "audio_dropped": self.audio_dropped, **({"notes": self.notes} if self.notes else {})}


class _Cut:
    """The cut of one input container into one output container (runs in a worker thread)."""

    def __init__(self, inp: Any, out: Any, window: CutWindow) -> None:
        import av

        self.av = av
        self.inp = inp
        self.out = out
        self.window = window
        self.stats = CutStats(mode=window.mode)
        if not inp.streams.video:
            raise CutError("the stream has no video to cut")
        self.vin = inp.streams.video[0]
        self.ain = inp.streams.audio[0] if inp.streams.audio else None
        self.tb: Fraction = self.vin.time_base
        vctx = self.vin.codec_context
        rate = self.vin.average_rate or self.vin.guessed_rate or Fraction(25)
        self.frame = max(1, round(1 / (rate * self.tb)))
        self.rate = rate
        source_ps = bytes(vctx.extradata or b"")
        self.hevc = vctx.name == "hevc"
        self.sps_id = 0
        self.high_tier: bool | None = None
        if self.hevc:
            self.profile = x265_profile(vctx.profile)
            self.level = x265_level(vctx.level)
            self.high_tier = hevc_high_tier(source_ps)  # or from the first GOP cut
        else:
            sps, pps = parameter_set_ids(source_ps)
            self.sps_id = free_parameter_set_id(sps, pps)
            self.profile = x264_profile(vctx.profile)
            self.level = x264_level(vctx.level)
        self.vout = out.add_stream_from_template(self.vin)
        self.vout.time_base = self.tb
        if self.hevc:
            # hev1: parameter sets in-band, before each IRAP (see _start_output).
            self.vout.codec_tag = "hev1"
        self.source_ps = source_ps
        self.edge_ps: bytes | None = None
        self.aout: Any = None
        self.arate = 1
        self.audio: AudioCut[Any] | None = None
        if self.ain is not None:
            self.aout = out.add_stream_from_template(self.ain)
            self.arate = self.ain.codec_context.sample_rate
            if not self.arate:
                raise CutError("the audio track gives no sample rate (its decoder "
                               "configuration is missing from the source)")
            self.aout.time_base = Fraction(1, self.arate)
            self.audio = AudioCut()
        # ticks -> samples is ticks * tb * rate = ticks * _s_num / _s_den
        self._s_num = self.tb.numerator * self.arate
        self._s_den = self.tb.denominator
        self._atb = Fraction(1, self.arate)
        self.base: int | None = None  # PTS of the stream's first video packet
        self.first: int | None = None  # PTS of the first frame kept
        self.written_end: int | None = None  # end of the last frame written
        self.last_dts: int | None = None  # DTS of the last video packet written
        self.first_dts: int | None = None  # DTS of the first
        self.video_end: int | None = None  # end of the last frame the clip will hold, once known
        self.gop: list[Any] = []
        self.pending: list[Any] | None = None  # a complete GOP waiting for its successor
        self.prev_gop: list[Any] = []  # the GOP before: what an open GOP's leading pictures need
        self.prev_state = "none"  # ...and how it went out: none, copied or encoded
        self.taken: set[int] = set()  # PTS of leading pictures encoded with the GOP before
        self.shape: tuple[int, int, Any] = (0, 0, None)  # width, height, pix_fmt
        self.done = False
        self.encoder: Encoder | None = None  # the reencode mode's one session
        self._gop_frames = 0  # frames in the first GOP kept: the reencode mode's keyint
        self._last_idr = b""

    # -- timestamps -------------------------------------------------------------------

    def _samples(self, ticks: int) -> int:
        # Integer arithmetic, rounding half up: this runs for every audio packet, and
        # Fraction arithmetic was a third of the cutter's CPU time.
        return int((2 * ticks * self._s_num + self._s_den) // (2 * self._s_den))

    # -- output -----------------------------------------------------------------------

    def _start_output(self, reorder: int) -> None:
        """Set the MP4 sample entry's parameter sets (source + edge) and write the header.

        HEVC: the sample entry is ``hev1``, whose parameter sets may (and here do) come
        in-band: x265 cannot be given a parameter-set id of its own, so the edge's VPS/SPS/
        PPS reuse the source's ids 0, and an ``hvc1`` entry (sets in ``hvcC`` only) could not
        hold both. Each IRAP, copied or re-encoded, carries its own sets just before it,
        which re-activate them; ``hvcC`` holds those of the first picture (set when it is
        muxed, in :meth:`_mux_video`).
        """
        if self.hevc:
            return
        edge = self._probe_edge_parameter_sets(reorder)
        self.edge_ps = edge
        ps = edge if self.window.mode == "reencode" else self.source_ps + edge
        self.vout.codec_context.extradata = ps

    def _encoder_ctx(self, reorder_frames: int, bit_rate: int, *, global_header: bool) -> Any:
        vctx = self.vin.codec_context
        ctx = self.av.CodecContext.create("libx265" if self.hevc else "libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = self.shape
        ctx.time_base = self.tb
        ctx.framerate = self.rate
        if vctx.sample_aspect_ratio:
            ctx.sample_aspect_ratio = vctx.sample_aspect_ratio
        for attr in ("color_range", "colorspace", "color_primaries", "color_trc"):
            try:
                setattr(ctx, attr, getattr(vctx, attr))
            except (AttributeError, TypeError, ValueError):
                pass  # unknown to this PyAV: x264 writes its defaults
        ctx.bit_rate = bit_rate
        keyint = None if self.window.mode == "exact" else self._gop_frames
        if self.hevc:
            params = x265_params(reorder_frames, keyint) + x265_level_params(
                self.level, self.high_tier)
            # x265 is several times slower than x264 at a given preset; the edges are
            # held at the source's bitrate, so the fastest preset costs quality, not size.
            options = {"preset": "ultrafast", "x265-params": params}
        else:
            options = {"preset": _PRESET,
                       "x264-params": x264_params(reorder_frames, self.sps_id, keyint)}
            if self.level:
                options["level"] = self.level
        if self.profile:
            options["profile"] = self.profile
        ctx.options = options
        if global_header:
            ctx.flags |= self.av.codec.context.Flags.global_header
        ctx.thread_type = "AUTO"
        ctx.open()
        return ctx

    def _probe_edge_parameter_sets(self, reorder: int) -> bytes:
        """The SPS/PPS the edge encoder will write, from a session opened with the same settings."""
        ctx = self._encoder_ctx(reorder // self.frame, 1_000_000, global_header=True)
        data = bytes(ctx.extradata or b"")
        units = [u for u in nal_units(data) if u[0] & 0x1F in (7, 8)]
        return b"".join(b"\x00\x00\x00\x01" + u for u in units)

    def _mux_video(self, pkt: Any, pts: int, dts: int) -> None:
        assert self.first is not None
        if self.first_dts is None:
            self.first_dts = dts
        if self.hevc and self.written_end is None:
            # The first picture's in-band parameter sets go into hvcC (before the header).
            self.vout.codec_context.extradata = hevc_parameter_sets(bytes(pkt)) or self.source_ps
        pkt.stream = self.vout
        pkt.time_base = self.tb
        pkt.pts, pkt.dts = pts - self.first, dts - self.first
        self.last_dts = dts
        end = pts + (pkt.duration or self.frame)
        self.written_end = end if self.written_end is None else max(self.written_end, end)
        self.out.mux(pkt)

    def _mux_audio(self, ready: list[tuple[Any, int, int]]) -> None:
        for pkt, start, samples in ready:
            pkt.stream = self.aout
            pkt.time_base = self._atb
            pkt.pts = pkt.dts = start
            pkt.duration = samples
            self.out.mux(pkt)
            self.stats.audio_packets += 1

    # -- video ------------------------------------------------------------------------

    def feed(self, pkt: Any) -> None:
        if pkt.pts is None or pkt.dts is None:
            return  # an empty flush packet, or a frame the demuxer could not time
        if pkt.stream is self.vin:
            if self.base is None:
                self.base = pkt.pts
            if self.done:
                return
            if pkt.is_keyframe and self.gop:
                self._push_gop()
            self.gop.append(pkt)
        elif self.audio is not None and pkt.stream is self.ain:
            if self.video_end is not None and pkt.pts >= self.video_end:
                return  # past the end of the clip: nothing more to decide
            samples = self._samples(pkt.duration) if pkt.duration else 1024
            self._mux_audio(self.audio.feed(pkt, self._samples(pkt.pts), samples))

    def _push_gop(self) -> None:
        """A GOP is complete: cut the one before it, now that its successor is known
        (an open successor's leading pictures are shown before it ends)."""
        gop, self.gop = self.gop, []
        if self.pending is not None:
            self._cut_gop(self.pending, gop)
        self.pending = gop

    def _cut_gop(self, gop: list[Any], nxt: list[Any]) -> None:
        if self.done or self.base is None:
            return
        start = self.base + self.window.start
        end = self.base + self.window.end
        pts = [p.pts for p in gop]
        if self.first is None:
            first = first_frame(pts, start, self.frame)
            if first is None:
                self.prev_gop = gop  # the context an open successor decodes from
                return
            self.first = first
            self.stats.first_pts = first - self.base
            # The header (with the sample entry's parameter sets) goes out before any packet.
            self._gop_frames = len(gop)
            self._learn_format(gop)
            self._start_output(max(0, gop[0].pts - gop[0].dts))
            if self.audio is not None:
                self._mux_audio(self.audio.set_start(self._samples(first)))
        action = gop_action(pts, self.first, end)
        context, before = self.prev_gop, self.prev_state
        taken, self.taken = self.taken, set()
        self.prev_gop, self.prev_state = gop, "none"
        if action == "before":
            return
        if action == "after":
            self.done = True
            return
        reorder = max(0, gop[0].pts - gop[0].dts)
        opened = leading_pictures(pts)
        if action == "copy" and not self._copyable(gop[0], opened, before):
            action = "encode"
        if action == "copy" and self.window.mode != "reencode":
            # Leading pictures already re-encoded with the GOP before are left out: nothing
            # but other leading pictures references them.
            self._copy([p for p in gop if p.pts not in taken], before)
            self.stats.gops_copied += 1
            self.prev_state = "copied"
        else:
            # HEVC: an open successor's leading pictures are re-encoded with this GOP, so
            # the successor itself can be copied.
            lead = [p for p in nxt if p is nxt[0] or p.pts < nxt[0].pts] if self.hevc and (
                leading_pictures([p.pts for p in nxt])) else []
            wanted = {p.pts for p in gop} - taken
            wanted |= {p.pts for p in lead if p.pts < end and p is not nxt[0]}
            context = context if opened else []
            prefix = self._end_prefix(gop, end, wanted, opened, before)
            if prefix:
                wanted -= {p.pts for p in prefix}  # (muxing rebases the packets' times)
                self._copy(prefix, before)
                self.prev_state = "copied"
                lead = []
            if not prefix or any(self.first <= t < end for t in wanted):
                self._encode_gop(gop, end, reorder, context, lead, wanted,
                                 nxt[0].dts if nxt else None)
                self.prev_state = "encoded"
            # The successor's leading pictures went out with this encode.
            self.taken = {p.pts for p in lead if p is not nxt[0] and self.first <= p.pts < end}
        if max(pts) + self.frame >= end:
            self.done = True
            self.video_end = max(p for p in pts if p < end) + self.frame
        if self.audio is not None and self.written_end is not None:
            self._mux_audio(self.audio.release_until(self._samples(self.written_end)))

    def _copy(self, kept: list[Any], before: str) -> None:
        """Copy packets as they are (a GOP, or an end edge's prefix)."""
        if self.hevc and before == "encoded":
            # After re-encoded pictures (and without the RASL pictures they took) a CRA
            # is spliced as a BLA (H.265 8.1.3), which starts a new picture order count.
            kept[0] = cra_to_bla_packet(kept[0])
        for p in kept:
            self._mux_video(p, p.pts, p.dts)
        self.stats.frames_copied += len(kept)

    def _end_prefix(self, gop: list[Any], end: int, wanted: set[int], opened: bool,
                    before: str) -> list[Any]:
        """The packets of an end edge that are copied instead of re-encoded (see
        :func:`timeshift.cutplan.end_prefix_length`): none when the GOP starts before
        the clip, could not be copied whole here, or the next GOP's leading pictures
        are wanted with it."""
        if (self.window.mode != "exact" or self.first is None
                or min(p.pts for p in gop) < self.first
                or wanted - {p.pts for p in gop}
                or not self._copyable(gop[0], opened, before)):
            return []
        kept = [p for p in gop if p.pts in wanted]
        shown = [t for t in wanted if t < end]
        if not shown:
            return []  # (its pictures before the end went out with the GOP before)
        first_dts = kept[0].dts if self.first_dts is None else self.first_dts
        limit = first_dts + max(shown) + self.frame - self.first
        n = end_prefix_length([p.pts for p in kept], [p.dts for p in kept], end, self.frame,
                              limit)
        return kept[:n]

    def _copyable(self, key: Any, opened: bool, before: str) -> bool:
        """Whether a GOP whose frames are all in the window can be copied as it is: after
        a GOP copied as it was, always. HEVC: unless it is open and nothing of the GOP
        before went out (after a re-encode its RASL pictures went out with it). H.264
        has no BLA: a keyframe that is no IDR (open-GOP or recovery-point I frame) keeps
        the picture order count and frame_num of what was before it, so after re-encoded
        pictures, or at the clip's start (its memory-management operations name pictures
        not there), its GOP is re-encoded (decoded from the GOP before when open)."""
        if before == "copied":
            return True
        return (not opened or before == "encoded") if self.hevc else h264_idr(bytes(key))

    def _dts_shift(self, first: int, last: int, reorder: int, next_dts: int | None) -> int:
        """How far the re-encoded frames' DTS run behind their PTS (see :func:`timeshift.cutplan.edge_dts`).

        After a packet already written the grid continues from it: with an open GOP the
        first frame re-encoded (a leading picture) is shown before the keyframe the
        source's reorder depth is measured from. At the start, the source's depth, or
        more where the encode must end before the next GOP's keyframe is decoded (open-
        GOP encoders vary the depth from GOP to GOP).
        """
        if self.last_dts is not None:
            return int(first - self.last_dts - self.frame)
        if next_dts is not None:
            return int(max(reorder, last + self.frame - next_dts))
        return reorder

    def _learn_format(self, gop: list[Any]) -> None:
        """Size and pixel format from a decoded frame where the demuxer's probe left them
        unset (a stream that opens on an open-GOP I frame)."""
        vctx = self.vin.codec_context
        self.shape = (vctx.width, vctx.height, vctx.pix_fmt)
        if self.hevc and self.high_tier is None and gop:
            self.high_tier = hevc_high_tier(bytes(gop[0]))  # in-band parameter sets
        if vctx.pix_fmt and vctx.width:
            return
        dec = self.av.CodecContext.create(vctx.name, "r")
        for p in [*gop, None]:
            for frame in decode_or_skip(dec, p):
                self.shape = (frame.width, frame.height, frame.format.name)
                return

    def _encode_gop(self, gop: list[Any], end: int, reorder: int, context: list[Any],
                    lead: list[Any], wanted: set[int], next_dts: int | None) -> None:
        """Decode ``context`` (the GOP before, for an open GOP), ``gop`` and ``lead`` (the
        next GOP's keyframe and leading pictures, for an open successor) and re-encode the
        ``wanted`` frames that fall in the window."""
        assert self.first is not None
        lo = self.first
        seconds = len(gop) * self.frame * self.tb
        bit_rate = int(sum(p.size for p in gop) * 8 / seconds) if seconds else 1_000_000
        kept = [t for t in wanted if lo <= t < end]
        if not kept:
            return
        if self.encoder is None:
            reorder = self._dts_shift(min(kept), max(kept), reorder, next_dts)
        if self.window.mode == "reencode":
            if self.encoder is None:
                self.encoder = Encoder(self._encoder_ctx(reorder // self.frame, bit_rate,
                                                          global_header=False), reorder)
            enc = self.encoder
        else:
            enc = Encoder(self._encoder_ctx(reorder // self.frame, bit_rate,
                                             global_header=False), reorder)
        dec = self.av.CodecContext.create(self.vin.codec_context.name, "r")
        dec.thread_type = "AUTO"
        frames = 0

        def take(decoded: list[Any]) -> None:
            nonlocal frames
            for frame in decoded:
                if frame.pts is not None and frame.pts in wanted and lo <= frame.pts < end:
                    frames += 1
                    self._write_encoded(enc.encode(frame))

        for p in context:
            decode_or_skip(dec, p)
        for p in [*gop, *lead]:
            take(decode_or_skip(dec, p))
            if frames == len(kept):
                break  # an end edge: the rest of the GOP is not shown in the clip
        else:
            take(decode_or_skip(dec, None))
        if self.window.mode != "reencode":
            self._write_encoded(enc.encode(None))
            if not self.hevc:
                self._check_parameter_sets()
        self.stats.gops_encoded += 1
        self.stats.frames_encoded += frames

    def _write_encoded(self, packets: list[Any]) -> None:
        for pkt in packets:
            if self.edge_ps is not None and pkt.is_keyframe:
                self._last_idr = bytes(pkt)
            self._mux_video(pkt, pkt.pts, pkt.dts)

    def _check_parameter_sets(self) -> None:
        """Warn if the edge's in-band SPS/PPS differ from those put in the sample entry."""
        idr = self._last_idr
        inband = {u for u in nal_units(idr) if u[0] & 0x1F in (7, 8)}
        declared = set(nal_units(self.edge_ps or b""))
        if inband and not inband <= declared:
            note = "edge encode's parameter sets differ from the sample entry's (kept in-band)"
            if note not in self.stats.notes:
                self.stats.notes.append(note)
                log.warning(note)

    def finish(self) -> CutStats:
        if self.gop:
            self._push_gop()
        if self.pending is not None:
            self._cut_gop(self.pending, [])
            self.pending = None
        if self.encoder is not None:
            self._write_encoded(self.encoder.encode(None))
        if self.first is None or self.written_end is None:
            raise CutError("no video frame of the window reached the cutter")
        if self.audio is not None:
            self._mux_audio(self.audio.finish(self._samples(self.written_end)))
            self.stats.audio_dropped = self.audio.dropped
        self.stats.end_pts = self.written_end - (self.base or 0)
        return self.stats


def cut_stream(source: str | FramedInput, output: Path, window: CutWindow) -> CutStats:
    """Cut the MPEG-TS at ``source`` (a path, ``pipe:FD``, or the parent's framed segments)
    into a faststart MP4 at ``output``.

    Raises:
        CutError: the stream cannot be cut (no video, nothing in the window, an FFmpeg error).
    """
    import av

    framed = source if isinstance(source, FramedInput) else None
    try:
        # Probing stops early: a pipe cannot seek back, and the first keyframe says enough.
        with av.open(source, "r", format="mpegts", buffer_size=READ_SIZE,
                     options={"probesize": "2000000", "analyzeduration": "2000000"}) as inp, \
                av.open(str(output), "w", format="mp4",
                        options={"movflags": "+faststart"}) as out:
            cut = _Cut(inp, out, window)
            streams = [s for s in (cut.vin, cut.ain) if s is not None]
            for pkt in inp.demux(streams):
                if framed is not None:
                    framed.retime(pkt)
                cut.feed(pkt)
            return cut.finish()
    except av.FFmpegError as exc:
        raise CutError(f"FFmpeg: {exc}") from exc


class PipeCutter(PipedProcess):
    """:func:`cut_stream` in a child Python process, fed MPEG-TS bytes through its stdin.

    A child process rather than a thread, like ffmpeg for the keyframe cut: the cut's
    per-packet work then runs beside the downloads on another core instead of taking
    turns with them under one GIL (that made the cut 1.3x slower than the keyframe
    cut; as a child it costs little more). ``await write(data)`` waits while the pipe
    is full, so memory stays bounded and downloads overlap the cut; ``await finish()``
    ends the input and returns the :class:`CutStats`; ``await abort()`` stops the child.
    """

    def __init__(self, output: Path, window: CutWindow) -> None:
        self.output = output
        self.window = window
        super().__init__([sys.executable, "-m", "timeshift.smartcut", str(output),
                          str(window.start), str(window.end), window.mode],
                         capture_stdout=True)

    async def write(self, data: bytes, offset: int = 0) -> None:
        """Send one segment, and the ticks to add to its timestamps (see :mod:`.cutpipe`)."""
        await super().write(frame_header(len(data), offset))
        await super().write(data)

    #: The child's probe of the MP4 it wrote (:func:`timeshift.probe.probe_media`), or None.
    media: dict[str, Any] | None = None

    async def finish(self) -> CutStats:
        stats: CutStats = await super().finish()
        return stats

    def _result(self, rc: int, out: bytes, err: str) -> CutStats:
        if rc != 0:
            lines = err.strip().splitlines()
            raise CutError(lines[-1] if lines else f"the cutter exited with {rc}")
        if err.strip():
            log.info("cutter: %s", err.strip())
        result = json.loads(out)
        self.media = result["media"]
        return CutStats(**result["stats"])


def _main(argv: list[str]) -> int:
    """The child's side of :class:`PipeCutter`: ``OUTPUT START END MODE``, MPEG-TS on stdin."""
    output, start, end, mode = argv
    if mode not in ("exact", "reencode"):
        print(f"unknown cut mode {mode!r}", file=sys.stderr)
        return 2
    window = CutWindow(int(start), int(end), mode)  # type: ignore[arg-type]
    import gc

    gc.freeze()  # what the imports made lives to the end: collections need not scan it (~4 %)
    try:
        stats = cut_stream(open_input(0), Path(output), window)
    except CutError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    import av

    try:  # the clip's verification reads this probe: PyAV is loaded here already
        media = probe_media(Path(output))
    except (av.FFmpegError, OSError, ValueError) as exc:  # the clip then probes it itself
        print(f"probe failed, left to the clip: {exc}", file=sys.stderr)
        media = None
    print(json.dumps({"stats": asdict(stats), "media": media}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
