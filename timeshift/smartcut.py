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
from collections import deque
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .cutplan import (
    AudioCut,
    CutWindow,
    edge_dts,
    first_frame,
    free_parameter_set_id,
    gop_action,
    nal_units,
    parameter_set_ids,
    x264_level,
    x264_params,
    x264_profile,
)
from .errors import CutError
from .remux import PipedProcess

__all__ = ["CutStats", "PipeCutter", "cut_stream", "exact_cut_supported"]

log = logging.getLogger(__name__)

# Speed over compression for the edges: they are at most two GOPs, and the bitrate is
# held at the source's, so a faster preset costs a little quality there, not size.
_PRESET = "veryfast"
# Backpressure: the downloader waits once this much is queued ahead of the cutter.
_PIPE_SIZE = 1 << 20


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


def exact_cut_supported(codec: str) -> bool:
    """True when the video codec can be cut exactly (H.264 with libx264 in this build of av)."""
    if codec != "h264":
        return False
    import av

    return "libx264" in av.codecs_available


class _Encoder:
    """One libx264 session: frames in (in presentation order), packets out with joined DTS."""

    def __init__(self, ctx: Any, reorder: int) -> None:
        self.ctx = ctx
        self.reorder = reorder
        self._fed: deque[int] = deque()  # PTS of frames fed, in order: sorted, for edge_dts
        self.packets = 0

    def encode(self, frame: Any) -> list[Any]:
        import av

        if frame is not None:
            self._fed.append(frame.pts)
            frame.pict_type = av.video.frame.PictureType.NONE  # let x264 place its own IDR
        out = []
        for pkt in self.ctx.encode(frame):
            try:
                pkt.dts = edge_dts(self._fed.popleft(), self.reorder, pkt.pts)
            except (ValueError, IndexError, TypeError) as exc:
                raise CutError(f"edge encode: {exc}") from exc
            out.append(pkt)
        self.packets += len(out)
        return out


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
        sps, pps = parameter_set_ids(source_ps)
        self.sps_id = free_parameter_set_id(sps, pps)
        self.profile = x264_profile(vctx.profile)
        self.level = x264_level(vctx.level)
        self.vout = out.add_stream_from_template(self.vin)
        self.vout.time_base = self.tb
        self.source_ps = source_ps
        self.edge_ps: bytes | None = None
        self.aout: Any = None
        self.arate = 1
        self.audio: AudioCut[Any] | None = None
        if self.ain is not None:
            self.aout = out.add_stream_from_template(self.ain)
            self.arate = self.ain.codec_context.sample_rate
            self.aout.time_base = Fraction(1, self.arate)
            self.audio = AudioCut()
        # ticks -> samples is ticks * tb * rate = ticks * _s_num / _s_den
        self._s_num = self.tb.numerator * self.arate
        self._s_den = self.tb.denominator
        self._atb = Fraction(1, self.arate)
        self.base: int | None = None  # PTS of the stream's first video packet
        self.first: int | None = None  # PTS of the first frame kept
        self.written_end: int | None = None  # end of the last frame written
        self.video_end: int | None = None  # end of the last frame the clip will hold, once known
        self.gop: list[Any] = []
        self.done = False
        self.encoder: _Encoder | None = None  # the reencode mode's one session
        self._gop_frames = 0  # frames in the first GOP kept: the reencode mode's keyint
        self._last_idr = b""

    # -- timestamps -------------------------------------------------------------------

    def _samples(self, ticks: int) -> int:
        # Integer arithmetic, rounding half up: this runs for every audio packet, and
        # Fraction arithmetic was a third of the cutter's CPU time.
        return int((2 * ticks * self._s_num + self._s_den) // (2 * self._s_den))

    # -- output -----------------------------------------------------------------------

    def _start_output(self, reorder: int) -> None:
        """Set the MP4 sample entry's parameter sets (source + edge) and write the header."""
        edge = self._probe_edge_parameter_sets(reorder)
        self.edge_ps = edge
        ps = edge if self.window.mode == "reencode" else self.source_ps + edge
        self.vout.codec_context.extradata = ps

    def _encoder_ctx(self, reorder_frames: int, bit_rate: int, *, global_header: bool) -> Any:
        vctx = self.vin.codec_context
        ctx = self.av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = vctx.width, vctx.height, vctx.pix_fmt
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
        options = {"preset": _PRESET,
                   "x264-params": x264_params(reorder_frames, self.sps_id, keyint)}
        if self.profile:
            options["profile"] = self.profile
        if self.level:
            options["level"] = self.level
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
        pkt.stream = self.vout
        pkt.time_base = self.tb
        pkt.pts, pkt.dts = pts - self.first, dts - self.first
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
                self._flush_gop()
            self.gop.append(pkt)
        elif self.audio is not None and pkt.stream is self.ain:
            if self.video_end is not None and pkt.pts >= self.video_end:
                return  # past the end of the clip: nothing more to decide
            samples = self._samples(pkt.duration) if pkt.duration else 1024
            self._mux_audio(self.audio.feed(pkt, self._samples(pkt.pts), samples))

    def _flush_gop(self) -> None:
        gop, self.gop = self.gop, []
        if self.done or self.base is None:
            return
        start = self.base + self.window.start
        end = self.base + self.window.end
        pts = [p.pts for p in gop]
        if self.first is None:
            first = first_frame(pts, start, self.frame)
            if first is None:
                return
            self.first = first
            self.stats.first_pts = first - self.base
            # The header (with the sample entry's parameter sets) goes out before any packet.
            self._gop_frames = len(gop)
            self._start_output(max(0, gop[0].pts - gop[0].dts))
            if self.audio is not None:
                self._mux_audio(self.audio.set_start(self._samples(first)))
        action = gop_action(pts, self.first, end)
        if action == "before":
            return
        if action == "after":
            self.done = True
            return
        reorder = max(0, gop[0].pts - gop[0].dts)
        if action == "copy" and self.window.mode != "reencode":
            for p in gop:
                self._mux_video(p, p.pts, p.dts)
            self.stats.gops_copied += 1
            self.stats.frames_copied += len(gop)
        else:
            self._encode_gop(gop, end, reorder)
        if max(pts) + self.frame >= end:
            self.done = True
            self.video_end = max(p for p in pts if p < end) + self.frame
        if self.audio is not None and self.written_end is not None:
            self._mux_audio(self.audio.release_until(self._samples(self.written_end)))

    def _encode_gop(self, gop: list[Any], end: int, reorder: int) -> None:
        assert self.first is not None
        lo = self.first
        seconds = len(gop) * self.frame * self.tb
        bit_rate = int(sum(p.size for p in gop) * 8 / seconds) if seconds else 1_000_000
        if self.window.mode == "reencode":
            if self.encoder is None:
                self.encoder = _Encoder(self._encoder_ctx(reorder // self.frame, bit_rate,
                                                          global_header=False), reorder)
            enc = self.encoder
        else:
            enc = _Encoder(self._encoder_ctx(reorder // self.frame, bit_rate,
                                             global_header=False), reorder)
        dec = self.av.CodecContext.create(self.vin.codec_context.name, "r")
        dec.thread_type = "AUTO"
        frames = 0

        def take(decoded: list[Any]) -> None:
            nonlocal frames
            for frame in decoded:
                if frame.pts is not None and lo <= frame.pts < end:
                    frames += 1
                    self._write_encoded(enc.encode(frame))

        for p in gop:
            take(dec.decode(p))
        take(dec.decode(None))
        if self.window.mode != "reencode":
            self._write_encoded(enc.encode(None))
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
            self._flush_gop()
        if self.encoder is not None:
            self._write_encoded(self.encoder.encode(None))
        if self.first is None or self.written_end is None:
            raise CutError("no video frame of the window reached the cutter")
        if self.audio is not None:
            self._mux_audio(self.audio.finish(self._samples(self.written_end)))
            self.stats.audio_dropped = self.audio.dropped
        self.stats.end_pts = self.written_end - (self.base or 0)
        return self.stats


def cut_stream(source: str, output: Path, window: CutWindow) -> CutStats:
    """Cut the MPEG-TS at ``source`` (a path, or ``pipe:FD``) into a faststart MP4 at ``output``.

    Raises:
        CutError: the stream cannot be cut (no video, nothing in the window, an FFmpeg error).
    """
    import av

    try:
        # Probing stops early: a pipe cannot seek back, and the first keyframe says enough.
        with av.open(source, "r", format="mpegts",
                     options={"probesize": "2000000", "analyzeduration": "2000000"}) as inp, \
                av.open(str(output), "w", format="mp4",
                        options={"movflags": "+faststart"}) as out:
            cut = _Cut(inp, out, window)
            streams = [s for s in (cut.vin, cut.ain) if s is not None]
            for pkt in inp.demux(streams):
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


    def _result(self, rc: int, out: bytes, err: str) -> CutStats:
        if rc != 0:
            lines = err.strip().splitlines()
            raise CutError(lines[-1] if lines else f"the cutter exited with {rc}")
        if err.strip():
            log.info("cutter: %s", err.strip())
        return CutStats(**json.loads(out))


def _main(argv: list[str]) -> int:
    """The child's side of :class:`PipeCutter`: ``OUTPUT START END MODE``, MPEG-TS on stdin."""
    output, start, end, mode = argv
    if mode not in ("exact", "reencode"):
        print(f"unknown cut mode {mode!r}", file=sys.stderr)
        return 2
    try:
        import fcntl

        # A bigger pipe means fewer, larger hand-overs from the downloader.
        fcntl.fcntl(0, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_SIZE)
    except (ImportError, OSError):
        pass
    window = CutWindow(int(start), int(end), mode)  # type: ignore[arg-type]
    try:
        stats = cut_stream("pipe:0", Path(output), window)
    except CutError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps(asdict(stats)))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
