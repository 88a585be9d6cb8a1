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


def build_command(
    out_dir: Path,
    count: int,
    width: int,
    height: int,
    bitrate: str,
    executable: str | None = None,
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

    output_options: dict[str, object] = {
        # Video: H.264 High, fixed 1 s closed GOPs.  -g/-keyint_min pin the
        # interval, -sc_threshold 0 stops scene-cut IDRs, +cgop forbids open
        # GOPs (leading B-frames must not reference the previous segment), and
        # force_key_frames guarantees an IDR on every segment boundary.
        "vcodec": "libx264",
        "profile:v": "high",
        "preset": "veryfast",
        "pix_fmt": "yuv420p",
        "r": FPS,
        "g": GOP_FRAMES,
        "keyint_min": GOP_FRAMES,
        "sc_threshold": 0,
        "bf": 2,
        "flags": "+cgop",
        "force_key_frames": f"expr:eq(mod(n,{GOP_FRAMES}),0)",
        # Plain ABR, deliberately without -maxrate/-bufsize: x264's VBV with
        # frame threads makes output bytes vary run to run, and the committed
        # samples should regenerate bit-identically.
        "b:v": bitrate,
        # Audio: AAC-LC mono 48 kHz.
        "acodec": "aac",
        "ar": AUDIO_SAMPLE_RATE,
        "ac": 1,
        "b:a": AUDIO_BITRATE,
        # One continuous encode cut into MPEG-TS segments at the forced IDRs;
        # reset_timestamps 0 keeps timestamps running across segments like a
        # live archive.
        "f": "segment",
        "segment_time": SEGMENT_SECONDS,
        "segment_format": "mpegts",
        "reset_timestamps": 0,
    }
    stream = (
        ffmpeg.output(video, audio, str(out_dir / SEGMENT_PATTERN), **output_options)
        .global_args("-hide_banner", "-nostdin", "-loglevel", "error")
        .overwrite_output()
    )
    argv: list[str] = stream.compile(cmd=executable or ffmpeg_executable())
    return argv


def manifest_for(count: int, width: int, height: int) -> dict[str, object]:
    """Return the ``manifest.json`` content describing a sample set."""
    return {
        "fps": FPS,
        "segment_duration": float(SEGMENT_SECONDS),
        "frames_per_segment": FRAMES_PER_SEGMENT,
        "gop_frames": GOP_FRAMES,
        "segments": [SEGMENT_PATTERN % i for i in range(count)],
        "width": width,
        "height": height,
        "video_codec": "h264",
        "audio_codec": "aac",
        "audio_sample_rate": AUDIO_SAMPLE_RATE,
        "index_bits": INDEX_BITS,
    }


def make_samples(
    out_dir: Path,
    count: int = 10,
    width: int = 320,
    height: int = 180,
    bitrate: str = DEFAULT_BITRATE,
) -> Path:
    """Encode ``count`` 2-second segments plus ``manifest.json`` into ``out_dir`` and return it."""
    out_dir = Path(out_dir)
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if count * FRAMES_PER_SEGMENT > 2**INDEX_BITS:
        raise ValueError(f"count {count} overflows the {INDEX_BITS}-bit frame index")
    if width % 2 or height % 2:
        raise ValueError(f"yuv420p needs even dimensions, got {width}x{height}")
    if width < 2 * INDEX_BITS or height < STRIPE_ROWS:
        raise ValueError(f"{width}x{height} too small for the index stripe")

    out_dir.mkdir(parents=True, exist_ok=True)
    # Drop segments from an earlier, longer run so the directory matches the
    # manifest exactly.
    for stale in out_dir.glob("seg_*.ts"):
        stale.unlink()

    argv = build_command(out_dir, count, width, height, bitrate)
    log.info("ffmpeg argv: %s", shlex.join(argv))
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {proc.stderr.strip()}")

    manifest = manifest_for(count, width, height)
    produced = sorted(p.name for p in out_dir.glob("seg_*.ts"))
    if produced != manifest["segments"]:
        raise RuntimeError(f"expected segments {manifest['segments']}, ffmpeg wrote {produced}")
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        make_samples(args.out, args.count, args.width, args.height, args.bitrate)
    except (ValueError, RuntimeError) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
