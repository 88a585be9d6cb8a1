#!/usr/bin/env python3
"""Generate synthetic time-shift HLS sample segments with ffmpeg.

One continuous encode is cut into 2-second MPEG-TS segments, so timestamps run
on across segment boundaries exactly as in a live stream's archive:

* video: H.264 High, 25 fps CFR, IDR every 25 frames (closed GOPs), B-frames;
  a moving ``testsrc2`` picture with a 16-bit frame-index stripe on top that
  ``timeshift.sim.frameindex`` reads back after decoding;
* audio: AAC-LC 48 kHz mono, a continuous 440 Hz tone as long as the video.

The segment muxer cuts when the IDR packet arrives, and packets arrive in DTS
order.  With B-frames the IDR's DTS is two frames (80 ms) before its PTS, so
each segment's audio starts ~80 ms before its video: the first segment carries
~80 ms less audio than 2 s and the last ~80 ms more (plus AAC priming/padding).
Audio stays continuous across segments and in sync with the video; only the
cut point differs (ffmpeg's hls muxer cuts the same way).

Run ``python tools/make_samples.py`` to regenerate the committed ``samples/``;
tests and benchmarks import :func:`make_samples` to build variants in a temp dir.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import ffmpeg

log = logging.getLogger("make_samples")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "samples"

FPS = 25
SEGMENT_SECONDS = 2
FRAMES_PER_SEGMENT = FPS * SEGMENT_SECONDS
GOP_FRAMES = FPS  # one IDR per second -> two closed GOPs per segment
AUDIO_SAMPLE_RATE = 48000
AUDIO_BITRATE = "64k"
DEFAULT_BITRATE = "300k"

# These two must match timeshift/sim/frameindex.py (INDEX_BITS, STRIPE_ROWS).
# They are duplicated rather than imported so this script runs from a bare
# checkout without the package being importable.
INDEX_BITS = 16
STRIPE_ROWS = 16
# Limited-range luma levels for a 1 and a 0 bit: the extremes that survive the
# yuv420p pipeline unclipped, giving the widest margin around the 128 threshold.
LUMA_ONE = 235
LUMA_ZERO = 16

SEGMENT_PATTERN = "seg_%03d.ts"
FMP4_PATTERN = "seg_%03d.m4s"
INIT_NAME = "init.mp4"


def ffmpeg_executable() -> str:
    """Return the ffmpeg binary: the one on PATH, else imageio-ffmpeg's bundled build."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg  # only needed when no system ffmpeg exists

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _stripe_expr(bits: int) -> str:
    """Return the ``geq`` luma expression that draws frame number ``N`` as ``bits`` blocks."""
    # Block b covers floor(X*bits/W) == b; bit (bits-1-b) of N decides its level,
    # so the most significant bit is on the left.  bitand() keeps it integral.
    return f"if(bitand(floor(N/pow(2,{bits - 1}-floor(X*{bits}/W))),1),{LUMA_ONE},{LUMA_ZERO})"


def _video_options(codec: str, gop: int, open_gop: bool, bitrate: str,
                   level: str | None = None, high_tier: bool = False) -> dict[str, object]:
    """Encoder options: H.264 (libx264) or HEVC (libx265), fixed GOPs of ``gop`` frames.

    ``-g``/``-keyint_min`` (x265: keyint/min-keyint) pin the interval and scene cuts are
    off. Closed GOPs by default (+cgop; x265 open-gop=0, IDR at every keyframe); with
    ``open_gop`` the keyframes are x264 open-GOP I frames / x265 CRA pictures whose
    leading B-frames (RASL) reference the GOP before: not safe entry points for a cut.
    ``level`` (HEVC) signals that level, and ``high_tier`` (at level 4 or 4.1) its High
    tier.
    """
    if codec == "h264":
        options: dict[str, object] = {
            "vcodec": "libx264", "profile:v": "high", "preset": "veryfast",
            "g": gop, "keyint_min": gop, "sc_threshold": 0, "bf": 2,
        }
        # force_key_frames puts a keyframe on every segment boundary (an IDR, or with
        # open GOPs an I frame with a recovery point).
        options["force_key_frames"] = f"expr:eq(mod(n,{gop}),0)"
        if open_gop:
            # x264 repeats SPS/PPS only before IDRs: with open GOPs they go to the
            # global header and dump_extra writes them before every keyframe, so each
            # segment decodes alone, as a segmenter's output must.
            options.update({"x264-params": "open-gop=1", "flags": "+global_header",
                            "bsf:v": "dump_extra=freq=keyframe"})
        else:
            options["flags"] = "+cgop"
    elif codec == "hevc":
        # repeat-headers: VPS/SPS/PPS before every keyframe, so each segment decodes alone.
        # With open GOPs, 4 B-frames put each CRA inside a mini-GOP, so the B-frames
        # before it in display order are coded after it as RASL pictures (with 2 the
        # mini-GOPs happen to end on the keyframe and x265 writes no leading pictures).
        bframes = 4 if open_gop else 2
        params = (f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}:b-pyramid=0"
                  f":open-gop={1 if open_gop else 0}:repeat-headers=1:info=0:log-level=error")
        if level:
            params += f":level-idc={level}:high-tier={int(high_tier)}"
            if high_tier:
                # x265 signals High tier only when its VBV rate exceeds Main tier's limit
                # (12 and 20 Mbit/s at levels 4 and 4.1): High tier's own, never binding.
                rate = {"4": 30000, "4.1": 50000}[level]
                params += f":vbv-maxrate={rate}:vbv-bufsize={rate}"
        options = {"vcodec": "libx265", "profile:v": "main", "preset": "ultrafast",
                   "x265-params": params}
    else:
        raise ValueError(f"codec must be h264 or hevc, got {codec!r}")
    # Plain ABR, deliberately without -maxrate/-bufsize: x264's VBV with frame threads
    # makes output bytes vary run to run, and the committed samples should regenerate
    # bit-identically.
    options.update({"pix_fmt": "yuv420p", "r": FPS, "b:v": bitrate})
    return options


def build_command(
    out_dir: Path,
    count: int,
    width: int,
    height: int,
    bitrate: str,
    executable: str | None = None,
    *,
    codec: str = "h264",
    gop_frames: int = GOP_FRAMES,
    open_gop: bool = False,
    container: str = "ts",
    level: str | None = None,
    high_tier: bool = False,
) -> list[str]:
    """Build the ffmpeg argv (via ffmpeg-python) that writes ``count`` segments into ``out_dir``."""
    duration = count * SEGMENT_SECONDS
    picture = ffmpeg.input(
        f"testsrc2=size={width}x{height}:rate={FPS}:duration={duration}", f="lavfi"
    )
    # The stripe is generated as its own small picture and overlaid, so geq's
    # per-pixel expression runs on width x 16 pixels instead of the whole frame
    # (matters for the 720p benchmark variant).  Chroma is neutral so the
    # stripe stays pure gray and chroma subsampling cannot bleed colour into it.
    stripe = (
        ffmpeg.input(
            f"color=c=black:size={width}x{STRIPE_ROWS}:rate={FPS}:duration={duration}",
            f="lavfi",
        )
        .filter("format", "yuv420p")
        .filter("geq", lum=_stripe_expr(INDEX_BITS), cb="128", cr="128")
    )
    video = ffmpeg.overlay(picture, stripe, x=0, y=0).filter("format", "yuv420p")
    audio = ffmpeg.input(
        f"sine=frequency=440:sample_rate={AUDIO_SAMPLE_RATE}:duration={duration}",
        f="lavfi",
    )

    output_options = _video_options(codec, gop_frames, open_gop, bitrate, level, high_tier)
    # Audio: AAC-LC mono 48 kHz.
    output_options.update({"acodec": "aac", "ar": AUDIO_SAMPLE_RATE, "ac": 1,
                           "b:a": AUDIO_BITRATE})
    target = str(out_dir / SEGMENT_PATTERN)
    if container == "ts":
        # One continuous encode cut into MPEG-TS segments at the keyframes;
        # reset_timestamps 0 keeps timestamps running across segments like a
        # live archive.
        output_options.update({"f": "segment", "segment_time": SEGMENT_SECONDS,
                               "segment_format": "mpegts", "reset_timestamps": 0})
    elif container == "fmp4":
        # CMAF: ffmpeg's HLS muxer writing fMP4 fragments behind one init segment,
        # as ApsaraVideo Live's CMAF packaging does; tfdt runs on across segments.
        target = str(out_dir / "index.m3u8")
        output_options.update({
            "f": "hls", "hls_time": SEGMENT_SECONDS, "hls_list_size": 0,
            "hls_segment_type": "fmp4", "hls_fmp4_init_filename": INIT_NAME,
            "hls_segment_filename": str(out_dir / FMP4_PATTERN),
            "hls_playlist_type": "vod"})
        if codec == "hevc":
            output_options["tag:v"] = "hvc1"  # what Apple players (and the service) use
    else:
        raise ValueError(f"container must be ts or fmp4, got {container!r}")
    stream = (
        ffmpeg.output(video, audio, target, **output_options)
        .global_args("-hide_banner", "-nostdin", "-loglevel", "error")
        .overwrite_output()
    )
    argv: list[str] = stream.compile(cmd=executable or ffmpeg_executable())
    return argv


def manifest_for(count: int, width: int, height: int, *, codec: str = "h264",
                 gop_frames: int = GOP_FRAMES, open_gop: bool = False,
                 container: str = "ts") -> dict[str, object]:
    """Return the ``manifest.json`` content describing a sample set."""
    pattern = SEGMENT_PATTERN if container == "ts" else FMP4_PATTERN
    manifest: dict[str, object] = {
        "fps": FPS,
        "segment_duration": float(SEGMENT_SECONDS),
        "frames_per_segment": FRAMES_PER_SEGMENT,
        "gop_frames": gop_frames,
        "segments": [pattern % i for i in range(count)],
        "width": width,
        "height": height,
        "video_codec": codec,
        "audio_codec": "aac",
        "audio_sample_rate": AUDIO_SAMPLE_RATE,
        "index_bits": INDEX_BITS,
    }
    # Only where they differ from the committed set, so its manifest stays as it was.
    if open_gop:
        manifest["open_gop"] = True
    if container != "ts":
        manifest["container"] = container
        manifest["init"] = INIT_NAME
    return manifest


def _run(argv: list[str]) -> None:
    log.info("ffmpeg argv: %s", shlex.join(argv))
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {proc.stderr.strip()}")


def _top_boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """The top-level ISO BMFF boxes of ``data`` as (type, whole box) pairs."""
    boxes, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        if size < 8 or at + size > len(data):
            raise RuntimeError(f"malformed MP4 box at byte {at}")
        boxes.append((data[at + 4:at + 8], data[at:at + size]))
        at += size
    return boxes


def _open_gop_cmaf(out_dir: Path, count: int, width: int, height: int, bitrate: str, *,
                   codec: str, gop_frames: int) -> None:
    """Open-GOP CMAF: the MPEG-TS encode, fragmented by ffmpeg's mp4 muxer, split per segment.

    ffmpeg's HLS muxer gives some open-GOP keyframes the composition offset of another
    frame (measured on 4 segments: 2 pictures with x264, 3 with x265, shown at a time
    another picture already has), so the fragments are made the way a live packager makes
    them from the encoder's MPEG-TS: packets copied into one fragment per GOP (``frag_keyframe``,
    signed ``trun`` composition offsets, as CMAF has them for video), the fragments of
    each 2 s grouped into one ``.m4s`` behind ``init.mp4`` (``ftyp`` + ``moov``).
    """
    work = out_dir / ".ts-encode"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        _run(build_command(work, count, width, height, bitrate, codec=codec,
                           gop_frames=gop_frames, open_gop=True, container="ts"))
        joined = work / "all.ts"
        with joined.open("wb") as sink:
            for i in range(count):
                sink.write((work / (SEGMENT_PATTERN % i)).read_bytes())
        fragmented = work / "all.mp4"
        args = {"c": "copy", "bsf:a": "aac_adtstoasc", "f": "mp4",
                # delay_moov: the init segment is written once aac_adtstoasc has made
                # the AudioSpecificConfig (with empty_moov alone its esds has none).
                "movflags": "frag_keyframe+empty_moov+delay_moov+default_base_moof"
                            "+negative_cts_offsets"}
        if codec == "hevc":
            args["tag:v"] = "hvc1"
        _run(ffmpeg.input(str(joined)).output(str(fragmented), **args)
             .global_args("-hide_banner", "-nostdin", "-loglevel", "error")
             .overwrite_output().compile(cmd=ffmpeg_executable()))
        boxes = _top_boxes(fragmented.read_bytes())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    init = b"".join(box for kind, box in boxes if kind in (b"ftyp", b"moov"))
    pairs = [boxes[i][1] + boxes[i + 1][1] for i, (kind, _) in enumerate(boxes)
             if kind == b"moof" and i + 1 < len(boxes) and boxes[i + 1][0] == b"mdat"]
    per_segment = FRAMES_PER_SEGMENT // gop_frames
    if len(pairs) != count * per_segment:
        raise RuntimeError(f"expected {count * per_segment} fragments (one per GOP), "
                           f"the mp4 muxer wrote {len(pairs)}")
    (out_dir / INIT_NAME).write_bytes(init)
    for i in range(count):
        chunk = pairs[i * per_segment:(i + 1) * per_segment]
        (out_dir / (FMP4_PATTERN % i)).write_bytes(b"".join(chunk))


def make_samples(
    out_dir: Path,
    count: int = 10,
    width: int = 320,
    height: int = 180,
    bitrate: str = DEFAULT_BITRATE,
    *,
    codec: str = "h264",
    gop_frames: int = GOP_FRAMES,
    open_gop: bool = False,
    container: str = "ts",
    level: str | None = None,
    high_tier: bool = False,
) -> Path:
    """Encode ``count`` 2-second segments plus ``manifest.json`` into ``out_dir`` and return it.

    ``codec`` is ``h264`` or ``hevc``; ``gop_frames`` the keyframe interval (it must divide
    the 50 frames of a segment); ``open_gop`` makes open GOPs (x264 open-GOP I frames,
    x265 CRA with RASL pictures); ``container`` is ``ts`` (MPEG-TS segments) or ``fmp4``
    (CMAF: ``init.mp4`` and ``seg_NNN.m4s`` fragments); ``level`` and ``high_tier`` set
    the HEVC level and tier.
    """
    out_dir = Path(out_dir)
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if count * FRAMES_PER_SEGMENT > 2**INDEX_BITS:
        raise ValueError(f"count {count} overflows the {INDEX_BITS}-bit frame index")
    if width % 2 or height % 2:
        raise ValueError(f"yuv420p needs even dimensions, got {width}x{height}")
    if width < 2 * INDEX_BITS or height < STRIPE_ROWS:
        raise ValueError(f"{width}x{height} too small for the index stripe")
    if (level or high_tier) and (codec != "hevc" or (open_gop and container == "fmp4")):
        raise ValueError("level and tier are for HEVC sets (not open-GOP CMAF)")
    if high_tier and level not in ("4", "4.1"):
        raise ValueError("high_tier is made at level 4 or 4.1 only")
    if gop_frames < 1 or FRAMES_PER_SEGMENT % gop_frames:
        raise ValueError(f"gop_frames must divide {FRAMES_PER_SEGMENT}, got {gop_frames}")

    out_dir.mkdir(parents=True, exist_ok=True)
    # Drop segments from an earlier, longer run so the directory matches the
    # manifest exactly.
    for stale in [*out_dir.glob("seg_*.ts"), *out_dir.glob("seg_*.m4s"), *out_dir.glob("*.m3u8")]:
        stale.unlink()

    if container == "fmp4" and open_gop:
        _open_gop_cmaf(out_dir, count, width, height, bitrate, codec=codec,
                       gop_frames=gop_frames)
    else:
        _run(build_command(out_dir, count, width, height, bitrate, codec=codec,
                           gop_frames=gop_frames, open_gop=open_gop, container=container,
                           level=level, high_tier=high_tier))

    manifest = manifest_for(count, width, height, codec=codec, gop_frames=gop_frames,
                            open_gop=open_gop, container=container)
    if level:
        manifest.update(level=level, tier="high" if high_tier else "main")
    suffix = "ts" if container == "ts" else "m4s"
    produced = sorted(p.name for p in out_dir.glob(f"seg_*.{suffix}"))
    if produced != manifest["segments"]:
        raise RuntimeError(f"expected segments {manifest['segments']}, ffmpeg wrote {produced}")
    (out_dir / "index.m3u8").unlink(missing_ok=True)  # the origin writes its own playlists
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum((out_dir / name).stat().st_size for name in produced)
    log.info("wrote %d segments (%d bytes) to %s", count, total, out_dir)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--count", type=int, default=10, help="number of 2 s segments")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--bitrate", default=DEFAULT_BITRATE, help="video bitrate, e.g. 300k")
    parser.add_argument("--codec", choices=("h264", "hevc"), default="h264")
    parser.add_argument("--gop", type=int, default=GOP_FRAMES, help="frames per GOP")
    parser.add_argument("--open-gop", action="store_true", help="open GOPs (CRA + RASL)")
    parser.add_argument("--container", choices=("ts", "fmp4"), default="ts")
    parser.add_argument("--level", help="HEVC level to signal, e.g. 4.1")
    parser.add_argument("--high-tier", action="store_true", help="HEVC High tier (with --level)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        make_samples(args.out, args.count, args.width, args.height, args.bitrate,
                     codec=args.codec, gop_frames=args.gop, open_gop=args.open_gop,
                     container=args.container, level=args.level, high_tier=args.high_tier)
    except ValueError as exc:  # bad input: one line, exit 2, as the toolkit's CLI does
        log.error("%s", exc)
        return 2
    except RuntimeError as exc:  # ffmpeg failed
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
